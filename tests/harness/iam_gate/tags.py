"""Tags of an existing resource, read from moto with administrator credentials, for the condition keys
`aws:ResourceTag/<key>` and its service forms (`ec2:ResourceTag/<key>`, `ecs:ResourceTag/<key>`, ...)."""

from __future__ import annotations

from typing import Any

_ADMIN = {"aws_access_key_id": "gate-admin", "aws_secret_access_key": "gate-admin"}


def _pairs(items: Any, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {str(t[key]): str(t.get(value, "")) for t in items or [] if key in t}


def resource_tags(arn: str, endpoint: str, account: str | None = None) -> dict[str, str]:
    """The resource's tags, read in the resource's account (`account` when its ARN has none, e.g. S3);
    {} for a resource still to be created (`*` in its ARN), unknown or untagged."""
    parts = arn.split(":", 5)
    if "*" in arn or len(parts) != 6:
        return {}
    import boto3

    service, region, resource = parts[2], parts[3] or "us-east-1", parts[5]
    owner = parts[4] if parts[4].isdigit() else account

    def client(name: str) -> Any:
        found = boto3.client(name, region_name=region, endpoint_url=endpoint, **_ADMIN)
        if owner:
            def in_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = owner

            found.meta.events.register("before-sign.*.*", in_account)
        return found

    try:
        if service == "ec2":
            ident = resource.split("/", 1)[-1]
            found = client("ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [ident]}])
            return _pairs(found["Tags"])
        if service == "ecs":
            return _pairs(client("ecs").list_tags_for_resource(resourceArn=arn)["tags"], "key", "value")
        if service == "ecr":
            return _pairs(client("ecr").list_tags_for_resource(resourceArn=arn)["tags"])
        if service == "elasticloadbalancing":
            found = client("elbv2").describe_tags(ResourceArns=[arn])["TagDescriptions"]
            return _pairs(found[0]["Tags"]) if found else {}
        if service == "iam":
            kind, _, name = resource.partition("/")
            iam = client("iam")
            if kind == "role":
                return _pairs(iam.list_role_tags(RoleName=name.rsplit("/", 1)[-1])["Tags"])
            if kind == "policy":
                return _pairs(iam.list_policy_tags(PolicyArn=arn)["Tags"])
            return {}
        if service == "logs":
            found = client("logs").list_tags_for_resource(resourceArn=arn.removesuffix(":*"))["tags"]
            return {str(k): str(v) for k, v in found.items()}
        if service == "s3" and "/" not in resource:
            return _pairs(client("s3").get_bucket_tagging(Bucket=resource)["TagSet"])
        if service == "route53" and resource.startswith("hostedzone/"):
            found = client("route53").list_tags_for_resource(ResourceType="hostedzone",
                                                             ResourceId=resource.split("/", 1)[1])
            return _pairs(found["ResourceTagSet"]["Tags"])
        if service == "autoscaling":
            name = resource.rsplit("autoScalingGroupName/", 1)[-1]
            found = client("autoscaling").describe_tags(Filters=[{"Name": "auto-scaling-group", "Values": [name]}])
            return _pairs(found["Tags"])
        if service == "application-autoscaling":
            found = client("application-autoscaling").list_tags_for_resource(ResourceARN=arn)["Tags"]
            return {str(k): str(v) for k, v in found.items()}
        if service == "cloudwatch":
            return _pairs(client("cloudwatch").list_tags_for_resource(ResourceARN=arn)["Tags"])
    except Exception:  # noqa: BLE001 - no such resource (yet) or no tags: AWS's context has no tag keys then
        return {}
    return {}
