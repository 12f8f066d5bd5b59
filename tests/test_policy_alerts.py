"""sns-topic-has-subscriber over the Analyzer protocol: a topic nobody hears is reported, however it is subscribed."""

from __future__ import annotations

import pytest

from offline.gate import PolicyPackProcess, run_gate, stack_pack_config
from offline.harness import StackRun
from tests.policykit import UNKNOWN, Res, check, violations

POLICY = "sns-topic-has-subscriber"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as analyzer:
        yield analyzer


def topic(name: str = "alerts", **props) -> Res:
    return Res("aws:sns/topic:Topic", name, {"arn": UNKNOWN, **props})


def subscription(target: Res | None, **props) -> Res:
    return Res(
        "aws:sns/topicSubscription:TopicSubscription", "alerts-email", {"protocol": "email", **props}, {"topic": [target]} if target else {}
    )


def test_a_topic_without_subscription_is_reported_at_the_configured_level(pack):
    lonely = topic()
    assert violations(check(pack, lonely), POLICY) == [
        "[advisory] Topic 'alerts' has no subscription, so its alerts reach no one: add one (alertEmails, next to owner "
        "in Pulumi.<stack>.yaml, or an aws.sns.TopicSubscription to your paging tool)"
    ]
    assert not check(pack, lonely, config={POLICY: "mandatory"}).passed


def test_a_subscription_by_graph_edge_or_literal_arn_counts(pack):
    alerts = topic()
    assert violations(check(pack, alerts, subscription(alerts, topic=UNKNOWN)), POLICY) == []  # a first preview: only the edge
    arn = "arn:aws:sns:us-east-1:123456789012:alerts"
    assert violations(check(pack, topic(arn=arn), subscription(None, topic=arn)), POLICY) == []
    other = topic("other")
    assert len(violations(check(pack, alerts, other, subscription(other, topic=UNKNOWN)), POLICY)) == 1  # another topic's


def test_aws_native_inline_subscriptions_count(pack):
    native = Res("aws-native:sns:Topic", "native", {"subscription": [{"protocol": "email", "endpoint": "a@example.com"}]})
    assert violations(check(pack, native), POLICY) == []
    assert len(violations(check(pack, Res("aws-native:sns:Topic", "bare", {})), POLICY)) == 1


@pytest.mark.reference  # the shipped placeholder: a fork sets its own address
def test_dev_is_told_and_prod_ships_a_subscriber(dev: StackRun, prod: StackRun):
    advisories = [v for v in run_gate(dev, *stack_pack_config("dev")).violations if v.policy == POLICY]
    assert [(v.level, "Topic 'pipeline-alerts' has no subscription" in v.message) for v in advisories] == [("advisory", True)]
    assert not [v for v in run_gate(prod, *stack_pack_config("prod")).violations if v.policy == POLICY]
    (email,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert email.inputs["endpoint"] == "data-platform-oncall@example.com"  # the placeholder users replace


CONFIRM = "sns-subscriber-can-confirm"


@pytest.mark.parametrize(
    ("endpoint", "reserved"),
    [
        ("oncall@example.com", True), ("a@alerts.example.org", True), ("a@EXAMPLE.NET.", True), ("a@pager.test", True),
        ("a@x.invalid", True), ("a@host.localhost", True), ("a@company.example", True),
        ("a@example.co", False), ("a@examples.com", False), ("a@notexample.com", False), ("a@company.com", False),
    ],
)  # fmt: skip
def test_an_email_to_a_reserved_domain_is_reported(pack, endpoint: str, reserved: bool):
    alerts = topic()
    found = violations(check(pack, alerts, subscription(alerts, topic=UNKNOWN, endpoint=endpoint)), CONFIRM)
    assert found == ([
        f"[advisory] TopicSubscription 'alerts-email' sends alerts to {endpoint}, a reserved domain (RFC 2606) where no one "
        "can confirm the subscription, so its alerts reach no one: before the stack's first deploy, set alertEmails in "
        "Pulumi.<stack>.yaml to an address someone reads"
    ] if reserved else [])  # fmt: skip


def test_other_protocols_and_aws_native_inline_subscriptions(pack):
    alerts = topic()
    assert (
        violations(check(pack, alerts, subscription(alerts, topic=UNKNOWN, protocol="https", endpoint="https://example.com/hook")), CONFIRM)
        == []
    )
    native = Res("aws-native:sns:Topic", "native", {"subscription": [{"protocol": "email", "endpoint": "a@example.com"}]})
    assert len(violations(check(pack, native), CONFIRM)) == 1


@pytest.mark.reference  # the shipped placeholder: a fork sets its own address
def test_prod_is_told_its_placeholder_can_never_confirm(prod: StackRun):
    (advisory,) = [v for v in run_gate(prod, *stack_pack_config("prod")).violations if v.policy == CONFIRM]
    assert advisory.level == "advisory" and "data-platform-oncall@example.com, a reserved domain" in advisory.message
