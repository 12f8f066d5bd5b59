"""IAM document helpers shared by the components (plain functions, not resources)."""

from __future__ import annotations

from typing import Any

import pulumi


def policy_document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy JSON string; statements may hold Outputs (ARNs of resources being created)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: list[str], resources: list[pulumi.Input[str]], sid: str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def trust_policy(*services: str, condition: dict[str, Any] | None = None) -> pulumi.Output[str]:
    """Who may assume the role; `condition` guards against the confused deputy."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return policy_document(statement)


def prefix_read(bucket_arn: pulumi.Input[str], prefix: str, sid: str) -> list[dict[str, Any]]:
    """Read objects under `prefix`, and list only that prefix, so a missing key is a 404 rather than a 403."""
    return [
        allow(["s3:GetObject"], [pulumi.Output.concat(bucket_arn, "/", prefix, "*")], f"Read{sid}"),
        allow(["s3:ListBucket"], [bucket_arn], f"List{sid}SoMissingKeysAre404", Condition={"StringLike": {"s3:prefix": [f"{prefix}*"]}}),
    ]


def pipeline_task_statements(function_arn: pulumi.Input[str] | None, job_arn: pulumi.Input[str] | None) -> list[dict[str, Any]]:
    """What the pipeline's two tasks call, in either mode: invoke the one function, start and watch the one Glue job (a
    team's serverless workflow gets the ones its tasks call, None for the other)."""
    found = [allow(["lambda:InvokeFunction"], [function_arn], "DagInvokesLambda")] if function_arn is not None else []
    glue = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:GetJob"]
    return found + ([allow(glue, [job_arn], "DagRunsGlueJob")] if job_arn is not None else [])
