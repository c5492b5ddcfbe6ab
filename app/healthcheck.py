"""Container health check: exit 0 when this container's /healthz answers 200 with status ok.

Used by the image's HEALTHCHECK (and usable as an ECS container healthCheck command); the image
has no curl, and Python is already there.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000').strip() or '8000'}/healthz"
    # Never through a proxy the task may configure for outbound traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            body = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if body.get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
