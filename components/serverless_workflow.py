"""The pipeline on MWAA Serverless: its definition in the DAG bucket, the workflow, its role, its logs and its alerts.

No environment, VPC or NAT: the service runs each task on its own worker and reaches AWS APIs from its own network.
The definition object's version id is an input of the workflow, so a change to the pipeline settings writes a new
object version and updates the workflow, and nothing else. The service ignores `on_failure_callback`, so a failed or
timed-out run alerts through an EventBridge rule on the service's own events (EventBridge event reference,
events-ref-airflow-serverless) to the pipeline's alert topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

import names
from components.dag_bucket import version_for_mwaa
from components.iam import allow, pipeline_task_statements, policy_document, trust_policy
from serverless.definition import DEFINITION_PREFIX

#: The service's run events that mean "nobody got the result": one alert per run (task events would repeat it).
FAILURE_EVENTS = ["MWAA Serverless Workflow Run Failed", "MWAA Serverless Workflow Run Timeout"]
EVENT_SOURCE = "aws.airflow-serverless"


@dataclass(frozen=True, kw_only=True)
class ServerlessWorkflowArgs:
    #: The workflow's name; its log group, role and rule names derive from it.
    workflow_name: str
    region: str
    #: The dag-factory YAML (serverless/definition.py, or a team's file: yaml_workflows.py), written under workflows/ in the
    #: DAG bucket.
    definition_yaml: str
    #: What the workflow is, for its description.
    about: str
    dag_bucket_name: pulumi.Input[str]
    #: The DAG bucket's one-time versioning wait: the definition is written after it, so it has a version id.
    dag_bucket_writable: pulumi.Resource
    #: The stack's function and job, each only if the workflow's tasks call it (its role may call those and no more).
    function_arn: pulumi.Input[str] | None
    job_arn: pulumi.Input[str] | None
    #: Where the rule on the service's failure events delivers. The rule hears every workflow of the account and region,
    #: so one per stack: the pipeline's workflow owns it, a team's own workflows pass None.
    alert_topic_arn: pulumi.Input[str] | None
    log_retention_days: int
    protect: bool
    #: The aws-native provider the workflow is created through (the stack's region and default tags).
    native_provider: pulumi.ProviderResource
    #: Literal usage hints the cost model reads (runs a month, billed task-minutes a run).
    usage_tags: dict[str, str]


class ServerlessWorkflow(pulumi.ComponentResource):
    workflow_arn: pulumi.Output[str]
    definition_key: str
    execution_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ServerlessWorkflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:serverless:ServerlessWorkflow", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workflow = args.workflow_name

        self.definition_key = f"{DEFINITION_PREFIX}{workflow}.yaml"
        definition = aws.s3.BucketObjectv2(
            f"{name}-definition",
            bucket=args.dag_bucket_name,
            key=self.definition_key,
            content=args.definition_yaml,
            content_type="application/yaml",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.dag_bucket_writable]),
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=names.workflow_log_group(workflow), retention_in_days=args.log_retention_days, opts=child
        )

        # The trust AWS documents: the user guide creates the role with the IAM console's "Amazon MWAA Serverless workflow"
        # use case, the service principal alone (mwaa-serverless-userguide, get-started-execution-role). No AWS source
        # shows the service sending aws:SourceArn or aws:SourceAccount, and a condition on a key it doesn't send fails
        # every run; the role may only invoke this pipeline's function and job, so it lends nothing more.
        trust = trust_policy("airflow-serverless.amazonaws.com")
        role = aws.iam.Role(f"{name}-execution-role", name=names.workflow_role(workflow), assume_role_policy=trust, opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=role.id,
            policy=policy_document(
                *pipeline_task_statements(args.function_arn, args.job_arn),
                allow(["logs:CreateLogStream", "logs:PutLogEvents"], [pulumi.Output.concat(logs.arn, ":*")], "WriteOwnLogGroup"),
            ),
            opts=child,
        )

        resource = aws_native.mwaaserverless.Workflow(
            f"{name}-workflow",
            name=workflow,
            description=f"{workflow}: {args.about}",
            definition_s3_location={
                "bucket": args.dag_bucket_name,
                "object_key": self.definition_key,
                "version_id": version_for_mwaa(definition),
            },
            role_arn=role.arn,
            logging_configuration={"log_group_name": logs.name},
            tags=args.usage_tags,
            opts=pulumi.ResourceOptions(parent=self, provider=args.native_provider, depends_on=[policy], protect=args.protect),
        )

        if args.alert_topic_arn is not None:
            rule = aws.cloudwatch.EventRule(
                f"{name}-failed-runs",
                name=names.failed_runs_rule(workflow),
                description="MWAA Serverless runs that failed or timed out, to the pipeline's alert topic",
                # The event reference documents source and detail-type, not the detail's fields: filtering on the workflow
                # there could silently never match, so this rule hears every workflow of the account and region.
                event_pattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": FAILURE_EVENTS}),
                opts=child,
            )
            aws.cloudwatch.EventTarget(f"{name}-failed-runs-alert", rule=rule.name, arn=args.alert_topic_arn, opts=child)

        self.workflow_arn = resource.workflow_arn
        self.execution_role_arn = role.arn
        self.register_outputs(
            {"workflow_arn": self.workflow_arn, "definition_key": self.definition_key, "execution_role_arn": self.execution_role_arn}
        )
