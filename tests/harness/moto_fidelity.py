"""Two EC2 answers moto gets wrong, corrected in the moto server process (`moto_server` applies
them at start-up), so that a plan of an unchanged shared stack is empty, as it is on AWS.

1. Launch template tags. CreateLaunchTemplate's top-level TagSpecification (resource type
   `launch-template`) tags the template itself. moto also copies it into the version's
   LaunchTemplateData.TagSpecifications, where AWS keeps only what the template will tag
   (instances, volumes, ...) and rejects `launch-template` outright. The AWS provider reads it
   back as a tag specification the configuration lacks, so every plan updates the template
   and, through its new version, the autoscaling group. The copy is dropped here.

2. Descriptions of rules that reference a security group. moto keeps the description of such a
   rule with the referenced group but reports a rule's description only from its CIDR range, so
   DescribeSecurityGroupRules returns none, and every plan sets it again. A rule's description is
   here the one it was given, whichever kind of peer it has.
"""

from __future__ import annotations

from typing import Any

LAUNCH_TEMPLATE_RESOURCE = "launch-template"


def version_data_without_template_tags(data: dict[str, Any]) -> dict[str, Any]:
    """Launch template data as AWS stores it: without a tag specification for the template itself."""
    specs = data.get("TagSpecifications")
    if not isinstance(specs, list):
        return data
    kept = [s for s in specs if not (isinstance(s, dict) and s.get("ResourceType") == LAUNCH_TEMPLATE_RESOURCE)]
    return {**data, "TagSpecifications": kept} if len(kept) != len(specs) else data


def rule_description(ip_range: dict[str, str], source_group: dict[str, str]) -> str | None:
    """The description of a security group rule, whether its peer is a CIDR range or a group."""
    return ip_range.get("Description") or source_group.get("Description")


def _patch_launch_template_versions() -> None:
    from moto.ec2.models.launch_templates import LaunchTemplateVersion

    original = LaunchTemplateVersion.__init__

    def __init__(self: Any, template: Any, number: int, data: dict[str, Any], description: str) -> None:
        original(self, template, number, version_data_without_template_tags(data), description)

    LaunchTemplateVersion.__init__ = __init__


def _patch_rule_descriptions() -> None:
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return rule_description(self.ip_range, self.source_group)

    SecurityGroupRule.description = property(description)


def apply() -> None:
    """Install both corrections; call before moto serves its first request."""
    _patch_launch_template_versions()
    _patch_rule_descriptions()
