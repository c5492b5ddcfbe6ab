"""Route 53 record changes carry the condition keys AWS sets for them, so that a policy limiting a
role to its own zone's names is evaluated, not waved through (ForAllValues holds on an absent key)."""

from __future__ import annotations

from tests.harness.tests.test_iam_requests import ask


def test_change_batch_gives_actions_types_and_normalised_names() -> None:
    [q] = ask("route53", "change_resource_record_sets", HostedZoneId="Z0123456789", ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": "Hello.MyOrg.local.", "Type": "A", "AliasTarget": {
            "HostedZoneId": "Z1", "DNSName": "alb.example.com", "EvaluateTargetHealth": False}}},
        {"Action": "DELETE", "ResourceRecordSet": {"Name": "old.myorg.local", "Type": "CNAME", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "x.example.com"}]}},
    ]})
    assert q.context["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == ["hello.myorg.local", "old.myorg.local"]
    assert q.context["route53:ChangeResourceRecordSetsRecordTypes"] == ["A", "CNAME"]
    assert q.context["route53:ChangeResourceRecordSetsActions"] == ["DELETE", "UPSERT"]
