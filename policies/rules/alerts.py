"""Alerts reach someone: every SNS topic has a subscriber, or its alerts (a failed task, a missed run) go nowhere."""

from __future__ import annotations

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

POLICIES = [topic_subscribed]
