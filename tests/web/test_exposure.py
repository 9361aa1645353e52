"""Second-round exposure rules: Retry-After on every 503, FLASK_DEBUG ignored, ?token= on pages
only, a derived and expiring token cookie, and cross-origin POSTs refused before analysis."""

import logging

import pytest

from realtime_fer.web import access, create_app, services
from tests.web.conftest import encode, one_face_frame

TOKEN = "s3cret-token"


@pytest.fixture
def locked(config):
    return create_app({**config, "TOKEN": TOKEN}).test_client()


def test_every_503_says_when_to_retry(config):
    client = create_app({**config, "STREAM_MAX_VIEWERS": 0}).test_client()
    response = client.get("/video_feed")  # every viewer slot (none) is taken
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


def test_flask_debug_in_the_environment_is_ignored_with_a_warning(config, monkeypatch, caplog):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with caplog.at_level(logging.WARNING):
        app = create_app(config)
    assert not app.debug
    assert "FLASK_DEBUG is ignored" in caplog.text
    with pytest.raises(ValueError, match="DEBUG"):  # asked for in the settings, it is still refused
        create_app({**config, "DEBUG": True})


def test_the_token_in_the_url_opens_pages_only(locked):
    assert locked.get(f"/api/stream_status?token={TOKEN}").status_code == 401
    response = locked.post(f"/api/predict?token={TOKEN}", data=encode(one_face_frame()),
                           content_type="image/jpeg")
    assert response.status_code == 401
    assert locked.get(f"/?token={TOKEN}").status_code == 200


def test_the_cookie_holds_a_derived_value_that_expires(locked):
    page = locked.get(f"/stream?token={TOKEN}")
    cookie = page.headers["Set-Cookie"]
    assert TOKEN not in cookie
    assert f"{access.COOKIE}={access.session_value(TOKEN)}" in cookie
    assert f"Max-Age={access.COOKIE_MAX_AGE_SECONDS}" in cookie
    assert "Secure" not in cookie  # plain http
    assert locked.get("/api/stream_status").status_code == 200  # the cookie lets the page in
    locked.set_cookie(access.COOKIE, TOKEN)  # the raw token as a cookie is not the session value
    assert locked.get("/api/stream_status").status_code == 401


def test_the_cookie_is_secure_over_https(locked):
    cookie = locked.get(f"/?token={TOKEN}", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_a_post_from_a_foreign_origin_is_refused_before_analysis(config, monkeypatch):
    app = create_app({**config, "ALLOW_ORIGIN": "https://a.example"})
    with app.app_context():
        pipeline = services.services().pipeline
    calls, real = [], pipeline.process
    monkeypatch.setattr(pipeline, "process", lambda frame: calls.append(frame) or real(frame))
    client, jpeg = app.test_client(), encode(one_face_frame())

    def post(origin: str):
        return client.post("/api/predict", data=jpeg, content_type="image/jpeg", headers={"Origin": origin})

    foreign = post("https://evil.example")
    assert foreign.status_code == 403 and calls == []
    assert post("https://a.example").status_code == 200  # the allowed origin
    assert post("http://localhost").status_code == 200  # this server's own pages
    assert len(calls) == 2
