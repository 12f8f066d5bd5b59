"""Amazon MWAA platform: network, DAG bucket, pipeline assets, environment.

Settings are read and validated first, so bad config stops the run before any
resource is registered. Every resource goes through one explicit AWS provider
whose default tags carry project, stack, owner and cost center. A duty-cycled
stack declares the environment and its NAT egress only inside its windows
(duty_cycle.py): the clock, or DUTY_CYCLE_AT, decides at every `pulumi up`.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.airflow_environment import AirflowEnvironment, AirflowEnvironmentArgs, DagPermissions
from components.dag_bucket import DagBucket, DagBucketArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.missed_run_alarm import MissedRunAlarm, MissedRunAlarmArgs
from components.network import Network, NetworkArgs
from components.pipeline import PipelineAssets, PipelineAssetsArgs
from duty_cycle import DutyCycle, decision_time, pipeline_run_minutes
from settings import settings_from_pulumi_config

ROOT = Path(__file__).parent
settings = settings_from_pulumi_config(ROOT)
cycle = DutyCycle.from_settings(settings)
running = cycle.running(decision_time())
provider = aws.Provider("aws", region=settings.region, default_tags={"tags": settings.default_tags})
opts = pulumi.ResourceOptions(providers=[provider])

# mwaa.kms: none (AWS-owned key), create (a key this stack owns), or an existing key's ARN.
kms = settings.mwaa.kms
key_arn: pulumi.Input[str] | None = None if kms in ("none", "create") else kms
if kms == "create":
    key_arn = EncryptionKey("kms", EncryptionKeyArgs(settings.name, settings.region, settings.dag_bucket.protect), opts).key_arn

net = settings.network
network = Network(
    "network",
    NetworkArgs(net.vpc_cidr, net.public_subnet_cidrs, net.private_subnet_cidrs, net.nat_gateways, running, cycle.usage_tags),
    opts,
)
dag_bucket = DagBucket(
    "dags",
    DagBucketArgs(
        dags_dir=ROOT / "dags",
        requirements_file=ROOT / settings.dag_bucket.requirements_file,
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
    dag_bucket_name=dag_bucket.bucket_name,
    dag_bucket_writable=dag_bucket.writable,
    lambda_source_dir=ROOT / "functions" / "validate_input",
    glue_script=ROOT / "glue" / "transform.py",
    log_retention_days=settings.mwaa.log_retention_days,
    noncurrent_version_expiration_days=settings.dag_bucket.noncurrent_version_expiration_days,
    protect=settings.dag_bucket.protect,
)
pipeline = PipelineAssets("pipeline", pipeline_args, opts)
# Not paused with the environment: it is what reports a run that a failed resume never started.
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

pulumi.export("environment_name", settings.name)
pulumi.export("environment_state", "running" if running else "paused")
pulumi.export("duty_cycle_windows", [] if cycle.always_on else [str(w) for w in cycle.windows])
pulumi.export("webserver_url", airflow.webserver_url)
pulumi.export("environment_arn", airflow.arn)
pulumi.export("dag_bucket_name", dag_bucket.bucket_name)
pulumi.export("data_bucket_name", pipeline.data_bucket_name)
pulumi.export("vpc_id", network.vpc_id)
pulumi.export("public_subnet_ids", network.public_subnet_ids)
pulumi.export("private_subnet_ids", network.private_subnet_ids)
pulumi.export("lambda_function_name", pipeline.function_name)
pulumi.export("glue_job_name", pipeline.job_name)
pulumi.export("alert_topic_arn", pipeline.alert_topic_arn)
pulumi.export("missed_run_schedule", missed_run_alarm.schedule_name)
