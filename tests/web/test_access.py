"""Exposure beyond localhost: the bearer token, CORS by invitation, and the warning at start."""

import pytest

from realtime_fer.cli import main
from realtime_fer.web import create_app
from tests.web.conftest import MODEL, encode, one_face_frame

TOKEN = "s3cret-token"


@pytest.fixture
def locked(config):
    return create_app({**config, "TOKEN": TOKEN}).test_client()


def test_without_a_token_everything_but_healthz_is_401(locked):
    for path in ("/", "/stream", "/video_feed", "/api/stream_status"):
        response = locked.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = locked.post("/api/predict", data=encode(one_face_frame()), content_type="image/jpeg")
    assert response.status_code == 401 and "unauthorized" in response.json["error"]
    assert locked.get("/healthz").status_code == 200
    assert locked.get("/static/style.css").status_code == 200


def test_a_wrong_token_is_refused_and_the_right_one_accepted(locked):
    jpeg = encode(one_face_frame())
    wrong = locked.post("/api/predict", data=jpeg, content_type="image/jpeg",
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = locked.post("/api/predict", data=jpeg, content_type="image/jpeg",
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and len(right.json["faces"]) == 1


def test_a_page_opened_with_the_token_gives_the_browser_a_cookie(locked):
    page = locked.get(f"/stream?token={TOKEN}")
    assert page.status_code == 200
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # the page's own requests now carry it (the test client keeps cookies, as a browser does)
    assert locked.get("/api/stream_status").status_code == 200


def test_cors_is_off_by_default_and_on_for_the_allowed_origin_only(config):
    closed = create_app(config).test_client().get("/healthz", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in closed.headers
    client = create_app({**config, "ALLOW_ORIGIN": "https://a.example"}).test_client()
    allowed = client.options("/api/predict", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    other = client.get("/healthz", headers={"Origin": "https://b.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_serve_warns_beyond_loopback_and_takes_the_token_from_the_environment(
    servers, capsys, monkeypatch
):
    assert main(["serve", "--model", MODEL, "--host", "0.0.0.0"]) == 0
    err = capsys.readouterr().err
    assert "warning: listening beyond this machine" in err and "--token" in err
    monkeypatch.setenv("REALTIME_FER_TOKEN", TOKEN)
    assert main(["serve", "--model", MODEL, "--host", "0.0.0.0", "--allow-origin", "https://a.example"]) == 0
    assert "a token is required" in capsys.readouterr().err
    assert servers[-1].app.config["TOKEN"] == TOKEN
    assert servers[-1].app.config["ALLOW_ORIGIN"] == "https://a.example"
    assert main(["serve", "--model", MODEL]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_url_password_is_never_printed(servers, capsys):
    assert main(["serve", "--model", MODEL, "--source", "rtsp://admin:hunter2@192.0.2.1/live"]) == 0
    out = capsys.readouterr()
    assert "hunter2" not in out.out + out.err and "rtsp://192.0.2.1/live" in out.out
