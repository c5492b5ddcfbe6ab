"""Identity-based policy evaluation as IAM does it, for one request of one principal.

The order is AWS's: an explicit Deny in any identity policy or in the permissions boundary wins; otherwise
the request needs an Allow from an identity policy (inline or managed) AND, when the role has a boundary,
an Allow from the boundary. Each resource of a request is decided on its own and all must be allowed.

Matching follows the policy grammar: Action/NotAction (case-insensitive), Resource/NotResource
(case-sensitive), wildcards `*` and `?`, and the condition operators String*, Arn*, Bool, Null, Numeric*,
Date*, with the `IfExists` suffix and the `ForAllValues:`/`ForAnyValue:` set qualifiers. Condition keys
are compared case-insensitively, values as the operator says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

Policy = Mapping[str, Any]

NO_IDENTITY_ALLOW = "no identity-based policy allows the {action} action"
IDENTITY_DENY = "with an explicit deny in an identity-based policy"
BOUNDARY_DENY = "with an explicit deny in a permissions boundary"
NO_BOUNDARY_ALLOW = "no permissions boundary allows the {action} action"


class PolicyError(ValueError):
    """A policy document the evaluator cannot read (AWS would have refused to store it)."""


@dataclass(frozen=True)
class AuthzRequest:
    """One authorisation question: `action` (`service:Operation`) on each of `resources` (ARNs or `*`).

    `context` maps condition keys (any case) to their values in the request; a key that is absent is
    absent from the request, as AWS distinguishes. `action_only` marks a read whose resource the gate
    does not build: it is allowed when some Allow names the action, whatever its resource or condition.
    """

    action: str
    resources: tuple[str, ...] = ("*",)
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    action_only: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    resource: str = "*"
    reason: str = ""
    statement: str = ""


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts = [(".*" if c == "*" else "." if c == "?" else re.escape(c)) for c in glob]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(glob: str, value: str, ignore_case: bool = False) -> bool:
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(policy: Policy) -> list[Mapping[str, Any]]:
    stmts = policy.get("Statement")
    if isinstance(stmts, Mapping):
        return [stmts]
    if not isinstance(stmts, list) or not all(isinstance(s, Mapping) for s in stmts):
        raise PolicyError("Statement must be an object or a list of objects")
    return stmts


def _action_matches(stmt: Mapping[str, Any], action: str) -> bool:
    if "Action" in stmt:
        return any(glob_match(str(a), action, ignore_case=True) for a in _as_list(stmt["Action"]))
    if "NotAction" in stmt:
        return not any(glob_match(str(a), action, ignore_case=True) for a in _as_list(stmt["NotAction"]))
    raise PolicyError("a statement needs Action or NotAction")


def _resource_matches(stmt: Mapping[str, Any], resource: str) -> bool:
    if "Resource" in stmt:
        return any(_arn_glob(str(r), resource) for r in _as_list(stmt["Resource"]))
    if "NotResource" in stmt:
        return not any(_arn_glob(str(r), resource) for r in _as_list(stmt["NotResource"]))
    raise PolicyError("a statement needs Resource or NotResource")


def _arn_glob(glob: str, arn: str) -> bool:
    # A request resource `*` (an action without resource-level permissions) is matched only by `*`.
    if arn == "*":
        return glob == "*"
    return glob_match(glob, arn)


# -- conditions ------------------------------------------------------------------------------------------

def _str_eq(p: str, v: str) -> bool:
    return p == v


def _str_eq_ci(p: str, v: str) -> bool:
    return p.lower() == v.lower()


def _str_like(p: str, v: str) -> bool:
    return glob_match(p, v)


def _arn_like(p: str, v: str) -> bool:
    # ArnEquals and ArnLike both compare the six colon-separated parts, each with wildcards.
    pp, vp = p.split(":", 5), v.split(":", 5)
    return len(pp) == len(vp) == 6 and all(glob_match(a, b) for a, b in zip(pp, vp, strict=True))


def _bool(p: str, v: str) -> bool:
    return p.lower() == v.lower()


def _num(op: str) -> Any:
    def compare(p: str, v: str) -> bool:
        try:
            a, b = float(v), float(p)
        except ValueError:
            return False
        return {"eq": a == b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]

    return compare


def _date(op: str) -> Any:
    def parse(s: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(float(s), tz=UTC) if s.isdigit() else datetime.fromisoformat(s)
        except ValueError:
            return None

    def compare(p: str, v: str) -> bool:
        a, b = parse(v), parse(p)
        if a is None or b is None:
            return False
        try:
            return {"eq": a == b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]
        except TypeError:
            return False

    return compare


# operator -> (value matcher, negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "stringequals": (_str_eq, False),
    "stringnotequals": (_str_eq, True),
    "stringequalsignorecase": (_str_eq_ci, False),
    "stringnotequalsignorecase": (_str_eq_ci, True),
    "stringlike": (_str_like, False),
    "stringnotlike": (_str_like, True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "bool": (_bool, False),
    "binaryequals": (_str_eq, False),
    "ipaddress": (_str_eq, False),
    "notipaddress": (_str_eq, True),
    "numericequals": (_num("eq"), False),
    "numericnotequals": (_num("eq"), True),
    "numericlessthan": (_num("lt"), False),
    "numericlessthanequals": (_num("le"), False),
    "numericgreaterthan": (_num("gt"), False),
    "numericgreaterthanequals": (_num("ge"), False),
    "dateequals": (_date("eq"), False),
    "datenotequals": (_date("eq"), True),
    "datelessthan": (_date("lt"), False),
    "datelessthanequals": (_date("le"), False),
    "dategreaterthan": (_date("gt"), False),
    "dategreaterthanequals": (_date("ge"), False),
}


def _lookup(context: Mapping[str, Sequence[str]], key: str) -> list[str] | None:
    wanted = key.lower()
    for k, values in context.items():
        if k.lower() == wanted:
            return [str(v) for v in values]
    return None


def condition_matches(condition: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> bool:
    """True when every operator block, and every key in it, is satisfied (AND across, OR within values)."""
    for raw_operator, pairs in condition.items():
        if not isinstance(pairs, Mapping):
            raise PolicyError(f"condition operator {raw_operator} needs an object of keys")
        qualifier, _, operator = raw_operator.rpartition(":")
        op = operator.lower()
        if_exists = op.endswith("ifexists")
        if if_exists:
            op = op[: -len("ifexists")]
        for key, expected in pairs.items():
            if not _key_matches(raw_operator, qualifier.lower(), op, if_exists, key, _as_list(expected), context):
                return False
    return True


def _key_matches(
    raw_operator: str,
    qualifier: str,
    op: str,
    if_exists: bool,
    key: str,
    expected: list[Any],
    context: Mapping[str, Sequence[str]],
) -> bool:
    values = _lookup(context, key)
    policy_values = [str(e).lower() if isinstance(e, bool) else str(e) for e in expected]
    if op == "null":
        wanted_absent = {v.lower() for v in policy_values} == {"true"}
        absent = values is None or values == []
        return absent == wanted_absent
    if op not in _OPERATORS:
        raise PolicyError(f"unknown condition operator {raw_operator}")
    match, negated = _OPERATORS[op]

    def one(value: str) -> bool:
        hit = any(match(p, value) for p in policy_values)
        return not hit if negated else hit

    if qualifier == "forallvalues":
        return all(one(v) for v in values or [])
    if qualifier == "foranyvalue":
        return any(one(v) for v in values or [])
    if qualifier:
        raise PolicyError(f"unknown condition qualifier in {raw_operator}")
    if values is None or values == []:
        # A missing key fails a positive operator and satisfies a negated one; IfExists makes it pass.
        return if_exists or negated
    return all(one(v) for v in values) if negated else any(one(v) for v in values)


# -- evaluation ------------------------------------------------------------------------------------------

def _matching(
    policies: Iterable[Policy], effect: str, request: AuthzRequest, resource: str
) -> str | None:
    """The Sid (or `#n`) of the first statement of `effect` that applies to the request, else None."""
    for policy in policies:
        for n, stmt in enumerate(statements(policy)):
            if str(stmt.get("Effect", "")) != effect or not _action_matches(stmt, request.action):
                continue
            if request.action_only and effect == "Allow":
                return str(stmt.get("Sid") or f"#{n}")
            if not _resource_matches(stmt, resource):
                continue
            if condition_matches(stmt.get("Condition") or {}, request.context):
                return str(stmt.get("Sid") or f"#{n}")
    return None


def evaluate(identity: Sequence[Policy], boundary: Policy | None, request: AuthzRequest) -> Decision:
    """Decide `request` for a principal with these identity policies and permissions boundary."""
    action = request.action
    for resource in request.resources or ("*",):
        sid = _matching(identity, "Deny", request, resource)
        if sid is not None:
            return Decision(False, resource, IDENTITY_DENY, sid)
        if boundary is not None:
            sid = _matching([boundary], "Deny", request, resource)
            if sid is not None:
                return Decision(False, resource, BOUNDARY_DENY, sid)
        if _matching(identity, "Allow", request, resource) is None:
            return Decision(False, resource, NO_IDENTITY_ALLOW.format(action=action))
        if boundary is not None and _matching([boundary], "Allow", request, resource) is None:
            return Decision(False, resource, NO_BOUNDARY_ALLOW.format(action=action))
    return Decision(True, (request.resources or ("*",))[0])


def trust_allows(trust: Policy, action: str, principal: Mapping[str, str], context: Mapping[str, Sequence[str]]) -> bool:
    """A role's trust policy (resource-based) lets `principal` (e.g. {"Federated": ARN}) perform `action`."""
    allowed = False
    for stmt in statements(trust):
        if not _action_matches(stmt, action) or not _principal_matches(stmt, principal):
            continue
        if not condition_matches(stmt.get("Condition") or {}, context):
            continue
        if stmt.get("Effect") == "Deny":
            return False
        allowed = allowed or stmt.get("Effect") == "Allow"
    return allowed


def _principal_matches(stmt: Mapping[str, Any], principal: Mapping[str, str]) -> bool:
    named = stmt.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, Mapping):
        return False
    for kind, value in principal.items():
        if any(p == "*" or p == value for p in map(str, _as_list(named.get(kind)))):
            return True
    return False


def policy_size(document: str) -> int:
    """Characters of a policy as IAM counts them against its quotas: whitespace is not counted."""
    return len(re.sub(r"\s+", "", document))
