"""moto server with one emulator gap closed, started by `EmulatedAws` in place of `moto.server`.

moto evaluates policy conditions only for StringEquals and treats any other operator as
satisfied. The shipped state bucket carries the standard statement "Deny everything when
aws:SecureTransport is false"; moto therefore denies every object write to it, although on AWS
(always reached over TLS) that statement never applies. Here a statement conditioned on
`Bool aws:SecureTransport` is evaluated as AWS would for a TLS request: the emulator stands in
for an HTTPS endpoint, it merely listens on plain loopback HTTP. Nothing else is changed.
"""

from __future__ import annotations

import sys
from typing import Any


def secure_transport_excludes(statement: dict[str, Any]) -> bool:
    """True when the statement's Bool aws:SecureTransport condition is false for a TLS request."""
    for operator, pairs in (statement.get("Condition") or {}).items():
        if operator not in ("Bool", "BoolIfExists") or not isinstance(pairs, dict):
            continue
        for key, expected in pairs.items():
            if key.lower() != "aws:securetransport":
                continue
            values = expected if isinstance(expected, list) else [expected]
            if "true" not in {str(v).lower() for v in values}:
                return True
    return False


def _patch() -> None:
    from moto.iam import access_control as ac

    original = ac.IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self: Any, *args: Any, **kwargs: Any) -> Any:
        if secure_transport_excludes(self._statement):
            return ac.PermissionResult.NEUTRAL
        return original(self, *args, **kwargs)

    ac.IAMPolicyStatement.is_action_permitted = is_action_permitted


def main() -> None:
    _patch()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
