"""The two HTML pages: the visitor's own camera (/) and the server's stream (/stream)."""

from flask import Blueprint, current_app, render_template

from realtime_fer.draw import EMOTION_COLORS, UNCERTAIN_COLOR, UNCERTAIN_LABEL, Color
from realtime_fer.web.services import services

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def page_context() -> dict:
    """What every page shows: the model's and the detector's names, and the colour of each of the
    model's classes (in its order; the bars and the scripts are built from them) and of an uncertain face."""
    pipeline = services().pipeline
    return {
        "model_name": pipeline.recognizer.name,
        "detector_name": pipeline.detector.name,
        "colors": {name: css_color(EMOTION_COLORS[name]) for name in pipeline.recognizer.classes},
        "uncertain_color": css_color(UNCERTAIN_COLOR),
        "uncertain_label": UNCERTAIN_LABEL,
    }


def css_color(color: Color) -> str:
    """``#rrggbb`` of a BGR colour."""
    return "#{2:02x}{1:02x}{0:02x}".format(*color)


@bp.get("/")
def webcam():
    max_upload_mb = current_app.config["MAX_CONTENT_LENGTH"] / 2**20
    return render_template("index.html", max_upload_mb=f"{max_upload_mb:g}")


@bp.get("/stream")
def stream():
    return render_template("stream.html", source=services().source_name)
