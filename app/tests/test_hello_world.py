"""Every route of the service, with and without a path prefix."""

from __future__ import annotations

import json

import pytest
from flask import Flask, url_for

import hello_world


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def _make(prefix: str | None = None, version: str | None = None) -> Flask:
        for name in ("SCRIPT_NAME", hello_world.PREFIX_ENV, "APP_VERSION"):
            monkeypatch.delenv(name, raising=False)
        if prefix is not None:
            monkeypatch.setenv("SCRIPT_NAME", prefix)
        if version is not None:
            monkeypatch.setenv("APP_VERSION", version)
        return hello_world.create_app()

    return _make


def test_root_says_hello(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app().test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "Hello, World!" in response.get_data(as_text=True)


def test_healthz_reports_status_and_version(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app(version="3f2a9c1").test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": "3f2a9c1"}


@pytest.mark.parametrize("value", [None, "", "   "])
def test_healthz_version_is_unknown_when_unset(make_app, value: str | None) -> None:  # type: ignore[no-untyped-def]
    response = make_app(version=value).test_client().get("/healthz")
    assert response.get_json()["version"] == "unknown"


def test_unknown_path_is_json_404_without_traceback(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app().test_client().get("/does-not-exist")
    assert response.status_code == 404
    assert response.get_json() == {"status": "error", "code": 404, "error": "Not Found"}


def test_wrong_method_is_405(make_app) -> None:  # type: ignore[no-untyped-def]
    response = make_app().test_client().post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["code"] == 405


def test_unexpected_error_is_json_500(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.get_data(as_text=True)
    assert response.get_json()["error"] == "Internal Server Error"


class TestPrefix:
    def test_routes_move_below_the_prefix(self, make_app) -> None:  # type: ignore[no-untyped-def]
        client = make_app(prefix="/pr-12", version="v1").test_client()
        assert client.get("/pr-12/").status_code == 200
        assert "Hello" in client.get("/pr-12/").get_data(as_text=True)
        assert client.get("/pr-12/healthz").get_json() == {"status": "ok", "version": "v1"}

    def test_healthz_also_answers_at_the_root_for_container_checks(self, make_app) -> None:  # type: ignore[no-untyped-def]
        assert make_app(prefix="/pr-12").test_client().get("/healthz").status_code == 200

    def test_other_paths_outside_the_prefix_are_404(self, make_app) -> None:  # type: ignore[no-untyped-def]
        client = make_app(prefix="/pr-12").test_client()
        for path in ("/", "/pr-123/", "/pr-1/healthz", "/other"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert json.loads(response.get_data())["code"] == 404

    def test_bare_prefix_redirects_to_trailing_slash(self, make_app) -> None:  # type: ignore[no-untyped-def]
        response = make_app(prefix="/pr-12").test_client().get("/pr-12?a=1")
        assert response.status_code == 308
        assert response.headers["Location"] == "/pr-12/?a=1"

    def test_trailing_slash_in_setting_is_tolerated(self, make_app) -> None:  # type: ignore[no-untyped-def]
        assert make_app(prefix="/pr-7/").test_client().get("/pr-7/healthz").status_code == 200

    def test_links_the_app_builds_include_the_prefix(self, make_app) -> None:  # type: ignore[no-untyped-def]
        app = make_app(prefix="/pr-12")

        @app.get("/where")
        def where() -> str:
            return url_for("healthz")

        assert app.test_client().get("/pr-12/where").get_data(as_text=True) == "/pr-12/healthz"

    @pytest.mark.parametrize("bad", ["pr-12", "/pr 12", "/pr-12/../x", "/./x", "/a?b", "/a//b"])
    def test_malformed_prefix_is_refused(self, make_app, bad: str) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ValueError, match="SCRIPT_NAME"):
            make_app(prefix=bad)
