"""The missed-run alarm: AWS's own scheduler checks each run's result at its deadline and alerts when there is none.

It depends on nothing Airflow runs: EventBridge Scheduler invokes a small Lambda at every run's deadline (in the
pipeline's time zone), which looks for the run's output and publishes to the alert topic when it is missing. It is not
part of what a duty cycle pauses, so a resume that failed is reported too. Least privilege: the function may read the
output prefix and publish to the one topic; the scheduler may invoke the one function.

A serverless stack's team workflows (yaml_workflows.py) are checked by the same function: one schedule per time of day
of their deadlines (UTC, as the service reads their cron) sends the workflow in its event, and the function asks the
service for a run that succeeded in time; it may list the runs of those workflows and no others.

The alarm has alarms of its own, so it can't fail silently: an invocation that still fails after Lambda's retries goes
to the topic as its on-failure destination (the failure record names the error), and a CloudWatch alarm on the
function's Errors metric notifies the same topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

import names
from components.iam import allow, policy_document, prefix_read, trust_policy
from components.python_function import python_function


@dataclass(frozen=True, kw_only=True)
class WorkflowDeadlines:
    """A team workflow's runs and when each one's success is due (yaml_workflows.RunCheck)."""

    dag_id: str
    workflow_name: str
    workflow_arn: pulumi.Input[str]
    run_minutes_of_week: tuple[int, ...]
    deadline_minutes: int
    #: EventBridge Scheduler crons of the deadlines, read in UTC.
    deadline_crons: tuple[str, ...]
    runs_per_month: float


@dataclass(frozen=True, kw_only=True)
class MissedRunAlarmArgs:
    environment_name: str
    data_bucket_name: pulumi.Input[str]
    data_bucket_arn: pulumi.Input[str]
    output_prefix: str
    topic_arn: pulumi.Input[str]
    #: EventBridge Scheduler cron of the runs' deadlines, and the time zone it is read in.
    deadline_cron: str
    timezone: str
    deadline_minutes: int
    #: Every scheduled run as a minute of the UTC week (both UTC times of a zone with DST): the function alerts only for those.
    run_minutes_of_week: list[int]
    runs_per_month: float
    runtime: str
    log_retention_days: int
    source_dir: Path
    #: A serverless stack's team workflows, checked by the same function.
    workflows: tuple[WorkflowDeadlines, ...] = ()


class MissedRunAlarm(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    schedule_name: pulumi.Output[str]

    def __init__(self, name: str, args: MissedRunAlarmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:pipeline:MissedRunAlarm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        function = python_function(
            self,
            f"{name}-function",
            resource_name=f"{name}-function",
            policy_name=f"{name}-function-access",
            function_name=names.missed_run_function(args.environment_name),
            source_dir=args.source_dir,
            runtime=args.runtime,
            memory_mb=128,
            timeout_seconds=30,
            variables={
                "DATA_BUCKET": args.data_bucket_name,
                "OUTPUT_PREFIX": args.output_prefix,
                "TOPIC_ARN": args.topic_arn,
                "DEADLINE_MINUTES": str(args.deadline_minutes),
                "RUN_MINUTES_OF_WEEK": ",".join(map(str, sorted(args.run_minutes_of_week))),
                "PIPELINE_NAME": args.environment_name,
            },
            statements=[
                *prefix_read(args.data_bucket_arn, args.output_prefix, "Output"),
                allow(["sns:Publish"], [args.topic_arn], "PublishAlert"),
                *(
                    [allow(["airflow-serverless:ListWorkflowRuns"], [w.workflow_arn for w in args.workflows], "ListTeamWorkflowRuns")]
                    if args.workflows
                    else []
                ),
            ],
            log_retention_days=args.log_retention_days,
            # The cost model prices one check per run.
            tags={"pipeline:runs-per-month": f"{args.runs_per_month + sum(w.runs_per_month for w in args.workflows):g}"},
        )

        scheduler_role = aws.iam.Role(
            f"{name}-scheduler-role",
            assume_role_policy=trust_policy("scheduler.amazonaws.com", condition={"StringEquals": {"aws:SourceAccount": account}}),
            opts=child,
        )
        scheduler_policy = aws.iam.RolePolicy(
            f"{name}-scheduler-invoke",
            role=scheduler_role.id,
            policy=policy_document(allow(["lambda:InvokeFunction"], [function.arn], "InvokeTheCheck")),
            opts=child,
        )
        schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            name=names.missed_run_schedule(args.environment_name),
            description=f"At each {args.environment_name} pipeline run's deadline: alert if it produced no result",
            schedule_expression=args.deadline_cron,
            schedule_expression_timezone=args.timezone,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": function.arn,
                "role_arn": scheduler_role.arn,
                # EventBridge Scheduler fills in the context attribute at each invocation.
                "input": json.dumps({"scheduled_time": "<aws.scheduler.scheduled-time>"}),
                "retry_policy": {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 5},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[scheduler_policy]),
        )

        for workflow in args.workflows:
            event = {
                "scheduled_time": "<aws.scheduler.scheduled-time>",
                "workflow": {
                    "name": workflow.workflow_name,
                    "arn": workflow.workflow_arn,
                    "deadline_minutes": workflow.deadline_minutes,
                    "run_minutes_of_week": list(workflow.run_minutes_of_week),
                },
            }
            for i, cron in enumerate(workflow.deadline_crons, start=1):
                schedule_name = names.workflow_missed_run_schedule(workflow.workflow_name, i)
                aws.scheduler.Schedule(
                    f"{name}-{workflow.dag_id}-schedule" + (f"-{i}" if i > 1 else ""),
                    name=schedule_name,
                    description=f"At each {workflow.workflow_name} run's deadline: alert if no run succeeded",
                    schedule_expression=cron,
                    schedule_expression_timezone="UTC",
                    flexible_time_window={"mode": "OFF"},
                    target={
                        "arn": function.arn,
                        "role_arn": scheduler_role.arn,
                        "input": pulumi.Output.json_dumps(event),
                        "retry_policy": {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 5},
                    },
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[scheduler_policy]),
                )

        # Asynchronous invocations (the scheduler's) retry twice; a failure after that is delivered to the topic, with the
        # function's role, which may publish there (Lambda's destinations: the execution role sends the record).
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-on-failure",
            function_name=function.name,
            maximum_retry_attempts=2,
            destination_config={"on_failure": {"destination": args.topic_arn}},
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-errors",
            name=names.missed_run_errors_alarm(args.environment_name),
            alarm_description=f"The {args.environment_name} missed-run check failed: a run's result may have gone unchecked",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",  # no invocation between deadlines is not an error
            alarm_actions=[args.topic_arn],
            opts=child,
        )

        self.function_name = function.name
        self.schedule_name = schedule.name
        self.register_outputs({"function_name": self.function_name, "schedule_name": self.schedule_name})
