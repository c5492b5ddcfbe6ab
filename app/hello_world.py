"""The service ecs-poc deploys: a Flask hello world that behaves like a production container.

Routes: ``/`` (hello), ``/healthz`` (status and the deployed version). Under a path prefix
(``SCRIPT_NAME=/pr-12``) every route moves below it, because a PR's service shares one load
balancer with the others and is reached at ``http://ALB/pr-12/``. ``/healthz`` also answers
without the prefix so that container health checks need not know which PR they run for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from pathprefix import normalise_prefix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask.typing import ResponseReturnValue

# gunicorn.conf.py moves SCRIPT_NAME here, see the note there.
PREFIX_ENV = "ECS_POC_PATH_PREFIX"


def app_version() -> str:
    """The commit the pipeline built, as baked into the image or set by the task definition."""
    return os.environ.get("APP_VERSION", "").strip() or "unknown"


def path_prefix() -> str:
    """The configured prefix, normalised to ``/a/b`` or ``""``; raises ValueError when malformed."""
    return normalise_prefix(os.environ.get(PREFIX_ENV, os.environ.get("SCRIPT_NAME", "")))


class PrefixMiddleware:
    """Serves the wrapped app below ``prefix`` and keeps ``/healthz`` reachable at the root."""

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == self.prefix:
            # Relative links and the ALB rule "/pr-12/*" both want the trailing slash.
            query = environ.get("QUERY_STRING", "")
            location = self.prefix + "/" + (f"?{query}" if query else "")
            start_response("308 Permanent Redirect", [("Location", location), ("Content-Length", "0")])
            return [b""]
        if path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :]
        elif path != "/healthz":
            body = json.dumps({"status": "error", "code": 404, "error": "Not Found"}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("404 Not Found", headers)
            return [body]
        return self.app(environ, start_response)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def hello() -> ResponseReturnValue:
        return "Hello, World!\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        return jsonify(status="ok", version=app_version())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        # JSON errors for every client; never an HTML page or a stack trace.
        code = exc.code or 500
        response = jsonify(status="error", code=code, error=exc.name)
        response.status_code = code
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        response = jsonify(status="error", code=500, error="Internal Server Error")
        response.status_code = 500
        return response

    prefix = path_prefix()
    if prefix:
        app.wsgi_app = PrefixMiddleware(app.wsgi_app, prefix)  # type: ignore[method-assign]
    return app


app = create_app()
