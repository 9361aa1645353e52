"""The training-side commands: summary, explore, evaluate (through the same ONNX recognizer)."""

import json
import sys
from pathlib import Path

import pytest

from realtime_fer.cli import main
from realtime_fer.model_folder import available_models
from tests.conftest import FERPLUS_DATA, SHARED_DATA


def test_summary_prints_the_layer_table(capsys):
    assert main(["summary", "--model", "paper"]) == 0
    assert "Total params: 4,478,727" in capsys.readouterr().out


def test_summary_takes_a_shipped_model_or_a_folder(trained_run, capsys):
    assert main(["summary", "--model", "accurate"]) == 0  # architecture vgg, from its model.json
    assert "Total params: 2,642,359" in capsys.readouterr().out
    assert main(["summary", "--model", str(trained_run)]) == 0
    assert "Total params: 4,478,727" in capsys.readouterr().out
    assert main(["summary", "--model", "no-such-model"]) == 2
    assert "'no-such-model' not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["summary"], "torch"),
        (["train", "--data", "somewhere"], "torch"),
        (["train", "--data", "somewhere"], "onnxscript"),  # would fail only at export, hours later
        (["export", "runs/paper"], "onnx"),
        (["quantize", "--data", "somewhere"], "onnx"),
    ],
)
def test_a_command_needing_the_train_extra_says_so_in_one_line(args, missing, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, missing, None)  # as if not installed: importing it fails
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"realtime-fer {args[0]}: error: {args[0]} needs the train extra (no {missing}): "
        'pip install -e ".[train]"\n'  # run from this checkout (the wheel's test: from PyPI)
    )
    assert captured.out == ""


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("realtime-fer ")


def test_explore_prints_table_1_and_writes_pngs(kaggle_root, tmp_path, capsys):
    assert main(["explore", str(kaggle_root), "--out", str(tmp_path / "out")]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]
    rows = {words[0]: words[1:] for words in lines}
    assert rows["emotion"] == ["train", "public_test", "private_test"]
    assert rows["happy"] == ["12", "4", "3"] and rows["total"] == ["84", "28", "21"]
    assert (tmp_path / "out" / "examples.png").stat().st_size > 1000
    assert (tmp_path / "out" / "class_counts.png").stat().st_size > 1000


def test_evaluate_json_report(trained_run, kaggle_root, tmp_path, capsys):
    args = ["evaluate", "--model", str(trained_run), "--data", str(kaggle_root), "--split", "public_test"]
    assert main([*args, "--json", "--confusion", str(tmp_path / "cm.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["faces"] == 28
    assert set(report["per_class"]) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    assert sum(map(sum, report["confusion_matrix"])) == 28
    correct = sum(report["confusion_matrix"][i][i] for i in range(7))
    assert report["accuracy"] == round(correct / 28, 4)
    assert (tmp_path / "cm.png").is_file()


def test_evaluate_any_class_folder_directory_with_tta(trained_run, kaggle_root, capsys):
    args = ["evaluate", "--model", str(trained_run), "--data", str(kaggle_root / "test"), "--tta", "flip"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "49 faces" in out and "+ flip TTA)" in out and "accuracy" in out


def test_evaluate_a_csv_split(trained_run, fer_csv, capsys):
    args = [
        "evaluate",
        "--model",
        str(trained_run),
        "--data",
        str(fer_csv),
        "--split",
        "private_test",
        "--json",
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["faces"] == 21


def test_evaluate_unknown_model_is_a_clear_error(kaggle_root, capsys):
    assert main(["evaluate", "--model", "no-such-model", "--data", str(kaggle_root / "test")]) == 2
    assert "model 'no-such-model' not found" in capsys.readouterr().err


def test_evaluate_missing_data_is_a_clear_error(trained_run, capsys):
    assert main(["evaluate", "--model", str(trained_run), "--data", "/no/such/data"]) == 2
    assert "/no/such/data: no such file or directory" in capsys.readouterr().err


def _scored_on(model: str) -> tuple[Path, bool]:
    """The validation data a shipped model's figures were measured on: FER+'s FER2013Valid for an
    eight-class model, FER-2013's test folder (PublicTest) for the others."""
    from realtime_fer.model_folder import ModelFolder

    ferplus = "contempt" in ModelFolder.open(model).spec["classes"]
    return (FERPLUS_DATA / "FER2013Valid" if ferplus else SHARED_DATA / "test"), ferplus


@pytest.mark.realdata
@pytest.mark.parametrize("model", available_models())
def test_shipped_models_reproduce_their_metrics(model, capsys):
    from realtime_fer.model_folder import resolve_model_dir

    data, ferplus = _scored_on(model)
    if not data.is_dir():
        pytest.skip(f"{data} not found")
    folder = resolve_model_dir(model)
    metrics = json.loads((folder / "metrics.json").read_text())
    quantized = json.loads((folder / "quantization.json").read_text())
    args = ["evaluate", "--model", model, "--data", str(data), "--json"]
    if ferplus:  # its run validated on a holdout of FER2013Train; quantize scored FER2013Valid as served
        assert main([*args, "--precision", "fp32"]) == 0
        assert json.loads(capsys.readouterr().out)["accuracy"] == quantized["accuracy"]["fp32"]
    else:
        assert main([*args, "--precision", "fp32", "--no-tta"]) == 0
        assert json.loads(capsys.readouterr().out)["accuracy"] == metrics["accuracy"]["public_test"]
    assert main([*args, "--precision", "int8"]) == 0  # scored with the model's own TTA
    assert json.loads(capsys.readouterr().out)["accuracy"] == quantized["accuracy"]["int8"]


def test_train_cli_records_its_command(tmp_path, capsys):
    from tests.conftest import synthetic_faces, write_kaggle_tree

    root = write_kaggle_tree(tmp_path / "fer", synthetic_faces({"train": 4, "public": 2}))
    args = ["train", "--data", str(root), "--out", str(tmp_path / "run"), "--epochs", "1"]
    args += ["--batch-size", "16", "--arch", "paper"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["command"] == "realtime-fer " + " ".join(args)
    assert metrics["config"]["batch_size"] == 16 and metrics["config"]["arch"] == "paper"
    out, err = capsys.readouterr()
    assert "epoch 1/1" in out and "note" not in err


def test_train_model_the_old_spelling_of_arch_still_works_with_a_note(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nothing"), "--model", "compact"]) == 2
    note, error = capsys.readouterr().err.splitlines()
    assert note.startswith("realtime-fer train: note: --model is now --arch")
    assert error.startswith("realtime-fer train: error: ")
