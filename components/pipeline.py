"""What the DAG drives: a Lambda that checks the day's input, a Glue job that
transforms it, an SNS topic for failure alerts, and the data bucket they share.

Its outputs are what the DAG needs to know; the DAG bucket renders them into
`dags/pipeline_config.json` (a serverless workflow's definition carries them itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

import names
from components.iam import allow, policy_document, prefix_read, trust_policy
from components.python_function import python_function
from components.secure_bucket import SecureBucket, SecureBucketArgs

GLUE_SCRIPT_KEY = "scripts/transform.py"


@dataclass(frozen=True, kw_only=True)
class PipelineAssetsArgs:
    environment_name: str
    region: str
    #: Where the day's input lands and the Glue job writes (prefixes of the data bucket).
    input_prefix: str
    output_prefix: str
    #: The schedule's runs per month, a usage tag the cost model reads.
    runs_per_month: float
    #: Email subscriptions on the alert topic.
    alert_emails: list[str]
    lambda_source_dir: Path
    lambda_runtime: str
    lambda_memory_mb: int
    lambda_timeout_seconds: int
    glue_script: Path
    glue_version: str
    glue_job_type: str
    glue_python_version: str
    #: Either max_capacity (pythonshell) or worker_type and number_of_workers (glueetl).
    glue_max_capacity: float | None
    glue_worker_type: str | None
    glue_number_of_workers: int | None
    glue_timeout_minutes: int
    glue_max_retries: int
    #: A usage tag the cost model reads.
    glue_expected_run_minutes: float
    log_retention_days: int
    noncurrent_version_expiration_days: int
    protect: bool
    #: EventBridge rules of this pipeline publish to the topic (a serverless stack's failed-run events).
    events_publish: bool = False


class PipelineAssets(pulumi.ComponentResource):
    data_bucket_name: pulumi.Output[str]
    data_bucket_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    job_name: pulumi.Output[str]
    job_arn: pulumi.Output[str]
    alert_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PipelineAssetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:pipeline:PipelineAssets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        # Literal usage hints for the cost model: the policy pack can read them even at preview.
        usage = {"pipeline:runs-per-month": f"{args.runs_per_month:g}"}

        data = SecureBucket(
            f"{name}-data",
            SecureBucketArgs(noncurrent_version_expiration_days=args.noncurrent_version_expiration_days, protect=args.protect),
            child,
        )
        topic = aws.sns.Topic(f"{name}-alerts", name=names.alert_topic(args.environment_name), opts=child)
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(f"{name}-alerts-email-{i + 1}", topic=topic.arn, protocol="email", endpoint=email, opts=child)
        # The services that alert through the topic, each only from this pipeline's own alarms and rules (their names all
        # start with the environment name, names.py). A custom policy replaces SNS's default one; the account's own
        # roles (the DAG's, the functions') publish through their identity policies, which suffice in one account.
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account, partition = aws.get_caller_identity_output(opts=invoke).account_id, aws.get_partition_output(opts=invoke).partition

        def own(service: str, kind: str) -> pulumi.Output[str]:
            return pulumi.Output.concat("arn:", partition, f":{service}:{args.region}:", account, kind, args.environment_name, "-*")

        publishers = [("cloudwatch", "CloudWatchAlarms", own("cloudwatch", ":alarm:"))]
        # A serverless stack's policy was its workflow component's until this one held both: the same resource, moved
        # (an alias), so the update keeps it; a new one beside the old would be reset to SNS's default when the old goes.
        moved_from = []
        if args.events_publish:
            publishers.append(("events", "EventBridgeRules", own("events", ":rule/")))
            moved_from = [
                f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::mwaa:serverless:ServerlessWorkflow"
                "$aws:sns/topicPolicy:TopicPolicy::serverless-alerts-from-events"
            ]
        aws.sns.TopicPolicy(
            f"{name}-alerts-publishers",
            arn=topic.arn,
            policy=policy_document(
                *(
                    allow(["sns:Publish"], [topic.arn], sid, Principal={"Service": f"{service}.amazonaws.com"},
                          Condition={"ArnLike": {"aws:SourceArn": source}})
                    for service, sid, source in publishers
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=moved_from),
        )  # fmt: skip

        # Lambda: basic execution plus read access to the input prefix only.
        function = python_function(
            self,
            f"{name}-lambda",
            resource_name=f"{name}-validate-input",
            policy_name=f"{name}-lambda-read-input",
            function_name=names.validate_input_function(args.environment_name),
            source_dir=args.lambda_source_dir,
            runtime=args.lambda_runtime,
            memory_mb=args.lambda_memory_mb,
            timeout_seconds=args.lambda_timeout_seconds,
            variables={"DATA_BUCKET": data.bucket_name, "INPUT_PREFIX": args.input_prefix},
            statements=prefix_read(data.bucket_arn, args.input_prefix, "Input"),
            log_retention_days=args.log_retention_days,
            tags=usage,
        )

        # Glue: reads the script and input, writes the output prefix, writes its own logs.
        script = aws.s3.BucketObjectv2(
            f"{name}-glue-script",
            bucket=data.bucket_name,
            key=GLUE_SCRIPT_KEY,
            source=pulumi.FileAsset(str(args.glue_script)),
            source_hash=hashlib.sha256(args.glue_script.read_bytes()).hexdigest(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[data.writable]),
        )
        glue_role = aws.iam.Role(f"{name}-glue-role", assume_role_policy=trust_policy("glue.amazonaws.com"), opts=child)
        glue_policy = aws.iam.RolePolicy(
            f"{name}-glue-access",
            role=glue_role.id,
            policy=policy_document(
                allow(
                    ["s3:GetObject"],
                    [
                        pulumi.Output.concat(data.bucket_arn, "/", GLUE_SCRIPT_KEY),
                        pulumi.Output.concat(data.bucket_arn, "/", args.input_prefix, "*"),
                    ],
                    "ReadScriptAndInput",
                ),
                allow(["s3:PutObject"], [pulumi.Output.concat(data.bucket_arn, "/", args.output_prefix, "*")], "WriteOutput"),
                allow(
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat("arn:", partition, ":logs:", args.region, ":*:log-group:/aws-glue/*")],
                    "GlueJobLogs",
                ),
            ),
            opts=child,
        )
        job = aws.glue.Job(
            f"{name}-transform",
            name=names.glue_job(args.environment_name),
            role_arn=glue_role.arn,
            glue_version=args.glue_version,
            command={
                "name": args.glue_job_type,
                "script_location": pulumi.Output.concat("s3://", data.bucket_name, "/", GLUE_SCRIPT_KEY),
                "python_version": args.glue_python_version,
            },
            max_capacity=args.glue_max_capacity,
            worker_type=args.glue_worker_type,
            number_of_workers=args.glue_number_of_workers,
            timeout=args.glue_timeout_minutes,
            max_retries=args.glue_max_retries,
            execution_property={"max_concurrent_runs": 1},
            tags={**usage, "pipeline:expected-run-minutes": f"{args.glue_expected_run_minutes:g}"},
            default_arguments={
                "--DATA_BUCKET": data.bucket_name,
                "--OUTPUT_PREFIX": args.output_prefix,
                "--job-language": "python",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[script, glue_policy]),
        )

        self.data_bucket_name = data.bucket_name
        self.data_bucket_arn = data.bucket_arn
        self.function_name = function.name
        self.function_arn = function.arn
        self.job_name = job.name
        self.job_arn = job.arn
        self.alert_topic_arn = topic.arn
        self.register_outputs(
            {
                "data_bucket_name": self.data_bucket_name,
                "data_bucket_arn": self.data_bucket_arn,
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "job_name": self.job_name,
                "job_arn": self.job_arn,
                "alert_topic_arn": self.alert_topic_arn,
            }
        )
