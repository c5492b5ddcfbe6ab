"""moto server with three emulator gaps closed, started by `EmulatedAws` in place of `moto.server`.

1. Bucket policies. moto evaluates policy conditions only for StringEquals and treats any other operator as
satisfied. The shipped state bucket carries the standard statement "Deny everything when
aws:SecureTransport is false"; moto therefore denies every object write to it, although on AWS
(always reached over TLS) that statement never applies. Here a statement conditioned on
`Bool aws:SecureTransport` is evaluated as AWS would for a TLS request: the emulator stands in
for an HTTPS endpoint, it merely listens on plain loopback HTTP.

2. Application Auto Scaling tags. moto implements neither TagResource/UntagResource nor
ListTagsForResource and ignores RegisterScalableTarget's Tags; the AWS provider reads a scalable
target's tags after creating it and retries the 500 moto answers until it times out. Tags are
kept here per scalable target ARN, as the API does.

3. Versioned buckets. Deleting a key whose versions include a delete marker crashes moto
(`FakeDeleteMarker` has no `dispose`), so emptying a versioned state bucket, which
`force_destroy` does on teardown, gets a 500 retried forever. A delete marker holds no data:
disposing of it is a no-op.

4. One registry for every account. ECR's GetAuthorizationToken answers a token for the caller's
account's registry; moto's password is `<account>-auth-token`. The harness serves every account's
registry host from one registry with one password (`.ci/setup-registry.sh`), so every account's
token carries the default account's password, as the registry expects.

Two EC2 answers are corrected in `moto_fidelity` (launch template tags, group-rule descriptions).

Nothing else is changed, unless a test asks for a scenario: `ECS_POC_MOTO_ZONES`
(`region=zone[,zone...][;region=...]`, given to `EmulatedAws(moto_env=...)`) narrows the availability
zones moto offers in a region, to play a region with fewer zones than the stacks need (AWS has had one:
Osaka, ap-northeast-3, opened as a single-zone region).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

from tests.harness import moto_fidelity


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


_AAS_TAGS: dict[str, dict[str, str]] = {}
_AAS_LOCK = threading.Lock()


def _patch_autoscaling_tags() -> None:
    from moto.applicationautoscaling.responses import (
        ApplicationAutoScalingResponse as R,
    )

    register = R.register_scalable_target

    def register_scalable_target(self: Any) -> str:
        answer = register(self)
        tags = self._get_param("Tags") or {}
        arn = json.loads(answer).get("ScalableTargetARN")
        if arn and tags:
            with _AAS_LOCK:
                _AAS_TAGS.setdefault(arn, {}).update(tags)
        return str(answer)

    def tag_resource(self: Any) -> str:
        with _AAS_LOCK:
            _AAS_TAGS.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        with _AAS_LOCK:
            tags = _AAS_TAGS.get(self._get_param("ResourceARN"), {})
            for key in self._get_param("TagKeys") or []:
                tags.pop(key, None)
        return "{}"

    def list_tags_for_resource(self: Any) -> str:
        with _AAS_LOCK:
            return json.dumps({"Tags": dict(_AAS_TAGS.get(self._get_param("ResourceARN"), {}))})

    R.register_scalable_target = register_scalable_target
    R.tag_resource = tag_resource
    R.untag_resource = untag_resource
    R.list_tags_for_resource = list_tags_for_resource


REGISTRY_ACCOUNT = "123456789012"


def _patch_registry_password() -> None:
    import base64

    from moto.ecr.responses import ECRResponse

    original = ECRResponse.get_authorization_token
    password = base64.b64encode(f"AWS:{REGISTRY_ACCOUNT}-auth-token".encode()).decode()

    def get_authorization_token(self: Any) -> Any:
        result = original(self)
        for entry in getattr(result, "result", {}).get("authorizationData", []):
            entry["authorizationToken"] = password
        return result

    ECRResponse.get_authorization_token = get_authorization_token  # type: ignore[method-assign]


def _patch_delete_marker() -> None:
    from moto.s3.models import FakeDeleteMarker

    if not hasattr(FakeDeleteMarker, "dispose"):
        FakeDeleteMarker.dispose = lambda self, garbage=False: None  # type: ignore[attr-defined]


def parse_zone_limits(spec: str) -> dict[str, list[str]]:
    """`eu-west-2=eu-west-2a;us-west-1=us-west-1a,us-west-1b` -> {region: [zone, ...]}."""
    limits: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        region, sep, zones = part.partition("=")
        names = [z.strip() for z in zones.split(",") if z.strip()]
        if not sep or not region.strip() or not names:
            raise ValueError(f"ECS_POC_MOTO_ZONES: expected region=zone[,zone...], got {part!r}")
        limits[region.strip()] = names
    return limits


def _limit_zones(spec: str) -> None:
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    for region, names in parse_zone_limits(spec).items():
        offered = RegionsAndZonesBackend.zones.get(region, [])
        unknown = set(names) - {z.name for z in offered}
        if unknown:
            raise ValueError(f"ECS_POC_MOTO_ZONES: {region} has no zones {sorted(unknown)}")
        RegionsAndZonesBackend.zones[region] = [z for z in offered if z.name in names]


def main() -> None:
    zones = os.environ.get("ECS_POC_MOTO_ZONES", "")
    if zones:
        _limit_zones(zones)
    moto_fidelity.apply()
    _patch()
    _patch_autoscaling_tags()
    _patch_delete_marker()
    _patch_registry_password()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
