"""A Python Lambda function with its own role (basic execution plus the given statements) and a log group with
retention: what the pipeline's input check and the missed-run check each need. A helper, not a component: the
resources belong to the component that calls it (`parent`), with names under the caller's `prefix`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

import names
from components.iam import policy_document, trust_policy


def python_function(
    parent: pulumi.Resource,
    prefix: str,
    *,
    resource_name: str,
    policy_name: str,
    function_name: str,
    source_dir: Path,
    runtime: str,
    memory_mb: int,
    timeout_seconds: int,
    variables: dict[str, pulumi.Input[str]],
    statements: list[dict[str, Any]],
    log_retention_days: int,
    tags: dict[str, str],
) -> aws.lambda_.Function:
    child = pulumi.ResourceOptions(parent=parent)
    partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition
    role = aws.iam.Role(f"{prefix}-role", assume_role_policy=trust_policy("lambda.amazonaws.com"), opts=child)
    aws.iam.RolePolicyAttachment(
        f"{prefix}-basic-execution",
        role=role.name,
        policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
        opts=child,
    )
    policy = aws.iam.RolePolicy(policy_name, role=role.id, policy=policy_document(*statements), opts=child)
    logs = aws.cloudwatch.LogGroup(
        f"{prefix}-logs", name=names.lambda_log_group(function_name), retention_in_days=log_retention_days, opts=child
    )
    return aws.lambda_.Function(
        resource_name,
        name=function_name,
        runtime=runtime,
        handler="handler.handler",
        code=pulumi.AssetArchive(
            {
                p.relative_to(source_dir).as_posix(): pulumi.FileAsset(str(p))
                for p in sorted(source_dir.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts  # the code and any data beside it (a vendored API model)
            }
        ),
        role=role.arn,
        memory_size=memory_mb,
        timeout=timeout_seconds,
        environment={"variables": variables},
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logs, policy]),
    )
