"""IAM: no Allow statement grants every action of a service (or of AWS)."""

from __future__ import annotations

import json

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .graph import only

POLICY_TYPES = (
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/policy:Policy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def wildcard_grants(document: dict) -> list[str]:
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


@only(*POLICY_TYPES)
def _no_wildcards(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    document = args.props["policy"]  # unknown at a first preview: the SDK reports it as advisory, checked on update
    grants = wildcard_grants(json.loads(document) if isinstance(document, str) else dict(document))
    if grants:
        report_violation(f"policy grants wildcard actions {', '.join(grants)}; list the actions the workload needs")


no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="Inline and managed IAM policies defined here grant no '*' or 'service:*' actions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_wildcards,
)

POLICIES = [no_wildcard_actions]
