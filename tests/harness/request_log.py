"""One JSON line per request the fidelity proxy answers, so that a run can be read afterwards:
which operation came on which client connection, what it was answered, and any error the proxy
hit on the way. moto's own log only says `POST / 200`, which cannot tell a retried create from two
different calls.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")


def operation(method: str, path: str, target: str, body: bytes) -> str:
    """The API operation of a request: the JSON protocols' target, the query protocols' Action,
    or the REST protocols' method and path."""
    if target:
        return target.rsplit(".", 1)[-1]
    found = _ACTION.search(body[:4096])
    if found:
        return found.group(1).decode()
    return f"{method} {path.split('?', 1)[0]}"


class RequestLog:
    """Appends records to `path` (None: records nothing), one lock for every handler thread."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def record(self, **fields: Any) -> None:
        if self.path is None:
            return
        line = json.dumps({"t": round(time.monotonic() - self._started, 3), **fields}, sort_keys=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
