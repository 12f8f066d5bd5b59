"""Alerts reach someone: every SNS topic has a subscriber, or its alerts (a failed task, a missed run) go nowhere; and an
email subscriber's domain can receive SNS's confirmation, which a reserved one (RFC 2606) never can."""

from __future__ import annotations

from collections.abc import Sequence

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .library.graph import UNKNOWN, Graph, guarded, label, peek

TOPICS = ("aws:sns/topic:Topic", "aws-native:sns:Topic")
SUBSCRIPTIONS = ("aws:sns/topicSubscription:TopicSubscription", "aws-native:sns:Subscription")


@guarded
def _topic_subscribed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    subscribed_arns = {peek(s.props, "topic") for s in graph.of_type(*SUBSCRIPTIONS)} | {
        peek(s.props, "topicArn") for s in graph.of_type(*SUBSCRIPTIONS)
    }
    for topic in graph.of_type(*TOPICS):
        inline = peek(topic.props, "subscription")  # aws-native declares subscriptions on the topic itself
        linked = graph.linked(SUBSCRIPTIONS, "topic", topic) + graph.linked(SUBSCRIPTIONS, "topicArn", topic)
        arn = peek(topic.props, "arn")
        if linked or (inline and inline is not UNKNOWN) or (isinstance(arn, str) and arn in subscribed_arns):
            continue
        report_violation(
            f"{label(topic)} has no subscription, so its alerts reach no one: add one (alertEmails, next to owner in "
            "Pulumi.<stack>.yaml, or an aws.sns.TopicSubscription to your paging tool)",
            topic.urn,
        )


topic_subscribed = StackValidationPolicy(
    name="sns-topic-has-subscriber",
    description="Every SNS topic has at least one subscription (advisory by default; mandatory in prod's config).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_topic_subscribed,
)

#: Reserved for documentation and testing (RFC 2606 section 2 and 3; RFC 6761): no mailbox there can confirm a subscription.
RESERVED_TLDS = ("test", "example", "invalid", "localhost")
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")


def reserved_domain(address: str) -> bool:
    domain = address.rpartition("@")[2].lower().rstrip(".")
    return domain.rpartition(".")[2] in RESERVED_TLDS or any(domain == d or domain.endswith(f".{d}") for d in RESERVED_DOMAINS)


@guarded
def _subscriber_can_confirm(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    found = [(s, peek(s.props, "protocol"), peek(s.props, "endpoint")) for s in graph.of_type(*SUBSCRIPTIONS)]
    for topic in graph.of_type(*TOPICS):  # aws-native declares subscriptions on the topic itself
        inline = peek(topic.props, "subscription")
        count = len(inline) if isinstance(inline, Sequence) and not isinstance(inline, str) else 0
        found += [(topic, peek(inline, i, "protocol"), peek(inline, i, "endpoint")) for i in range(count)]
    for resource, protocol, endpoint in found:
        if protocol in ("email", "email-json") and isinstance(endpoint, str) and reserved_domain(endpoint):
            report_violation(
                f"{label(resource)} sends alerts to {endpoint}, a reserved domain (RFC 2606) where no one can confirm the "
                "subscription, so its alerts reach no one: before the stack's first deploy, set alertEmails in "
                "Pulumi.<stack>.yaml to an address someone reads",
                resource.urn,
            )


subscriber_can_confirm = StackValidationPolicy(
    name="sns-subscriber-can-confirm",
    description="No email subscription goes to a reserved domain (RFC 2606), which can never confirm it (advisory).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_subscriber_can_confirm,
)

POLICIES = [topic_subscribed, subscriber_can_confirm]
