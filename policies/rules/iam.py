"""IAM: no Allow statement grants every action of a service (or of AWS), wherever a policy document lives."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .library.graph import only

#: type -> where its policy documents are: a key, or (list key, key inside each item). KMS key policies are left out:
#: AWS's own default key policy grants kms:* to the account root.
DOCUMENTS: dict[str, tuple[str | tuple[str, str], ...]] = {
    **dict.fromkeys(
        ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy",
         "aws:s3/bucketPolicy:BucketPolicy", "aws:sns/topicPolicy:TopicPolicy", "aws:sqs/queuePolicy:QueuePolicy",
         "aws:sns/topic:Topic", "aws:sqs/queue:Queue"),
        ("policy",),
    ),
    "aws:iam/role:Role": (("inlinePolicies", "policy"),),
    **dict.fromkeys(
        ("aws-native:iam:Policy", "aws-native:iam:ManagedPolicy", "aws-native:iam:RolePolicy", "aws-native:iam:UserPolicy",
         "aws-native:iam:GroupPolicy", "aws-native:s3:BucketPolicy", "aws-native:sns:TopicPolicy", "aws-native:sqs:QueuePolicy"),
        ("policyDocument",),
    ),
    "aws-native:iam:Role": (("policies", "policyDocument"),),
    "aws-native:iam:User": (("policies", "policyDocument"),),
    "aws-native:iam:Group": (("policies", "policyDocument"),),
}  # fmt: skip


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def wildcard_grants(document: Mapping[str, Any]) -> list[str]:
    """'*' and 'service:*' actions of Allow statements, and Allow + NotAction (which grants the rest)."""
    found = []
    statements = document.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement.get("Effect") != "Allow":
            continue
        found += [a for a in _as_list(statement.get("Action")) if a == "*" or a.endswith(":*")]
        if "NotAction" in statement:
            found.append(f"NotAction {statement['NotAction']}")
    return found


def _documents(props, where: tuple[str | tuple[str, str], ...]) -> list:
    """The policy documents at `where`; reading an unknown one raises, so the SDK reports it at preview (checked on update)."""
    found = []
    for place in where:
        if isinstance(place, str):
            found.append(props.get(place))
        else:
            items, key = place
            found += [item.get(key) for item in props.get(items) or []]
    return [json.loads(d) if isinstance(d, str) else dict(d) for d in found if d]


@only(*DOCUMENTS)
def _no_wildcards(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    grants = [grant for document in _documents(args.props, DOCUMENTS[args.resource_type]) for grant in wildcard_grants(document)]
    if grants:
        report_violation(f"policy grants wildcard actions {', '.join(grants)}; list the actions the workload needs", None)


no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="IAM, inline and resource policies (pulumi-aws and aws-native) grant no '*' or 'service:*' actions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_wildcards,
)

POLICIES = [no_wildcard_actions]
