"""Every code block of README.md runs: the set-up commands are CI's, the tour's commands run as
written, the API example's request is answered with the fields shown, the Python example runs."""

import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCKS if lang == language]


def commands(block: str) -> list[str]:
    """The commands of a shell block, comments dropped."""
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_has_the_blocks_this_file_runs():
    assert {lang for lang, _ in BLOCKS} == {"bash", "console", "python"}
    assert len(blocks("bash")) == 3 and len(blocks("console")) == 1 and len(blocks("python")) == 1


def test_the_set_up_commands_are_ci_s_and_the_package_s():
    install, tests = (commands(b) for b in blocks("bash")[:2])
    assert install == ["pip install -e . && realtime-fer serve"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    # CI runs exactly the README's test command (with python3 -m for the tools)
    assert re.sub(r"(?<![\w.])(pip|ruff|mypy|pytest)\b", r"python3 -m \1", tests[0]) in ci


def test_the_tour_runs_as_written(tmp_path):
    for command in commands(blocks("bash")[2]):
        words = shlex.split(command)
        assert words[0] == "realtime-fer", command
        result = subprocess.run(
            [sys.executable, "-m", "realtime_fer.cli", *words[1:]], cwd=tmp_path, capture_output=True,
            text=True, timeout=300, env={**_env(), "REALTIME_FER_CACHE": str(tmp_path / "cache")},
        )
        assert result.returncode == 0, (command, result.stderr[-2000:])
    assert (tmp_path / "annotated" / "demo.jpg").is_file()
    assert {p.name for p in (tmp_path / "demo-report").iterdir()} >= {
        "faces.csv", "tracks.csv", "summary.json", "timeline.png"}


def test_the_api_example_is_answered_with_the_fields_it_shows(tmp_path):
    import cv2

    from realtime_fer.demo import demo_image
    from realtime_fer.web import create_app

    (example,) = blocks("console")
    request, answer = example.split("\n", 1)
    assert request.startswith("$ curl -s -F image=@annotated/demo.jpg http://127.0.0.1:5000/api/predict")
    ok, jpeg = cv2.imencode(".jpg", demo_image())
    client = create_app({"TESTING": True}).test_client()
    response = client.post("/api/predict", data={"image": (io.BytesIO(jpeg.tobytes()), "demo.jpg")})
    assert response.status_code == 200
    body = response.get_json()
    shown = set(re.findall(r'"(\w+)":', answer))
    assert {"faces", "model", "timings_ms", "image"} <= shown <= _keys(body)
    assert len(body["faces"]) == 6 and body["model"] == "ferplus"


def test_the_python_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (example,) = blocks("python")
    exec(compile(example, "README.md", "exec"), {})
    assert (tmp_path / "annotated.jpg").is_file()
    assert len(capsys.readouterr().out.splitlines()) == 6


def _keys(value) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC)}
