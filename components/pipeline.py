"""What the DAG drives: a Lambda that checks the day's input, a Glue job that
transforms it, an SNS topic for failure alerts, and the data bucket they share.

For a provisioned environment the component also renders `dags/pipeline_config.json`
into the DAG bucket, so the DAG learns every name and ARN from IaC instead of
hard-coding them (a serverless workflow's definition carries them itself).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.dag_bucket import DAG_PREFIX, PIPELINE_CONFIG_FILE
from components.iam import allow, policy_document, prefix_read, trust_policy
from components.python_function import python_function
from components.secure_bucket import SecureBucket, SecureBucketArgs
from settings import PipelineSettings

GLUE_SCRIPT_KEY = "scripts/transform.py"


def lambda_name(environment_name: str) -> str:
    """The input check's name: known before anything exists, so a serverless definition can name it."""
    return f"{environment_name}-validate-input"


def glue_job_name(environment_name: str) -> str:
    return f"{environment_name}-transform"


@dataclass(frozen=True)
class PipelineAssetsArgs:
    environment_name: str
    region: str
    settings: PipelineSettings
    #: Email subscriptions on the alert topic.
    alert_emails: list[str]
    #: Where the provisioned DAG's pipeline_config.json goes (None: a serverless stack, whose definition holds the names).
    dag_bucket_name: pulumi.Input[str] | None
    #: The DAG bucket's one-time versioning wait (SecureBucket.writable): the rendered config is written after it.
    dag_bucket_writable: pulumi.Resource
    lambda_source_dir: Path
    glue_script: Path
    log_retention_days: int
    noncurrent_version_expiration_days: int
    protect: bool


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
        cfg = args.settings
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        # Literal usage hints for the cost model: the policy pack can read them even at preview.
        usage = {"pipeline:runs-per-month": f"{cfg.runs_per_month:g}"}

        data = SecureBucket(f"{name}-data", SecureBucketArgs(args.noncurrent_version_expiration_days, args.protect), child)
        topic = aws.sns.Topic(f"{name}-alerts", name=f"{args.environment_name}-alerts", opts=child)
        for i, email in enumerate(args.alert_emails):
            aws.sns.TopicSubscription(f"{name}-alerts-email-{i + 1}", topic=topic.arn, protocol="email", endpoint=email, opts=child)

        # Lambda: basic execution plus read access to the input prefix only.
        function = python_function(
            self,
            f"{name}-lambda",
            resource_name=f"{name}-validate-input",
            policy_name=f"{name}-lambda-read-input",
            function_name=lambda_name(args.environment_name),
            source_dir=args.lambda_source_dir,
            runtime=cfg.lambda_.runtime,
            memory_mb=cfg.lambda_.memory_mb,
            timeout_seconds=cfg.lambda_.timeout_seconds,
            variables={"DATA_BUCKET": data.bucket_name, "INPUT_PREFIX": cfg.input_prefix},
            statements=prefix_read(data.bucket_arn, cfg.input_prefix, "Input"),
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
                        pulumi.Output.concat(data.bucket_arn, "/", cfg.input_prefix, "*"),
                    ],
                    "ReadScriptAndInput",
                ),
                allow(["s3:PutObject"], [pulumi.Output.concat(data.bucket_arn, "/", cfg.output_prefix, "*")], "WriteOutput"),
                allow(
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    [pulumi.Output.concat("arn:", partition, ":logs:", args.region, ":*:log-group:/aws-glue/*")],
                    "GlueJobLogs",
                ),
            ),
            opts=child,
        )
        glue = cfg.glue
        job = aws.glue.Job(
            f"{name}-transform",
            name=glue_job_name(args.environment_name),
            role_arn=glue_role.arn,
            glue_version=glue.glue_version,
            command={
                "name": glue.job_type,
                "script_location": pulumi.Output.concat("s3://", data.bucket_name, "/", GLUE_SCRIPT_KEY),
                "python_version": glue.python_version,
            },
            max_capacity=glue.max_capacity,
            worker_type=glue.worker_type,
            number_of_workers=glue.number_of_workers,
            timeout=glue.timeout_minutes,
            max_retries=glue.max_retries,
            execution_property={"max_concurrent_runs": 1},
            tags={**usage, "pipeline:expected-run-minutes": f"{glue.expected_run_minutes:g}"},
            default_arguments={
                "--DATA_BUCKET": data.bucket_name,
                "--OUTPUT_PREFIX": cfg.output_prefix,
                "--job-language": "python",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[script, glue_policy]),
        )

        if args.dag_bucket_name is not None:
            aws.s3.BucketObjectv2(
                f"{name}-dag-config",
                bucket=args.dag_bucket_name,
                key=f"{DAG_PREFIX}/{PIPELINE_CONFIG_FILE}",
                content_type="application/json",
                content=pulumi.Output.json_dumps(
                    {
                        "lambda_function_name": function.name,
                        "glue_job_name": job.name,
                        "alert_topic_arn": topic.arn,
                        "data_bucket": data.bucket_name,
                        "input_prefix": cfg.input_prefix,
                        "output_prefix": cfg.output_prefix,
                        "region": args.region,
                        "schedule_cron": cfg.cron,
                        "schedule_timezone": cfg.timezone,
                        "late_start_minutes": cfg.late_start_minutes,
                        "run_timeout_minutes": cfg.run_timeout_minutes,
                    }
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[args.dag_bucket_writable]),
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
