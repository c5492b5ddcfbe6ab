"""Test-only WSGI app, mounted into the container: the real app plus one slow route.

The shipped image has no slow route; this wraps it so the graceful-shutdown test can hold a
request in flight while gunicorn (with the image's own config) receives SIGTERM.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from hello_world import app as real_app


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(float(environ.get("QUERY_STRING", "").removeprefix("seconds=") or "3"))
        body = b"slow done\n"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return real_app(environ, start_response)
