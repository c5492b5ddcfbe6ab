"""The path prefix rule, shared by the app and gunicorn.conf.py (which must not import Flask)."""

from __future__ import annotations

import re

_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


def normalise_prefix(raw: str) -> str:
    """``/pr-12/`` -> ``/pr-12``, ``""`` or ``/`` -> ``""``; raises ValueError when malformed."""
    prefix = raw.strip().rstrip("/")
    if prefix and (not _PREFIX_RE.match(prefix) or {".", ".."} & set(prefix.split("/"))):
        raise ValueError(f"SCRIPT_NAME must look like /pr-12 (letters, digits and . _ ~ - after each /), got {raw!r}")
    return prefix
