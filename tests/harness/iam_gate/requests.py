"""From one HTTP request to the IAM questions AWS would ask about it.

A request names its caller by the SigV4 credential (`Authorization` header or a presigned URL's
`X-Amz-Credential`): access key id, region and signing service. Its operation comes from the protocol:
`X-Amz-Target` (JSON), `Action=` (query), `/service/.../operation/Op` (RPC v2), or the method and path
(REST: S3, Route 53). Each operation then maps to one or more `AuthzRequest`s: the action, the resource
ARNs built from the request's parameters, and the condition keys the policies use. A call that also passes
a role (RegisterTaskDefinition, CreateFlowLogs, AddRoleToInstanceProfile, ...) asks `iam:PassRole` too.

A mutating operation this module cannot build a resource for raises `Unmapped`: the gate refuses it with a
harness error naming the operation, so a gap shows instead of being silently allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

from tests.harness.iam_gate import actions
from tests.harness.iam_gate.policy import AuthzRequest, glob_match

# SigV4 signing name -> IAM service prefix, where they differ.
_PREFIX = {"monitoring": "cloudwatch", "elasticloadbalancingv2": "elasticloadbalancing"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_RPC_V2 = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")


class Unmapped(Exception):
    """A request the gate cannot turn into IAM questions."""


@dataclass(frozen=True)
class Signer:
    access_key: str
    region: str
    service: str  # the IAM prefix (e.g. `cloudwatch` for signing name `monitoring`)


def signer(path: str, headers: Mapping[str, str]) -> Signer | None:
    """Who signed the request, from the Authorization header or the presigned URL (header names in lower case)."""
    auth = headers.get("authorization") or ""
    found = _CREDENTIAL.search(auth)
    if found is None:
        query = dict(parse_qsl(urlsplit(path).query))
        credential = query.get("X-Amz-Credential", "")
        parts = credential.split("/")
        if len(parts) != 5:
            return None
        key, region, service = parts[0], parts[2], parts[3]
    else:
        key, region, service = found.group(1), found.group(2), found.group(3)
    return Signer(key, region, _PREFIX.get(service, service))


class Lookups(Protocol):
    """What the mapping needs to read from the emulator (with administrator credentials)."""

    def role_arn(self, name: str) -> str: ...
    def role_boundary(self, name: str) -> str | None: ...
    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None: ...


@dataclass
class Call:
    """One request, parsed enough to answer IAM's questions about it."""

    service: str
    operation: str
    region: str
    account: str
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, Any]
    body: bytes
    headers: Mapping[str, str]
    lookups: Lookups
    context: dict[str, list[str]] = field(default_factory=dict)
    # Resources already known from the path (REST protocols).
    path_resources: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"

    def arn(self, rest: str, service: str | None = None, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service or self.service}:{self.region if region else ''}:{self.account if account else ''}:{rest}"

    def p(self, *names: str) -> str:
        """The first non-empty parameter among `names`, as text ('' when none)."""
        for name in names:
            value = self.params.get(name)
            if value not in (None, ""):
                return str(value)
        return ""

    def members(self, prefix: str) -> list[str]:
        """Query-protocol list values `prefix.N` / `prefix.member.N`, in order."""
        pattern = re.compile(rf"^{re.escape(prefix)}(\.member)?\.\d+$")
        return [str(v) for k, v in sorted(self.params.items(), key=lambda kv: _natural(kv[0])) if pattern.match(k)]


def _natural(key: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


Built = list[AuthzRequest]
Builder = Callable[[Call], Sequence[str]]


# -- parsing -----------------------------------------------------------------------------------------------

def parse(method: str, path: str, headers: Mapping[str, str], body: bytes, who: Signer, account: str,
          lookups: Lookups) -> Call:
    """`headers` with lower-case names."""
    split = urlsplit(path)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    target = headers.get("x-amz-target") or ""
    params: dict[str, Any] = {}
    operation = ""
    content_type = (headers.get("content-type") or "").lower()
    rpc = _RPC_V2.match(split.path)
    if target:
        operation = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
        except ValueError as err:
            raise Unmapped(f"{target}: body is not JSON") from err
        params = loaded if isinstance(loaded, dict) else {}
    elif rpc is not None:
        operation = rpc.group(1)
        if body and "cbor" in content_type:
            raise Unmapped(f"{who.service}:{operation} in RPC v2 CBOR: the gate reads JSON and query bodies only")
        params = json.loads(body) if body else {}
    elif who.service in ("s3", "route53"):
        operation = ""  # REST: decided by the service mapping below
    else:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) if body else {}
        params = {**query, **form}
        operation = str(params.get("Action", ""))
        if not operation:
            raise Unmapped(f"{who.service} {method} {split.path}: no Action, X-Amz-Target or REST mapping")
    return Call(who.service, operation, who.region, account, method, unquote(split.path), query, params, body,
                headers, lookups)


# -- the questions -----------------------------------------------------------------------------------------

def questions(call: Call) -> Built:
    """The IAM questions for `call` (raises `Unmapped` for a mutating operation without a resource mapping)."""
    if call.service == "s3":
        return _s3(call)
    if call.service == "route53":
        _route53_operation(call)
    _common_context(call)
    extra: Built = []
    special = _SPECIAL.get(call.action)
    if special is not None:
        extra = special(call)
    if not actions.known(call.action):
        raise Unmapped(f"{call.action} is not in AWS's table of IAM actions")
    builder = _SERVICE_BUILDERS.get(call.service)
    resources: Sequence[str] = builder(call) if builder is not None else []
    read_only = actions.is_read_only(call.action)
    if not actions.takes_resource(call.action):
        resources = ["*"]
    else:
        # Keep only ARNs of the resource types AWS authorises this action against (a request may name
        # other resources, e.g. the image of a launch template, that IAM does not check here).
        patterns = actions.resource_patterns(call.action)
        resources = [r for r in resources if any(glob_match(p, r) for p in patterns)]
    if not resources:
        if not read_only and actions.requires_resource(call.action):
            raise Unmapped(f"{call.action}: no resource ARN mapping for this mutating operation")
        primary = AuthzRequest(call.action, ("*",), dict(call.context), action_only=read_only)
    else:
        primary = AuthzRequest(call.action, tuple(resources), dict(call.context))
    return [primary, *extra]


def _tags_context(call: Call, tags: Mapping[str, str]) -> None:
    if not tags:
        return
    for key, value in tags.items():
        call.context[f"aws:RequestTag/{key}"] = [value]
    call.context["aws:TagKeys"] = list(tags)


def _common_context(call: Call) -> None:
    call.context.setdefault("aws:SecureTransport", ["true"])
    call.context.setdefault("aws:RequestedRegion", [call.region])
    tags: dict[str, str] = {}
    raw = call.params.get("tags") or call.params.get("Tags")
    if isinstance(raw, list):
        for t in raw:
            if isinstance(t, dict):
                k, v = t.get("key", t.get("Key")), t.get("value", t.get("Value", ""))
                if k is not None:
                    tags[str(k)] = str(v)
    elif isinstance(raw, dict):
        tags.update({str(k): str(v) for k, v in raw.items()})
    # Query protocol: Tags.member.N.Key / TagSpecification.N.Tag.M.Key / Tags.N.Key
    for key, value in call.params.items():
        m = re.match(r"^(.*(?:Tags?|Tag))(?:\.member)?\.(\d+)\.Key$", key)
        if m:
            tags[str(value)] = str(call.params.get(f"{key[:-4]}.Value", ""))
    _tags_context(call, tags)


# -- per service --------------------------------------------------------------------------------------------

_EC2_TYPES = {
    "vpc-": "vpc", "subnet-": "subnet", "igw-": "internet-gateway", "eipalloc-": "elastic-ip",
    "nat-": "natgateway", "rtb-": "route-table", "sg-": "security-group", "sgr-": "security-group-rule",
    "lt-": "launch-template", "fl-": "vpc-flow-log", "i-": "instance", "acl-": "network-acl",
    "eni-": "network-interface", "vpce-": "vpc-endpoint", "vol-": "volume", "ami-": "image",
    "dopt-": "dhcp-options", "pl-": "prefix-list", "key-": "key-pair",
}
_EC2_CREATES = {
    "CreateVpc": "vpc", "CreateSubnet": "subnet", "CreateInternetGateway": "internet-gateway",
    "AllocateAddress": "elastic-ip", "CreateNatGateway": "natgateway", "CreateRouteTable": "route-table",
    "CreateSecurityGroup": "security-group", "CreateLaunchTemplate": "launch-template",
    "CreateFlowLogs": "vpc-flow-log", "CreateNetworkAcl": "network-acl", "RunInstances": "instance",
    "CreateVpcEndpoint": "vpc-endpoint", "CreateNetworkInterface": "network-interface",
    "AuthorizeSecurityGroupIngress": "security-group-rule", "AuthorizeSecurityGroupEgress": "security-group-rule",
}
# Parameters that name another resource without being the one acted on.
_EC2_NOT_TARGET = re.compile(r"(CidrBlock|Description|Name|Version|Token|Data|Peering|GroupName|Type)")


def _ec2(call: Call) -> list[str]:
    found: list[str] = []
    for key, value in call.params.items():
        text = str(value)
        if key in ("Action", "Version") or _EC2_NOT_TARGET.search(key.split(".")[-1]):
            continue
        for prefix, kind in _EC2_TYPES.items():
            if text.startswith(prefix) and re.fullmatch(r"[a-z]+-[0-9a-f]{6,}", text):
                arn = call.arn(f"{kind}/{text}", account=kind != "image")
                if arn not in found:
                    found.append(arn)
    created = _EC2_CREATES.get(call.operation)
    if created:
        found.insert(0, call.arn(f"{created}/*"))
    return found


def _ecs_cluster(call: Call) -> str:
    name = call.p("cluster") or "default"
    return name if name.startswith("arn:") else call.arn(f"cluster/{name}")


def _last(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _ecs_service(call: Call, service: str) -> str:
    if service.startswith("arn:"):
        return service
    return call.arn(f"service/{_last(_ecs_cluster(call))}/{service}")


def _ecs_task_definition(call: Call, value: str) -> str:
    if value.startswith("arn:"):
        return value
    return call.arn(f"task-definition/{value if ':' in value else value + ':*'}")


def _ecs_capacity_provider(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn(f"capacity-provider/{name}")


def _ecs(call: Call) -> list[str]:
    op = call.operation
    if call.params.get("cluster") is not None or op in (
        "CreateService", "UpdateService", "DeleteService", "DescribeServices", "ListTasks", "DescribeTasks",
        "RunTask", "StartTask", "StopTask", "ListServices",
    ):
        call.context["ecs:cluster"] = [_ecs_cluster(call)]
    strategy = call.params.get("capacityProviderStrategy")
    if isinstance(strategy, list) and strategy:
        call.context["ecs:capacity-provider"] = [
            _ecs_capacity_provider(call, str(s.get("capacityProvider", ""))) for s in strategy if isinstance(s, dict)]
    if op in ("CreateService", "UpdateService", "RunTask", "StartTask") and call.p("taskDefinition"):
        call.context["ecs:task-definition"] = [_ecs_task_definition(call, call.p("taskDefinition"))]
    if op == "CreateService":
        return [_ecs_service(call, call.p("serviceName"))]
    if op in ("UpdateService", "DeleteService"):
        return [_ecs_service(call, call.p("service"))]
    if op == "DescribeServices":
        return [_ecs_service(call, str(s)) for s in call.params.get("services") or []]
    if op == "RegisterTaskDefinition":
        return [_ecs_task_definition(call, call.p("family"))]
    if op in ("DeregisterTaskDefinition", "DescribeTaskDefinition"):
        return [_ecs_task_definition(call, call.p("taskDefinition"))]
    if op in ("RunTask", "StartTask"):
        return [_ecs_task_definition(call, call.p("taskDefinition"))]
    if op in ("StopTask",):
        task = call.p("task")
        return [task if task.startswith("arn:") else call.arn(f"task/{_last(_ecs_cluster(call))}/{task}")]
    if op == "DescribeTasks":
        cluster = _last(_ecs_cluster(call))
        return [t if str(t).startswith("arn:") else call.arn(f"task/{cluster}/{t}") for t in call.params.get("tasks") or []]
    if op == "ListTasks":
        return [call.arn(f"container-instance/{_last(_ecs_cluster(call))}/*")]
    if op in ("CreateCluster",):
        return [call.arn(f"cluster/{call.p('clusterName') or 'default'}")]
    if op in ("DeleteCluster", "UpdateCluster", "PutClusterCapacityProviders", "UpdateClusterSettings"):
        return [_ecs_cluster(call)]
    if op == "DescribeClusters":
        return [c if str(c).startswith("arn:") else call.arn(f"cluster/{c}") for c in call.params.get("clusters") or []]
    if op in ("CreateCapacityProvider", "DeleteCapacityProvider", "UpdateCapacityProvider"):
        name = call.p("name", "capacityProvider")
        return [name if name.startswith("arn:") else call.arn(f"capacity-provider/{name}")]
    if op == "DescribeCapacityProviders":
        return [c if str(c).startswith("arn:") else call.arn(f"capacity-provider/{c}")
                for c in call.params.get("capacityProviders") or []]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        return [call.p("resourceArn")]
    return []


def _ecs_pass_role(call: Call) -> Built:
    roles = [call.p("taskRoleArn"), call.p("executionRoleArn")]
    if call.operation in ("RunTask", "StartTask"):
        overrides = call.params.get("overrides") or {}
        roles = [str(overrides.get("taskRoleArn") or ""), str(overrides.get("executionRoleArn") or "")]
    if call.operation == "CreateService":
        roles = [call.p("role")]
    return _pass_role([r for r in roles if r], "ecs-tasks.amazonaws.com" if call.operation != "CreateService"
                      else "ecs.amazonaws.com", call)


def _pass_role(role_arns: Sequence[str], to_service: str, call: Call) -> Built:
    out: Built = []
    for arn in dict.fromkeys(role_arns):
        if not arn.startswith("arn:"):
            arn = call.lookups.role_arn(arn.rsplit("/", 1)[-1])
        ctx = {"iam:PassedToService": [to_service], "aws:SecureTransport": ["true"]}
        out.append(AuthzRequest("iam:PassRole", (arn,), ctx))
    return out


def _ecr(call: Call) -> list[str]:
    name = call.p("repositoryName")
    if name:
        return [call.arn(f"repository/{name}")]
    if call.p("resourceArn"):
        return [call.p("resourceArn")]
    return []


def _elb(call: Call) -> list[str]:
    op = call.operation
    if op == "CreateLoadBalancer":
        kind = "net" if call.p("Type") == "network" else "app"
        return [call.arn(f"loadbalancer/{kind}/{call.p('Name')}/*")]
    if op == "CreateTargetGroup":
        return [call.arn(f"targetgroup/{call.p('Name')}/*")]
    if op == "CreateListener":
        return [call.p("LoadBalancerArn")]
    if op == "CreateRule":
        return [call.p("ListenerArn")]
    if op in ("AddTags", "RemoveTags", "DescribeTags"):
        return call.members("ResourceArns")
    if op == "SetRulePriorities":
        return [str(v) for k, v in call.params.items() if k.endswith(".RuleArn")]
    for key in ("RuleArn", "ListenerArn", "TargetGroupArn", "LoadBalancerArn"):
        if call.p(key):
            return [call.p(key)]
    return []


def _iam(call: Call) -> list[str]:
    op = call.operation
    role = call.p("RoleName")
    if op == "CreateRole":
        path = call.p("Path") or "/"
        if call.p("PermissionsBoundary"):
            call.context["iam:PermissionsBoundary"] = [call.p("PermissionsBoundary")]
        return [call.arn(f"role{path}{role}", region=False)]
    if op == "CreateServiceLinkedRole":
        service = call.p("AWSServiceName")
        call.context["iam:AWSServiceName"] = [service]
        name = _SERVICE_LINKED.get(service, f"AWSServiceRoleFor{service.split('.')[0].capitalize()}")
        return [call.arn(f"role/aws-service-role/{service}/{name}", region=False)]
    if call.p("InstanceProfileName"):
        return [call.arn(f"instance-profile{call.p('Path') or '/'}{call.p('InstanceProfileName')}", region=False)]
    if role:
        if op in ("AttachRolePolicy", "DetachRolePolicy"):
            call.context["iam:PolicyARN"] = [call.p("PolicyArn")]
        if op == "PutRolePermissionsBoundary":
            call.context["iam:PermissionsBoundary"] = [call.p("PermissionsBoundary")]
        elif op not in ("GetRole", "ListRoles"):
            boundary = call.lookups.role_boundary(role)
            if boundary:
                call.context["iam:PermissionsBoundary"] = [boundary]
        return [call.lookups.role_arn(role)]
    if op == "CreatePolicy":
        return [call.arn(f"policy{call.p('Path') or '/'}{call.p('PolicyName')}", region=False)]
    if call.p("PolicyArn"):
        return [call.p("PolicyArn")]
    if op == "CreateOpenIDConnectProvider":
        host = urlsplit(call.p("Url")).netloc or call.p("Url")
        return [call.arn(f"oidc-provider/{host}", region=False)]
    if call.p("OpenIDConnectProviderArn"):
        return [call.p("OpenIDConnectProviderArn")]
    return []


_SERVICE_LINKED = {
    "ecs.amazonaws.com": "AWSServiceRoleForECS",
    "autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling",
    "elasticloadbalancing.amazonaws.com": "AWSServiceRoleForElasticLoadBalancing",
    "ecs.application-autoscaling.amazonaws.com": "AWSServiceRoleForApplicationAutoScaling_ECSService",
}


def _iam_pass_role(call: Call) -> Built:
    if call.operation == "AddRoleToInstanceProfile":
        return _pass_role([call.p("RoleName")], "ec2.amazonaws.com", call)
    return []


def _logs(call: Call) -> list[str]:
    group = call.p("logGroupName")
    if call.p("resourceArn"):
        return [call.p("resourceArn")]
    if call.p("logGroupIdentifier"):
        ident = call.p("logGroupIdentifier")
        return [ident if ident.startswith("arn:") else call.arn(f"log-group:{ident}")]
    if group:
        stream = call.p("logStreamName")
        if stream:
            return [call.arn(f"log-group:{group}:log-stream:{stream}")]
        return [call.arn(f"log-group:{group}")]
    return []


def _autoscaling_targets(call: Call) -> list[str]:
    if call.p("ResourceARN"):
        return [call.p("ResourceARN")]
    namespace, resource_id, dimension = call.p("ServiceNamespace"), call.p("ResourceId"), call.p("ScalableDimension")
    if namespace:
        call.context["application-autoscaling:service-namespace"] = [namespace]
    if dimension:
        call.context["application-autoscaling:scalable-dimension"] = [dimension]
    if not resource_id:
        return []
    existing = call.lookups.scalable_target_arn(namespace, resource_id, dimension)
    return [existing or call.arn("scalable-target/*")]


def _cloudwatch(call: Call) -> list[str]:
    if call.p("ResourceARN"):
        return [call.p("ResourceARN")]
    names = [call.p("AlarmName")] if call.p("AlarmName") else call.members("AlarmNames")
    if not names and isinstance(call.params.get("AlarmNames"), list):
        names = [str(n) for n in call.params["AlarmNames"]]
    return [call.arn(f"alarm:{n}") for n in names if n]


def _asg(call: Call) -> list[str]:
    names = [call.p("AutoScalingGroupName")] if call.p("AutoScalingGroupName") else []
    names += [str(v) for k, v in call.params.items() if re.match(r"^Tags\.member\.\d+\.ResourceId$", k)]
    if call.operation == "DescribeAutoScalingGroups":
        names += call.members("AutoScalingGroupNames")
    arns = [call.arn(f"autoScalingGroup:*:autoScalingGroupName/{n}") for n in dict.fromkeys(names)]
    if call.p("LaunchConfigurationName"):
        arns.append(call.arn(f"launchConfiguration:*:launchConfigurationName/{call.p('LaunchConfigurationName')}"))
    return arns


def _ssm(call: Call) -> list[str]:
    names = [call.p("Name")] if call.p("Name") else [str(n) for n in call.params.get("Names") or []]
    out = []
    for name in names:
        public = name.startswith("/aws/")
        out.append(call.arn(f"parameter/{name.lstrip('/')}", account=not public))
    return out


def _sts(call: Call) -> list[str]:
    if call.p("RoleArn"):
        return [call.p("RoleArn")]
    return []


def _ec2_pass_role(call: Call) -> Built:
    if call.operation == "CreateFlowLogs" and call.p("DeliverLogsPermissionArn"):
        return _pass_role([call.p("DeliverLogsPermissionArn")], "vpc-flow-logs.amazonaws.com", call)
    return []


_SERVICE_BUILDERS: dict[str, Builder] = {
    "ec2": _ec2,
    "ecs": _ecs,
    "ecr": _ecr,
    "elasticloadbalancing": _elb,
    "iam": _iam,
    "logs": _logs,
    "application-autoscaling": _autoscaling_targets,
    "cloudwatch": _cloudwatch,
    "autoscaling": _asg,
    "ssm": _ssm,
    "sts": _sts,
}
_SPECIAL: dict[str, Callable[[Call], Built]] = {
    "ecs:RegisterTaskDefinition": _ecs_pass_role,
    "ecs:RunTask": _ecs_pass_role,
    "ecs:StartTask": _ecs_pass_role,
    "ecs:CreateService": _ecs_pass_role,
    "iam:AddRoleToInstanceProfile": _iam_pass_role,
    "ec2:CreateFlowLogs": _ec2_pass_role,
}


# -- Route 53 (REST) ----------------------------------------------------------------------------------------

_R53 = [
    ("POST", r"^/2013-04-01/hostedzone/?$", "CreateHostedZone", None),
    ("GET", r"^/2013-04-01/hostedzone/?$", "ListHostedZones", None),
    ("GET", r"^/2013-04-01/hostedzonesbyname/?$", "ListHostedZonesByName", None),
    ("GET", r"^/2013-04-01/hostedzonesbyvpc/?$", "ListHostedZonesByVPC", None),
    ("GET", r"^/2013-04-01/hostedzonecount/?$", "GetHostedZoneCount", None),
    ("GET", r"^/2013-04-01/hostedzone/([^/]+)/rrset/?$", "ListResourceRecordSets", "hostedzone"),
    ("POST", r"^/2013-04-01/hostedzone/([^/]+)/rrset/?$", "ChangeResourceRecordSets", "hostedzone"),
    ("POST", r"^/2013-04-01/hostedzone/([^/]+)/associatevpc/?$", "AssociateVPCWithHostedZone", "hostedzone"),
    ("POST", r"^/2013-04-01/hostedzone/([^/]+)/disassociatevpc/?$", "DisassociateVPCFromHostedZone", "hostedzone"),
    ("GET", r"^/2013-04-01/hostedzone/([^/]+)/dnssec/?$", "GetDNSSEC", "hostedzone"),
    ("GET", r"^/2013-04-01/hostedzone/([^/]+)/?$", "GetHostedZone", "hostedzone"),
    ("POST", r"^/2013-04-01/hostedzone/([^/]+)/?$", "UpdateHostedZoneComment", "hostedzone"),
    ("DELETE", r"^/2013-04-01/hostedzone/([^/]+)/?$", "DeleteHostedZone", "hostedzone"),
    ("GET", r"^/2013-04-01/change/([^/]+)/?$", "GetChange", "change"),
    ("GET", r"^/2013-04-01/tags/hostedzone/([^/]+)/?$", "ListTagsForResource", "hostedzone"),
    ("POST", r"^/2013-04-01/tags/hostedzone/([^/]+)/?$", "ChangeTagsForResource", "hostedzone"),
    ("POST", r"^/2013-04-01/tags/hostedzone/?$", "ListTagsForResources", None),
]


def _route53_operation(call: Call) -> None:
    for method, pattern, operation, kind in _R53:
        found = re.match(pattern, call.path)
        if method == call.method and found:
            call.operation = operation
            if kind:
                call.path_resources = [f"arn:aws:route53:::{kind}/{found.group(1)}"]
            return
    raise Unmapped(f"route53 {call.method} {call.path}: no REST mapping")


def _route53(call: Call) -> list[str]:
    if call.operation == "ChangeResourceRecordSets":
        _record_changes_context(call)
    return call.path_resources


def _record_changes_context(call: Call) -> None:
    """Route53's condition keys of a change batch: each change's action, record type and name (normalised
    as AWS does: lower case, no trailing dot)."""
    try:
        root = ElementTree.fromstring(call.body or b"<x/>")
    except ElementTree.ParseError as err:
        raise Unmapped(f"route53 ChangeResourceRecordSets: body is not XML ({err})") from err
    changes = [c for c in root.iter() if c.tag.rsplit("}", 1)[-1] == "Change"]

    def texts(change: ElementTree.Element, name: str) -> list[str]:
        return [e.text or "" for e in change.iter() if e.tag.rsplit("}", 1)[-1] == name]

    actions_, types, names = [], [], []
    for change in changes:
        actions_ += texts(change, "Action")
        record = next((e for e in change.iter() if e.tag.rsplit("}", 1)[-1] == "ResourceRecordSet"), None)
        if record is not None:
            types += [t for t in texts(record, "Type")[:1]]
            names += [n.lower().rstrip(".") for n in texts(record, "Name")[:1]]
    call.context["route53:ChangeResourceRecordSetsActions"] = sorted(set(actions_))
    call.context["route53:ChangeResourceRecordSetsRecordTypes"] = sorted(set(types))
    call.context["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = sorted(set(names))


_SERVICE_BUILDERS["route53"] = _route53


# -- S3 (REST) ------------------------------------------------------------------------------------------------

# bucket subresource -> (GET, PUT, DELETE) actions
_S3_BUCKET_SUB = {
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "location": ("GetBucketLocation", None, None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
    "analytics": ("GetAnalyticsConfiguration", "PutAnalyticsConfiguration", "PutAnalyticsConfiguration"),
    "intelligent-tiering": ("GetIntelligentTieringConfiguration", "PutIntelligentTieringConfiguration",
                            "PutIntelligentTieringConfiguration"),
    "inventory": ("GetInventoryConfiguration", "PutInventoryConfiguration", "PutInventoryConfiguration"),
    "metrics": ("GetMetricsConfiguration", "PutMetricsConfiguration", "PutMetricsConfiguration"),
}
_S3_OBJECT_SUB = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
    "attributes": ("GetObjectAttributes", None, None),
}


def _s3(call: Call) -> Built:
    call.context.update({"aws:SecureTransport": ["true"], "aws:RequestedRegion": [call.region]})
    host = (call.headers.get("host") or "").split(":")[0]
    path = call.path
    if host and not re.fullmatch(r"[\d.]+|localhost", host) and ".s3" in host:
        path = f"/{host.split('.s3')[0]}{path}"
    bucket, _, key = path.lstrip("/").partition("/")
    method, q = call.method, call.query
    bucket_arn = f"arn:aws:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{key}"

    def ask(operation: str, *resources: str) -> Built:
        call.operation = operation
        return [AuthzRequest(f"s3:{operation}", resources or ("*",), dict(call.context))]

    if not bucket:
        if method == "GET":
            return ask("ListAllMyBuckets")
        raise Unmapped(f"s3 {method} /: no REST mapping")
    if not key:
        sub = next((s for s in _S3_BUCKET_SUB if s in q), None)
        if sub is not None:
            get, put, delete = _S3_BUCKET_SUB[sub]
            chosen = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method)
            if chosen is None:
                raise Unmapped(f"s3 {method} /{bucket}?{sub}: no REST mapping")
            return ask(chosen, bucket_arn)
        if method == "POST" and "delete" in q:
            return _s3_delete_objects(call, bucket_arn)
        if method in ("GET", "HEAD"):
            if "prefix" in q:
                call.context["s3:prefix"] = [q["prefix"]]
            if "delimiter" in q:
                call.context["s3:delimiter"] = [q["delimiter"]]
            return ask("ListBucket", bucket_arn)
        if method == "PUT":
            return ask("CreateBucket", bucket_arn)
        if method == "DELETE":
            return ask("DeleteBucket", bucket_arn)
        raise Unmapped(f"s3 {method} /{bucket}: no REST mapping")
    sub = next((s for s in _S3_OBJECT_SUB if s in q), None)
    versioned = "versionId" in q
    if sub is not None:
        get, put, delete = _S3_OBJECT_SUB[sub]
        chosen = {"GET": get, "HEAD": get, "PUT": put, "DELETE": delete}.get(method)
        if chosen is None:
            raise Unmapped(f"s3 {method} /{bucket}/{key}?{sub}: no REST mapping")
        if versioned and chosen.endswith(("Tagging", "Acl")):
            chosen = chosen.replace("Object", "ObjectVersion", 1)
        return ask(chosen, object_arn)
    if method in ("GET", "HEAD"):
        if "uploadId" in q:
            return ask("ListMultipartUploadParts", object_arn)
        return ask("GetObjectVersion" if versioned else "GetObject", object_arn)
    if method in ("PUT", "POST"):
        asked = ask("PutObject", object_arn)
        source = call.headers.get("x-amz-copy-source")
        if source:
            src = unquote(source.split("?")[0]).lstrip("/")
            asked.append(AuthzRequest("s3:GetObject", (f"arn:aws:s3:::{src}",), dict(call.context)))
        return asked
    if method == "DELETE":
        if "uploadId" in q:
            return ask("AbortMultipartUpload", object_arn)
        return ask("DeleteObjectVersion" if versioned else "DeleteObject", object_arn)
    raise Unmapped(f"s3 {method} /{bucket}/{key}: no REST mapping")


def _s3_delete_objects(call: Call, bucket_arn: str) -> Built:
    call.operation = "DeleteObjects"
    try:
        root = ElementTree.fromstring(call.body)
    except ElementTree.ParseError as err:
        raise Unmapped("s3 DeleteObjects: body is not XML") from err
    out: Built = []
    for obj in root.iter():
        if not obj.tag.endswith("Object"):
            continue
        key = next((c.text or "" for c in obj if c.tag.endswith("Key")), "")
        versioned = any(c.tag.endswith("VersionId") for c in obj)
        out.append(AuthzRequest("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
                                (f"{bucket_arn}/{key}",), dict(call.context)))
    return out
