"""The web app follows the model's classes (an eight-class FER+ model here) and flags uncertain faces:
the pages' bars and colours, /api/predict's scores, /healthz, and ``serve --uncertain-below``."""

import re

import pytest

from realtime_fer.cli import main
from realtime_fer.draw import EMOTION_COLORS, UNCERTAIN_COLOR
from realtime_fer.emotions import EMOTIONS, FERPLUS_CLASSES
from realtime_fer.web import create_app
from realtime_fer.web.pages import css_color
from tests.web.conftest import encode, one_face_frame


@pytest.fixture
def eight_config(config, eight_class_model) -> dict:
    return {**config, "MODEL": str(eight_class_model)}


def predict(client) -> dict:
    response = client.post("/api/predict", data=encode(one_face_frame()), content_type="image/jpeg")
    assert response.status_code == 200
    return response.json


def test_the_page_shows_a_bar_per_class_of_the_model(eight_config):
    html = create_app(eight_config).test_client().get("/").get_data(as_text=True)
    rows = re.findall(r'<li data-emotion="(\w+)" data-color="(#[0-9a-f]{6})">', html)
    assert rows == [(name, css_color(EMOTION_COLORS[name])) for name in FERPLUS_CLASSES] * 2  # live, upload
    assert f'data-uncertain-color="{css_color(UNCERTAIN_COLOR)}"' in html
    assert 'data-uncertain-label="uncertain"' in html and "8 expressions" in html


@pytest.fixture
def seven_class_client(config):
    return create_app({**config, "MODEL": "fast"}).test_client()


def test_a_seven_class_model_keeps_its_seven_bars(seven_class_client):
    html = seven_class_client.get("/").get_data(as_text=True)
    assert re.findall(r'<li data-emotion="(\w+)"', html) == list(EMOTIONS) * 2 and "7 expressions" in html


def test_predict_scores_the_model_classes_and_says_whether_it_is_sure(eight_config):
    [face] = predict(create_app(eight_config).test_client())["faces"]
    assert list(face["scores"]) == list(FERPLUS_CLASSES)
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert face["emotion"] == max(face["scores"], key=face["scores"].get)
    assert face["uncertain"] is False
    unsure = create_app({**eight_config, "UNCERTAIN_BELOW": 0.99}).test_client()
    [face] = predict(unsure)["faces"]
    assert face["uncertain"] is True and face["emotion"] in FERPLUS_CLASSES  # the guess is still given


def test_a_seven_class_face_is_never_uncertain_by_default(seven_class_client):
    [face] = predict(seven_class_client)["faces"]
    assert face["uncertain"] is False and list(face["scores"]) == list(EMOTIONS)


def test_healthz_lists_the_classes_and_the_threshold(seven_class_client, eight_config):
    health = seven_class_client.get("/healthz").json
    assert health["classes"] == list(EMOTIONS) and health["uncertain_below"] is None
    health = create_app({**eight_config, "UNCERTAIN_BELOW": 0.5}).test_client().get("/healthz").json
    assert health["classes"] == list(FERPLUS_CLASSES) and health["uncertain_below"] == 0.5


def test_serve_takes_uncertain_below(servers, eight_class_model):
    assert main(["serve", "--model", str(eight_class_model), "--uncertain-below", "0.3", "--port", "0"]) == 0
    shared = servers[0].app.extensions["realtime_fer"]
    assert shared.pipeline.recognizer.uncertain_below == 0.3
    assert shared.video_pipeline.recognizer.uncertain_below == 0.3  # the webcam page and the stream
