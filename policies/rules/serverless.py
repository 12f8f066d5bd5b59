"""MWAA Serverless workflows: a guarded, pinned definition and a least-privilege role, however they are declared.

A workflow is declared through pulumi-aws-native (`aws-native:mwaaserverless:Workflow`) or inside a CloudFormation
template (`AWS::MWAAServerless::Workflow`); both are checked. Its definition is code that runs with its role, so the
bucket it is read from must be versioned and private, and the workflow must pin the object's version (otherwise a
changed definition never reaches the workflow, or an old one comes back). Its role must trust the service and grant
no wildcard actions. No confused-deputy condition is required: AWS documents the role with the service principal alone
(the user guide's "Amazon MWAA Serverless workflow" use case) and no source shows the service sending aws:SourceArn or
aws:SourceAccount, so a rule that demanded one would pass a role no run can assume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from .iam import wildcard_grants
from .library.graph import (
    BUCKET_TYPES,
    CFN_ROLE,
    ROLE_TYPES,
    UNKNOWN,
    Declared,
    Graph,
    declared_workflows,
    each_declared,
    label,
    peek,
    sources,
    template_target,
)
from .s3 import public_access_problem, versioning_problem

SERVICE = "airflow-serverless.amazonaws.com"
OBJECT_TYPES = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")
ROLE_POLICIES = ("aws:iam/rolePolicy:RolePolicy",)
ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",)


def _document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        return json.loads(value)
    return value if isinstance(value, Mapping) else None


def _iam_keys(value: Any) -> Any:
    """A policy document read from a template (whose keys the graph camelCases) with IAM's own key case back:
    statement -> Statement, stringEquals -> StringEquals; condition keys such as aws:SourceAccount stay as they are."""
    if isinstance(value, Mapping):
        return {(k if ":" in k else k[:1].upper() + k[1:]): _iam_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iam_keys(v) for v in value]
    return value


def definition_buckets(workflow: Declared, graph: Graph) -> list[Declared]:
    """The buckets the definition is read from, when they are in this stack: a graph edge (directly or through the
    definition object) whose name matches, or a template reference."""
    if workflow.resource is None:
        found = template_target(workflow, "definitionS3Location", "bucket")
        return [found] if found else []
    feeding = sources(workflow.resource, "definitionS3Location", BUCKET_TYPES)
    feeding += [b for obj in sources(workflow.resource, "definitionS3Location", OBJECT_TYPES) for b in sources(obj, "bucket", BUCKET_TYPES)]
    name = peek(workflow.props, "definitionS3Location", "bucket")
    matching = {
        b.urn: b
        for b in feeding
        if not isinstance(name, str) or not isinstance(peek(b.props, "bucket"), str) or peek(b.props, "bucket") == name
    }
    return [Declared(label(b), b.urn, b.props, b) for b in matching.values()]


def _definition_problems(workflow: Declared, graph: Graph) -> list[str]:
    buckets = definition_buckets(workflow, graph)
    if not buckets:
        return ["definitionS3Location.bucket does not come from a bucket in this stack, so its versioning and privacy can't be verified"]
    found = [
        problem for bucket in buckets for problem in (versioning_problem(bucket, graph), public_access_problem(bucket, graph)) if problem
    ]
    if peek(workflow.props, "definitionS3Location", "versionId") is None:
        found.append(
            "definitionS3Location.versionId is not set: pin the definition object's version (components/serverless_workflow.py does), "
            "so a changed definition updates the workflow and an old one can't come back"
        )
    return found


def _role(workflow: Declared, graph: Graph) -> tuple[str, Mapping[str, Any], list[Mapping[str, Any]], list[Any]] | None:
    """(label, trust policy, permission documents, managed policy ARNs) of the workflow's role, if it is in this stack."""
    if workflow.resource is None:
        role = template_target(workflow, "roleArn", kinds=(CFN_ROLE,), attribute="Arn")
        if role is None:
            return None
        documents = [_iam_keys(peek(p, "policyDocument")) for p in peek(role.props, "policies") or []]
        trust = _iam_keys(peek(role.props, "assumeRolePolicyDocument"))
        return role.label, trust, documents, list(peek(role.props, "managedPolicyArns") or [])
    roles = sources(workflow.resource, "roleArn", ROLE_TYPES)
    if len(roles) != 1:
        return None
    (role,) = roles
    props = role.props
    trust = peek(props, "assumeRolePolicy") if role.resource_type == "aws:iam/role:Role" else peek(props, "assumeRolePolicyDocument")
    documents = [peek(p, "policy") for p in peek(props, "inlinePolicies") or []] + [
        peek(p, "policyDocument") for p in peek(props, "policies") or []
    ]
    documents += [peek(p.props, "policy") for p in graph.linked(ROLE_POLICIES, "role", role)]
    managed = list(peek(props, "managedPolicyArns") or []) + [peek(a.props, "policyArn") for a in graph.linked(ATTACHMENTS, "role", role)]
    return label(role), trust, documents, managed


def _trust_problem(trust: Any) -> str | None:
    if trust is UNKNOWN:
        return None  # known at update: the iam rules see the role then
    document = _document(trust)
    statements = (document or {}).get("Statement", [])
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        services = (statement.get("Principal") or {}).get("Service", [])
        if SERVICE in ([services] if isinstance(services, str) else services):
            return None
    return f"its trust policy does not name {SERVICE}, so the workflow can't use it"


def _role_problems(workflow: Declared, graph: Graph) -> list[str]:
    role = _role(workflow, graph)
    if role is None:
        return ["roleArn does not come from a role in this stack, so its permissions can't be verified"]
    name, trust, documents, managed = role
    found = [f"role {name}: {problem}" for problem in [_trust_problem(trust)] if problem]
    grants = [grant for document in documents if document not in (None, UNKNOWN) for grant in wildcard_grants(_document(document) or {})]
    if grants:
        found.append(f"role {name} grants wildcard actions {', '.join(grants)}; list the actions the workflow's tasks need")
    aws_managed = [arn for arn in managed if isinstance(arn, str) and ":iam::aws:policy/" in arn]
    if aws_managed:
        found.append(
            f"role {name} attaches AWS-managed policies {', '.join(aws_managed)}; grant the tasks' actions on their resources instead"
        )
    return found


def _each_workflow(check):
    return each_declared(
        declared_workflows, "MWAA Serverless workflows", lambda workflow, graph: [f"{workflow.label}: {p}" for p in check(workflow, graph)]
    )


definition_guarded = StackValidationPolicy(
    name="mwaa-serverless-definition-guarded",
    description="Each MWAA Serverless workflow reads a pinned definition version from a versioned, private bucket in this stack.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_each_workflow(_definition_problems),
)

role_least_privilege = StackValidationPolicy(
    name="mwaa-serverless-role-least-privilege",
    description="Each MWAA Serverless workflow's role is in this stack, trusts the service with a confused-deputy condition, "
    "and grants no wildcard actions or AWS-managed policies.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_each_workflow(_role_problems),
)

POLICIES = [definition_guarded, role_least_privilege]
