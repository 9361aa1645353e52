"""Training under ``torchrun``: two CPU processes (gloo) on a tiny synthetic set against one process.

The model (``linear`` in tests/ddp_script.py) has no BatchNorm and no dropout and the runs use no
augmentation, so two processes that each take half of every global batch of 12 must end with the weights
of one process taking all of it: they may differ only by the order in which floats are summed
(``PARITY_TOLERANCE``). Three ``torchrun`` launches, ~40 s: deselect with ``-m "not distributed"``.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from realtime_fer.cli import main
from tests.conftest import synthetic_faces, write_kaggle_tree

pytestmark = pytest.mark.distributed
SCRIPT = Path(__file__).with_name("ddp_script.py")
PARITY_TOLERANCE = 1e-5  # largest |weight difference| after 2 epochs; history values: 1e-5 relative
STEPS = 2 * 84 // 12  # 2 epochs of 84 faces in global batches of 12


def torchrun(args: list[str], step_log: Path | None = None) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 tests/ddp_script.py ARGS``, one thread a process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if step_log:
        step_log.mkdir()
        env["STEP_LOG"] = str(step_log)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += [str(SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def completed(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def history(run: Path) -> list[dict]:
    return list(csv.DictReader((run / "history.csv").read_text().splitlines()))


def artifacts(run: Path) -> list[str]:
    return sorted(str(path.relative_to(run)) for path in run.rglob("*"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess | None]]:
    """The same 2-epoch training run: in one process, under torchrun, and under torchrun stopped after
    epoch 1 and resumed."""
    import tests.ddp_script  # noqa: F401  (registers the linear model in this process too)

    base = tmp_path_factory.mktemp("ddp")
    root = write_kaggle_tree(base / "fer", synthetic_faces({"train": 12, "public": 4}))
    args = ["train", "--data", str(root), "--arch", "linear", "--train-precision", "fp32", "--seed", "5"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REALTIME_FER_CACHE", str(base / "cache"))
        assert main([*args, "--out", str(base / "one")]) == 0
        two = completed(torchrun([*args, "--out", str(base / "two")], base / "steps-two"))
        completed(torchrun([*args, "--out", str(base / "resumed"), "--epochs", "1"]))
        resume = [*args, "--out", str(base / "resumed"), "--resume"]
        resumed = completed(torchrun(resume, base / "steps-resumed"))
    return {"one": (base / "one", None), "two": (base / "two", two), "resumed": (base / "resumed", resumed)}


def test_both_processes_step_and_match_one_process(runs):
    (one, _), (two, launched) = runs["one"], runs["two"]
    steps = {path.name: int(path.read_text()) for path in (two.parent / "steps-two").iterdir()}
    assert steps == {"rank0": STEPS, "rank1": STEPS}
    expected, got = torch.load(one / "weights.pt"), torch.load(two / "weights.pt")
    assert max((expected[k] - got[k]).abs().max().item() for k in expected) <= PARITY_TOLERANCE
    for row_one, row_two in zip(history(one), history(two), strict=True):
        for field in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
            close = pytest.approx(float(row_one[field]), rel=1e-5, abs=2e-5)
            assert float(row_two[field]) == close, field
    assert launched.stdout.count("epoch 2/2:") == 1  # only rank 0 prints


def test_only_rank_0_writes_one_set_of_artifacts(runs):
    (one, _), (two, _) = runs["one"], runs["two"]
    assert artifacts(two) == artifacts(one)
    assert "checkpoints/last.pt" in artifacts(two)


def test_a_distributed_run_resumes_where_it_stopped(runs):
    (two, _), (resumed, launched) = runs["two"], runs["resumed"]
    assert "resuming after epoch 1" in launched.stdout
    steps = {path.name: int(path.read_text()) for path in (resumed.parent / "steps-resumed").iterdir()}
    assert steps == {"rank0": STEPS // 2, "rank1": STEPS // 2}  # epoch 2 only
    expected, got = torch.load(two / "weights.pt"), torch.load(resumed / "weights.pt")
    assert all(torch.equal(expected[k], got[k]) for k in expected)  # as if never stopped
    assert [row["epoch"] for row in history(resumed)] == ["1", "2"]


def test_a_global_batch_that_does_not_split_over_the_processes_is_refused(tmp_path):
    root = write_kaggle_tree(tmp_path / "fer", synthetic_faces({"train": 2, "public": 1}))
    done = torchrun(["train", "--data", str(root), "--arch", "linear", "--batch-size", "5"])
    assert done.returncode != 0
    assert "--batch-size 5 does not split evenly over 2 processes" in done.stderr
