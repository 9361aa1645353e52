"""``realtime-fer serve`` with no options configures the app as ``create_app()`` with none does."""

from realtime_fer.cli import TOKEN_ENV, build_parser, serve_config
from realtime_fer.web import DEFAULTS


def test_the_cli_defaults_are_create_apps(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    config = serve_config(build_parser().parse_args(["serve"]))
    assert config == {key: DEFAULTS[key] for key in config}
    assert config["STREAM_MAX_VIEWERS"] == 8  # was 4 in create_app, 8 in the CLI
