"""Refusals in the shape each AWS protocol uses, so that SDKs and terraform report them as they would AWS's."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

# Services that answer only in a JSON protocol, whatever the request looked like (a refused
# AssumeRoleWithWebIdentity carries no X-Amz-Target but STS is a query service).
JSON_SERVICES = frozenset({"ecs", "ecr", "logs", "ssm", "application-autoscaling", "servicediscovery", "kms",
                           "dynamodb", "secretsmanager", "events"})


def protocol(service: str, target: str) -> str:
    """`json` for X-Amz-Target requests (the service then answers in JSON), else the service name."""
    return "json" if target or service in JSON_SERVICES else service
_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "cloudwatch": "http://monitoring.amazonaws.com/doc/2010-08-01/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}


def denial_message(principal: str, action: str, resource: str, reason: str) -> str:
    """AWS's wording: `User: ARN is not authorized to perform: ACTION on resource: ARN because ...`."""
    joined = f"because {reason}" if reason.startswith("no ") else reason
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {joined}"


def render(service: str, code: str, message: str, status: int, target: str = "") -> tuple[int, str, bytes]:
    """(status, content type, body) of an error answer; `code` '' means the service's access-denied code.
    `target` is the request's X-Amz-Target, if any: JSON requests get JSON errors."""
    request_id = str(uuid.uuid4())
    if protocol(service, target) == "json":
        import json

        body = json.dumps({"__type": code or "AccessDeniedException", "message": message, "Message": message})
        return status, "application/x-amz-json-1.1", body.encode()
    text = escape(message)
    if service == "ec2":
        ec2_code = code or "UnauthorizedOperation"
        if ec2_code == "UnauthorizedOperation":
            text = escape(f"You are not authorized to perform this operation. {message}")
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{ec2_code}</Code>"
               f"<Message>{text}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
        return status, "text/xml;charset=UTF-8", xml.encode()
    if service == "s3":
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code or 'AccessDenied'}</Code>"
               f"<Message>{text}</Message><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>")
        return status, "application/xml", xml.encode()
    namespace = _NAMESPACES.get(service, "https://amazonaws.com/doc/")
    xml = (f"<ErrorResponse xmlns=\"{namespace}\"><Error><Type>Sender</Type><Code>{code or 'AccessDenied'}</Code>"
           f"<Message>{text}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, "text/xml", xml.encode()
