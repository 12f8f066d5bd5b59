"""Amazon MWAA platform: DAG bucket, pipeline assets, missed-run alarm, and either an environment (network, NAT,
MWAA) or an MWAA Serverless workflow (mwaa.mode).

Settings are read and validated first, so bad config stops the run before any
resource is registered. Every resource goes through one explicit provider
whose default tags carry project, stack, owner and cost center. A duty-cycled
stack declares the environment and its NAT egress only inside its windows
(duty_cycle.py): the clock, or DUTY_CYCLE_AT, decides at every `pulumi up`.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components.airflow_environment import AirflowEnvironment, AirflowEnvironmentArgs, DagPermissions
from components.dag_bucket import DagBucket, DagBucketArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.missed_run_alarm import MissedRunAlarm, MissedRunAlarmArgs
from components.network import Network, NetworkArgs
from components.pipeline import PipelineAssets, PipelineAssetsArgs, glue_job_name, lambda_name
from components.serverless_workflow import ServerlessWorkflow, ServerlessWorkflowArgs
from duty_cycle import DutyCycle, decision_time, pipeline_run_minutes
from serverless import definition as workflow_definition
from settings import settings_from_pulumi_config

ROOT = Path(__file__).parent
settings = settings_from_pulumi_config(ROOT)
serverless = settings.serverless
# A serverless stack's workflow is checked against the service's rules before anything is registered.
definition_yaml = (
    workflow_definition.render(
        workflow_definition.checked_definition(
            settings.pipeline, function_name=lambda_name(settings.name), job_name=glue_job_name(settings.name)
        )
    )
    if serverless
    else ""
)
cycle = DutyCycle.from_settings(settings)
running = cycle.running(decision_time())
provider = aws.Provider("aws", region=settings.region, default_tags={"tags": settings.default_tags})
opts = pulumi.ResourceOptions(providers=[provider])

# mwaa.kms: none (AWS-owned key), create (a key this stack owns), or an existing key's ARN (provisioned only).
kms = settings.mwaa.kms
key_arn: pulumi.Input[str] | None = None if kms in ("none", "create") else kms
if kms == "create":
    key_arn = EncryptionKey("kms", EncryptionKeyArgs(settings.name, settings.region, settings.dag_bucket.protect), opts).key_arn

if not serverless:
    net = settings.network
    network = Network(
        "network",
        NetworkArgs(net.vpc_cidr, net.public_subnet_cidrs, net.private_subnet_cidrs, net.nat_gateways, running, cycle.usage_tags),
        opts,
    )
dag_bucket = DagBucket(
    "dags",
    DagBucketArgs(
        dags_dir=None if serverless else ROOT / "dags",
        requirements_file=None if serverless else ROOT / settings.dag_bucket.requirements_file,
        noncurrent_version_expiration_days=settings.dag_bucket.noncurrent_version_expiration_days,
        protect=settings.dag_bucket.protect,
        startup_script=ROOT / settings.dag_bucket.startup_script if settings.dag_bucket.startup_script else None,
        plugins_dir=ROOT / settings.dag_bucket.plugins_dir if settings.dag_bucket.plugins_dir else None,
        kms_key_arn=key_arn,
    ),
    opts,
)
pipeline_args = PipelineAssetsArgs(
    environment_name=settings.name,
    region=settings.region,
    settings=settings.pipeline,
    alert_emails=settings.alert_emails,
    dag_bucket_name=None if serverless else dag_bucket.bucket_name,
    dag_bucket_writable=dag_bucket.writable,
    lambda_source_dir=ROOT / "functions" / "validate_input",
    glue_script=ROOT / "glue" / "transform.py",
    log_retention_days=settings.mwaa.log_retention_days,
    noncurrent_version_expiration_days=settings.dag_bucket.noncurrent_version_expiration_days,
    protect=settings.dag_bucket.protect,
)
pipeline = PipelineAssets("pipeline", pipeline_args, opts)
# Not paused with the environment: it is what reports a run that a failed resume (or a failed workflow) never produced.
missed_run_alarm = MissedRunAlarm(
    "missed-run",
    MissedRunAlarmArgs(
        environment_name=settings.name,
        data_bucket_name=pipeline.data_bucket_name,
        data_bucket_arn=pipeline.data_bucket_arn,
        output_prefix=settings.pipeline.output_prefix,
        topic_arn=pipeline.alert_topic_arn,
        deadline_cron=settings.pipeline.deadline_cron,
        timezone=settings.pipeline.timezone,
        deadline_minutes=settings.pipeline.deadline_minutes,
        run_minutes_of_week=sorted(pipeline_run_minutes(settings.pipeline)),
        runs_per_month=settings.pipeline.runs_per_month,
        runtime=settings.pipeline.lambda_.runtime,
        log_retention_days=settings.mwaa.log_retention_days,
        source_dir=ROOT / "functions" / "missed_run_check",
    ),
    opts,
)

pulumi.export("environment_name", settings.name)
pulumi.export("mode", settings.mwaa.mode)
pulumi.export("dag_bucket_name", dag_bucket.bucket_name)
pulumi.export("data_bucket_name", pipeline.data_bucket_name)
pulumi.export("lambda_function_name", pipeline.function_name)
pulumi.export("glue_job_name", pipeline.job_name)
pulumi.export("alert_topic_arn", pipeline.alert_topic_arn)
pulumi.export("missed_run_schedule", missed_run_alarm.schedule_name)

if serverless:
    # One aws-native provider for the workflow (pulumi-aws has no MWAA Serverless resource), same region and tags.
    native = aws_native.Provider("aws-native", region=settings.region, default_tags={"tags": settings.default_tags})
    workflow = ServerlessWorkflow(
        "serverless",
        ServerlessWorkflowArgs(
            workflow_name=settings.name,
            region=settings.region,
            definition_yaml=definition_yaml,
            dag_bucket_name=dag_bucket.bucket_name,
            dag_bucket_writable=dag_bucket.writable,
            function_arn=pipeline.function_arn,
            job_arn=pipeline.job_arn,
            alert_topic_arn=pipeline.alert_topic_arn,
            log_retention_days=settings.mwaa.log_retention_days,
            protect=settings.mwaa.protect,
            native_provider=native,
            usage_tags={
                "pipeline:runs-per-month": f"{settings.pipeline.runs_per_month:g}",
                "pipeline:billed-task-minutes": f"{workflow_definition.billed_task_minutes(settings.pipeline):g}",
            },
        ),
        opts,
    )
    pulumi.export("workflow_arn", workflow.workflow_arn)
    pulumi.export("workflow_definition", pulumi.Output.concat("s3://", dag_bucket.bucket_name, "/", workflow.definition_key))
else:
    airflow = AirflowEnvironment(
        "airflow",
        AirflowEnvironmentArgs(
            environment_name=settings.name,
            region=settings.region,
            settings=settings.mwaa,
            source_bucket_arn=dag_bucket.bucket_arn,
            requirements_object_version=dag_bucket.requirements_object_version,
            startup_script_object_version=dag_bucket.startup_script_object_version,
            plugins_object_version=dag_bucket.plugins_object_version,
            kms_key_arn=key_arn,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.security_group_id,
            dag_permissions=DagPermissions(pipeline.function_arn, pipeline.job_arn, pipeline.alert_topic_arn),
            running=running,
            egress=network.egress_resources,
            usage_tags=cycle.usage_tags,
        ),
        opts,
    )
    pulumi.export("environment_state", "running" if running else "paused")
    pulumi.export("duty_cycle_windows", [] if cycle.always_on else [str(w) for w in cycle.windows])
    pulumi.export("webserver_url", airflow.webserver_url)
    pulumi.export("environment_arn", airflow.arn)
    pulumi.export("vpc_id", network.vpc_id)
    pulumi.export("public_subnet_ids", network.public_subnet_ids)
    pulumi.export("private_subnet_ids", network.private_subnet_ids)
