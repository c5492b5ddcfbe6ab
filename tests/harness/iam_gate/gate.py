"""The IAM gate: the fidelity proxy asks it about every request before moto sees it.

- Who: STS answers passing through the proxy (AssumeRoleWithWebIdentity, AssumeRole) map each temporary
  access key id to its assumed-role ARN, and so to its account (moto acts in the account of the role a key
  was issued for). A request signed with a key the gate has not seen issued is the administrator of the
  default account (the harness's dummy keys) and passes unchecked; so do sessions of `ADMIN_ROLE` in any
  account, which is how an administrator works in another account (as with AWS Organizations).
- Trust: AssumeRoleWithWebIdentity is decided against the target role's trust policy with the token's
  claims (`<issuer>:sub`, `<issuer>:aud`, ...), AssumeRole against it with the caller as principal.
- What: `requests.questions` turns the request into IAM actions, resource ARNs and condition keys.
- Policies: the role's inline and attached managed policies and its permissions boundary, read from moto
  with administrator credentials (bypassing the proxy), cached until the next IAM write.
- Quotas: IAM writes by anyone are held to AWS's policy size and attachment quotas.
- Answers: refusals in the protocol's own error shape (`errors`), and never reach moto.

`ECS_POC_IAM_GATE`: `enforce` (default) refuses; `report` lets the request through and only logs what
would have been refused; `off` checks nothing. Every refusal (or would-be refusal) is one JSON line in
`log_path`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

from tests.harness.iam_gate import errors
from tests.harness.iam_gate.policy import (
    AuthzRequest,
    Decision,
    Policy,
    PolicyError,
    evaluate,
    policy_size,
    trust_allows,
)
from tests.harness.iam_gate.requests import Signer, Unmapped, parse, questions, signer
from tests.harness.iam_gate.tags import resource_tags

MODES = ("enforce", "report", "off")
ENV = "ECS_POC_IAM_GATE"

INLINE_QUOTA = 10_240
MANAGED_QUOTA = 6_144
TRUST_QUOTA = 2_048
ATTACHED_QUOTA = 10

Answer = tuple[int, str, bytes]

# The role AWS Organizations creates in every member account for the management account's
# administrators. The harness's administrator assumes it to work in another account; its sessions
# are the administrator of that account: unchecked, except for the quotas.
ADMIN_ROLE = "OrganizationAccountAccessRole"
# moto reads the account of a request from this header when the key does not say (administrator reads).
MOTO_ACCOUNT_HEADER = "x-moto-account-id"


def moto_client(service: str, endpoint: str, region: str, account: str | None = None) -> Any:
    """A boto3 client with administrator credentials straight on moto, acting in `account`
    (moto's default account when None)."""
    import boto3

    client = boto3.client(service, region_name=region, endpoint_url=endpoint,
                          aws_access_key_id="gate-admin", aws_secret_access_key="gate-admin")
    if account:
        def in_account(request: Any, **_: Any) -> None:
            request.headers[MOTO_ACCOUNT_HEADER] = account

        client.meta.events.register("before-sign.*.*", in_account)
    return client


def account_of(arn: str, default: str) -> str:
    """The account field of an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:...`), or `default`."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else default


def mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    value = (environ if environ is not None else os.environ).get(ENV, "").strip().lower() or "enforce"
    if value not in MODES:
        raise ValueError(f"{ENV}={value!r}: expected one of {', '.join(MODES)}")
    return value


@dataclass(frozen=True)
class Principal:
    """An assumed-role session: `arn` is `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`."""

    arn: str
    role_arn: str

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]


@dataclass
class RolePolicies:
    identity: list[Policy] = field(default_factory=list)
    boundary: Policy | None = None
    boundary_arn: str | None = None
    trust: Policy | None = None
    arn: str = ""

    @property
    def reads_resource_tags(self) -> bool:
        """Some identity or boundary statement has a `...:ResourceTag/...` condition."""
        documents = [*self.identity, *([self.boundary] if self.boundary else [])]
        return any("resourcetag/" in json.dumps(d).lower() for d in documents)


class IamGate:
    def __init__(self, moto_endpoint: str, account: str, mode: str = "enforce", log_path: Path | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"IAM gate mode {mode!r}: expected one of {', '.join(MODES)}")
        self.moto_endpoint = moto_endpoint
        self.account = account
        self.mode = mode
        self.log_path = log_path
        self._lock = threading.Lock()
        self._keys: dict[str, Principal] = {}
        # Administrator sessions in other accounts (`ADMIN_ROLE`): access key -> account.
        self._admins: dict[str, str] = {}
        # Keyed by role ARN: the same role name may exist in several accounts.
        self._roles: dict[str, RolePolicies] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        # IAM writes let through but not yet answered, so that parallel writes (terraform's) are counted
        # against a quota together, as AWS does: role -> inline policy name -> size; role -> attached ARNs.
        self._quota_lock = threading.Lock()
        self._pending_inline: dict[str, dict[str, int]] = {}
        self._pending_attach: dict[str, set[str]] = {}
        # Requests of deploy-role sessions decided, and how many of them were (or would be) refused.
        self.checked = 0
        self.refused = 0

    # -- state -------------------------------------------------------------------------------------------
    def forget(self) -> None:
        """Drop every known session and cached policy (after the emulator is reset)."""
        with self._lock:
            self._keys.clear()
            self._admins.clear()
            self._roles.clear()
        with self._quota_lock:
            self._pending_inline.clear()
            self._pending_attach.clear()

    def principal(self, access_key: str) -> Principal | None:
        with self._lock:
            return self._keys.get(access_key)

    def account_of_key(self, access_key: str) -> str:
        """The account a request signed with `access_key` acts in, as moto decides it."""
        with self._lock:
            principal = self._keys.get(access_key)
            return principal.account if principal is not None else self._admins.get(access_key, self.account)

    def _client(self, service: str, account: str | None = None, region: str | None = None) -> Any:
        account = account or self.account
        region = region or ("us-east-1" if service == "iam" else os.environ.get("AWS_REGION", "eu-west-2"))
        key = (service, f"{account}/{region}")
        with self._lock:
            found = self._clients.get(key)
        if found is None:
            found = moto_client(service, self.moto_endpoint, region, account)
            with self._lock:
                self._clients[key] = found
        return found

    def _iam(self, account: str | None = None) -> Any:
        return self._client("iam", account)

    def in_account(self, account: str, region: str | None = None) -> AccountLookups:
        """The request mapping's lookups, answered in `account` (and `region`, for regional reads)."""
        return AccountLookups(self, account, region)

    # -- Lookups for the request mapping ------------------------------------------------------------------
    def role_arn(self, name: str, account: str | None = None) -> str:
        try:
            return str(self._iam(account).get_role(RoleName=name)["Role"]["Arn"])
        except Exception:  # noqa: BLE001 - a role that does not exist yet: AWS would name it this way
            return f"arn:aws:iam::{account or self.account}:role/{name}"

    def role_boundary(self, name: str, account: str | None = None) -> str | None:
        try:
            role = self._iam(account).get_role(RoleName=name)["Role"]
        except Exception:  # noqa: BLE001 - no such role: no boundary
            return None
        boundary = role.get("PermissionsBoundary") or {}
        return str(boundary["PermissionsBoundaryArn"]) if boundary.get("PermissionsBoundaryArn") else None

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str, account: str | None = None,
                            region: str | None = None) -> str | None:
        try:
            found = self._client("application-autoscaling", account, region).describe_scalable_targets(
                ServiceNamespace=namespace, ResourceIds=[resource_id],
                **({"ScalableDimension": dimension} if dimension else {}),
            )["ScalableTargets"]
        except Exception:  # noqa: BLE001 - unknown namespace or target: not registered yet
            return None
        return str(found[0]["ScalableTargetARN"]) if found and found[0].get("ScalableTargetARN") else None

    # -- policies -----------------------------------------------------------------------------------------
    def _document(self, policy_arn: str, account: str) -> Policy:
        iam = self._iam(account)
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        return _as_policy(iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]["Document"])

    def policies(self, role_arn: str) -> RolePolicies:
        """The policies of the role `role_arn` (a bare name is a role of the default account)."""
        if not role_arn.startswith("arn:"):
            role_arn = f"arn:aws:iam::{self.account}:role/{role_arn}"
        account, role_name = account_of(role_arn, self.account), role_arn.rsplit("/", 1)[-1]
        with self._lock:
            cached = self._roles.get(role_arn)
        if cached is not None:
            return cached
        iam = self._iam(account)
        role = iam.get_role(RoleName=role_name)["Role"]
        found = RolePolicies(arn=str(role["Arn"]), trust=_as_policy(role.get("AssumeRolePolicyDocument") or {}))
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
            for name in page["PolicyNames"]:
                doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                found.identity.append(_as_policy(doc))
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
            for attached in page["AttachedPolicies"]:
                found.identity.append(self._document(attached["PolicyArn"], account))
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary:
            found.boundary_arn = str(boundary)
            found.boundary = self._document(str(boundary), account)
        with self._lock:
            self._roles[role_arn] = found
        return found

    # -- the proxy's two hooks ----------------------------------------------------------------------------
    def check(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer | None:
        """An answer to send instead of forwarding the request, or None to forward it."""
        if self.mode == "off":
            return None
        headers = {k.lower(): v for k, v in headers.items()}
        who = signer(path, headers)
        form = _form(headers, body)
        if who is None and form.get("Action") == "AssumeRoleWithWebIdentity":
            return self._check_web_identity(form)
        if who is None:
            return None
        if who.service == "iam":
            quota = self._check_quotas(method, path, headers, body, who)
            if quota is not None:
                return quota
        principal = self.principal(who.access_key)
        if principal is None:
            return None
        with self._lock:
            self.checked += 1
        return self._check_principal(principal, method, path, headers, body, who)

    def observe(self, method: str, path: str, headers: Mapping[str, str], body: bytes, status: int,
                data: bytes) -> None:
        """Learn from an answer moto gave: sessions STS issued, and IAM writes that stale the cache."""
        if self.mode == "off":
            return
        headers = {k.lower(): v for k, v in headers.items()}
        form = _form(headers, body)
        action = form.get("Action", "")
        who = signer(path, headers)
        if action in ("PutRolePolicy", "AttachRolePolicy"):
            pending = f"{self.account_of_key(who.access_key) if who else self.account}/{form.get('RoleName', '')}"
            with self._quota_lock:
                self._pending_inline.get(pending, {}).pop(form.get("PolicyName", ""), None)
                self._pending_attach.get(pending, set()).discard(form.get("PolicyArn", ""))
        if not 200 <= status < 300:
            return
        if action in ("AssumeRoleWithWebIdentity", "AssumeRole"):
            self._remember_session(form.get("RoleArn", ""), data)
        elif who is not None and who.service == "iam" and method != "GET" and not action.startswith(("Get", "List")):
            with self._lock:
                self._roles.clear()

    # -- sessions and trust -------------------------------------------------------------------------------
    def _remember_session(self, role_arn: str, data: bytes) -> None:
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError:
            return
        key = _find_text(root, "AccessKeyId")
        arn = _find_text(root, "Arn")
        if key and arn:
            principal = Principal(arn=arn, role_arn=role_arn or _role_of(arn, self.account))
            with self._lock:
                if principal.role_name == ADMIN_ROLE:
                    self._admins[key] = principal.account
                else:
                    self._keys[key] = principal

    def _check_web_identity(self, form: Mapping[str, str]) -> Answer | None:
        role_arn = form.get("RoleArn", "")
        claims = decode_jwt_claims(form.get("WebIdentityToken", ""))
        if claims is None:
            return self._refuse_sts("InvalidIdentityToken", "The ID token provided is not a valid JWT.", 400,
                                    role_arn, "sts:AssumeRoleWithWebIdentity")
        issuer = str(claims.get("iss", "")).removeprefix("https://").rstrip("/")
        context: dict[str, list[str]] = {}
        for claim, value in claims.items():
            values = value if isinstance(value, list) else [value]
            context[f"{issuer}:{claim}"] = [str(v) for v in values]
        context["aws:SecureTransport"] = ["true"]
        # The identity provider is the one registered in the role's own account.
        principal = {"Federated": f"arn:aws:iam::{account_of(role_arn, self.account)}:oidc-provider/{issuer}"}
        try:
            trust = self.policies(role_arn).trust
        except Exception:  # noqa: BLE001 - no such role
            trust = None
        if trust is not None and trust_allows(trust, "sts:AssumeRoleWithWebIdentity", principal, context):
            return None
        return self._refuse_sts("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403,
                                role_arn, "sts:AssumeRoleWithWebIdentity",
                                who=f"web identity {context.get(f'{issuer}:sub', ['(no sub)'])[0]}")

    def _refuse_sts(self, code: str, message: str, status: int, role_arn: str, action: str,
                    who: str = "web identity") -> Answer | None:
        self._log(who, action, role_arn, message)
        if self.mode == "report":
            return None
        return errors.render("sts", code, message, status)

    # -- quotas --------------------------------------------------------------------------------------------
    def _check_quotas(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
                      who: Signer) -> Answer | None:
        form = _form(headers, body)
        action = form.get("Action", "")
        found: tuple[str, str] | None = None
        account = self.account_of_key(who.access_key)
        try:
            if action == "PutRolePolicy":
                found = self._inline_quota(form, account)
            elif action in ("CreatePolicy", "CreatePolicyVersion"):
                found = _size_quota(form.get("PolicyDocument", ""), MANAGED_QUOTA,
                                    f"Cannot exceed quota for PolicySize: {MANAGED_QUOTA}")
            elif action in ("CreateRole", "UpdateAssumeRolePolicy"):
                doc = form.get("AssumeRolePolicyDocument") or form.get("PolicyDocument", "")
                found = _size_quota(doc, TRUST_QUOTA, f"Cannot exceed quota for ACLSizePerRole: {TRUST_QUOTA}")
            elif action == "AttachRolePolicy":
                found = self._attach_quota(form, account)
        except PolicyError as err:
            found = ("MalformedPolicyDocument", str(err))
        if found is None:
            return None
        code, message = found
        principal = self.principal(who.access_key)
        self._log(principal.arn if principal else "administrator", f"iam:{action}", form.get("RoleName") or
                  form.get("PolicyName") or form.get("PolicyArn", ""), f"{code}: {message}")
        if self.mode == "report":
            return None
        return errors.render("iam", code, message, 409 if code == "LimitExceeded" else 400)

    def _inline_quota(self, form: Mapping[str, str], account: str) -> tuple[str, str] | None:
        role, name, doc = form.get("RoleName", ""), form.get("PolicyName", ""), form.get("PolicyDocument", "")
        malformed = _size_quota(doc, 10**9, "")
        if malformed is not None:
            return malformed
        iam = self._iam(account)
        pending = f"{account}/{role}"
        with self._quota_lock:
            try:
                names = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=role)
                         for n in page["PolicyNames"]]
            except Exception:  # noqa: BLE001 - no such role: moto answers NoSuchEntity itself
                return None
            sizes = {other: policy_size(json.dumps(iam.get_role_policy(RoleName=role, PolicyName=other)["PolicyDocument"]))
                     for other in names}
            sizes.update(self._pending_inline.get(pending, {}))
            sizes[name] = policy_size(doc)
            if sum(sizes.values()) > INLINE_QUOTA:
                return "LimitExceeded", f"Maximum policy size of {INLINE_QUOTA} bytes exceeded for role {role}"
            self._pending_inline.setdefault(pending, {})[name] = sizes[name]
        return None

    def _attach_quota(self, form: Mapping[str, str], account: str) -> tuple[str, str] | None:
        role, arn = form.get("RoleName", ""), form.get("PolicyArn", "")
        pending = f"{account}/{role}"
        with self._quota_lock:
            try:
                attached = {a["PolicyArn"] for page in self._iam(account).get_paginator("list_attached_role_policies")
                            .paginate(RoleName=role) for a in page["AttachedPolicies"]}
            except Exception:  # noqa: BLE001 - no such role: moto answers NoSuchEntity itself
                return None
            attached |= self._pending_attach.get(pending, set())
            if arn not in attached and len(attached) >= ATTACHED_QUOTA:
                return "LimitExceeded", f"Cannot exceed quota for PoliciesPerRole: {ATTACHED_QUOTA}"
            self._pending_attach.setdefault(pending, set()).add(arn)
        return None

    # -- identity policies ---------------------------------------------------------------------------------
    def _check_principal(self, principal: Principal, method: str, path: str, headers: Mapping[str, str],
                         body: bytes, who: Signer) -> Answer | None:
        try:
            call = parse(method, path, headers, body, who, principal.account,
                         self.in_account(principal.account, who.region))
            asked = questions(call)
            if call.action == "sts:GetCallerIdentity":
                return None
            policies = self.policies(principal.role_arn)
            if policies.reads_resource_tags:
                asked = [one for q in asked for one in with_resource_tags(q, self.moto_endpoint, principal.account)]
            for question in asked:
                decision = evaluate(policies.identity, policies.boundary, question)
                if not decision.allowed:
                    return self._deny(principal, question, decision, who.service, _target(headers))
            if call.action == "sts:AssumeRole":
                return self._check_assume_role(principal, call.p("RoleArn"))
        except Unmapped as err:
            message = f"IAM gate (test harness) cannot map this request: {err}; see tests/harness/iam_gate/requests.py"
            self._log(principal.arn, "unmapped", urlsplit(path).path, str(err))
            if self.mode == "report":
                return None
            return errors.render(who.service, "IamGateUnmappedRequest", message, 400, _target(headers))
        except PolicyError as err:
            self._log(principal.arn, "policy", principal.role_arn, f"unreadable policy: {err}")
            if self.mode == "report":
                return None
            return errors.render(who.service, "IamGatePolicyError", f"IAM gate (test harness): {err}", 400,
                                 _target(headers))
        return None

    def _check_assume_role(self, principal: Principal, role_arn: str) -> Answer | None:
        try:
            trust = self.policies(role_arn).trust
        except Exception:  # noqa: BLE001 - no such role: moto answers
            return None
        callers = {"AWS": principal.role_arn}
        # A trust in `arn:aws:iam::ACCOUNT:root` delegates to that account's identity policies: the
        # caller's account, which is the one trusted only when it is the one named.
        if trust is not None and (trust_allows(trust, "sts:AssumeRole", callers, {}) or trust_allows(
                trust, "sts:AssumeRole", {"AWS": f"arn:aws:iam::{principal.account}:root"}, {})):
            return None
        message = f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        self._log(principal.arn, "sts:AssumeRole", role_arn, "trust policy does not allow the caller")
        return None if self.mode == "report" else errors.render("sts", "AccessDenied", message, 403)

    def _deny(self, principal: Principal, question: AuthzRequest, decision: Decision, service: str,
              target: str) -> Answer | None:
        message = errors.denial_message(principal.arn, question.action, decision.resource, decision.reason)
        self._log(principal.arn, question.action, decision.resource, decision.reason)
        if self.mode == "report":
            return None
        return errors.render(service, "", message, 403, target)

    def _log(self, principal: str, action: str, resource: str, reason: str) -> None:
        entry = {"time": time.time(), "mode": self.mode, "principal": principal, "action": action,
                 "resource": resource, "reason": reason}
        with self._lock:
            self.refused += 1
            if self.log_path is not None:
                with open(self.log_path, "a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")


# -- helpers -----------------------------------------------------------------------------------------------

def with_resource_tags(question: AuthzRequest, endpoint: str, account: str | None = None) -> list[AuthzRequest]:
    """One question per resource, each with that resource's tags as `aws:ResourceTag/K` and `SERVICE:ResourceTag/K`."""
    service = question.action.split(":", 1)[0]
    split = []
    for resource in question.resources:
        context = {k: list(v) for k, v in question.context.items()}
        for key, value in resource_tags(resource, endpoint, account).items():
            context[f"aws:ResourceTag/{key}"] = [value]
            context[f"{service}:ResourceTag/{key}"] = [value]
        split.append(AuthzRequest(question.action, (resource,), context, question.action_only))
    return split


class AccountLookups:
    """`requests.Lookups` answered in one account (and region): the caller's."""

    def __init__(self, gate: IamGate, account: str, region: str | None) -> None:
        self.gate, self.account, self.region = gate, account, region

    def role_arn(self, name: str) -> str:
        return self.gate.role_arn(name, self.account)

    def role_boundary(self, name: str) -> str | None:
        return self.gate.role_boundary(name, self.account)

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        return self.gate.scalable_target_arn(namespace, resource_id, dimension, self.account, self.region)


def _target(headers: Mapping[str, str]) -> str:
    return headers.get("x-amz-target") or ""


def _form(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    content_type = (headers.get("content-type") or "").lower()
    if "x-www-form-urlencoded" not in content_type or not body:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _find_text(root: ElementTree.Element, tag: str) -> str:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag and element.text:
            return element.text.strip()
    return ""


def _role_of(assumed_arn: str, account: str) -> str:
    parts = assumed_arn.split(":assumed-role/", 1)
    return f"arn:aws:iam::{account}:role/{parts[1].split('/')[0]}" if len(parts) == 2 else assumed_arn


def _as_policy(document: Any) -> Policy:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as err:
            raise PolicyError(f"policy is not JSON: {err}") from err
    if not isinstance(document, dict):
        raise PolicyError("policy is not a JSON object")
    return document


def _size_quota(document: str, quota: int, message: str) -> tuple[str, str] | None:
    try:
        parsed = json.loads(document)
    except ValueError:
        return "MalformedPolicyDocument", "Syntax errors in policy."
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        return "MalformedPolicyDocument", "Syntax errors in policy."
    if policy_size(document) > quota:
        return "LimitExceeded", message
    return None


def decode_jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT (signature not checked: the fake GitHub's tokens are unsigned)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None
