"""Real-time facial expression recognition: FER-2013's seven classes, or the classes a model names
(FER+'s eight add contempt).

    from realtime_fer import FaceEmotionPipeline
    faces = FaceEmotionPipeline().process(frame_bgr)  # [Face(box, emotion, confidence, ...)]
    # faces below 60% top probability: uncertain=True (fewer faces labelled, those more reliably)
    faces = FaceEmotionPipeline(uncertain_below=0.6).process(frame_bgr)
    # a video's report folder: faces.csv, tracks.csv (a row per person), summary.json, timeline.png
    summary = analyse_video("talk.mp4", "talk-report")

The names below load on first use, so ``import realtime_fer`` stays light (and never needs torch).
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from realtime_fer.detector import FaceDetector, create_detector
    from realtime_fer.emotions import EMOTIONS
    from realtime_fer.face import Emotion, Face
    from realtime_fer.model_folder import ModelError
    from realtime_fer.pipeline import FaceEmotionPipeline
    from realtime_fer.recognizer import EmotionRecognizer
    from realtime_fer.video import analyse_video

    __version__: str

_EXPORTS = {
    "EMOTIONS": "realtime_fer.emotions",
    "Emotion": "realtime_fer.face",
    "EmotionRecognizer": "realtime_fer.recognizer",
    "Face": "realtime_fer.face",
    "FaceDetector": "realtime_fer.detector",
    "create_detector": "realtime_fer.detector",
    "FaceEmotionPipeline": "realtime_fer.pipeline",
    "ModelError": "realtime_fer.model_folder",
    "analyse_video": "realtime_fer.video",
}
__all__ = [
    "EMOTIONS",
    "Emotion",
    "EmotionRecognizer",
    "Face",
    "FaceDetector",
    "FaceEmotionPipeline",
    "ModelError",
    "__version__",
    "analyse_video",
    "create_detector",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'realtime_fer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


def _version() -> str:
    # importlib.metadata costs more than the rest of the package, so only on demand
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("realtime-fer")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"
