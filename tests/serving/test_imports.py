"""The serving path stays light: no torch, and ``import realtime_fer`` loads almost nothing."""

import subprocess
import sys

SERVING = ["pipeline", "detector", "detectors.blazeface", "detectors.haar", "sources", "demo", "draw",
           "tracking", "model_folder", "tta", "cli"]


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_serving_modules_never_import_torch():
    imports = "; ".join(f"import realtime_fer.{name}" for name in SERVING)
    assert run(f"import sys; {imports}; print('torch' in sys.modules)") == "False"


def test_the_package_exports_its_names_lazily():
    code = (
        "import sys, realtime_fer; light = 'cv2' not in sys.modules; "
        "from realtime_fer import (EMOTIONS, Emotion, EmotionRecognizer, Face, FaceDetector, "
        "FaceEmotionPipeline, ModelError, __version__); print(light, len(EMOTIONS), bool(__version__))"
    )
    assert run(code) == "True 7 True"


def test_each_detector_module_imports_on_its_own_first():
    for name in ("detectors.blazeface", "detectors.haar", "detectors.frames"):  # no import circle
        assert run(f"import realtime_fer.{name}; print('ok')") == "ok"
