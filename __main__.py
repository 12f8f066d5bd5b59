"""Amazon MWAA platform: DAG bucket, pipeline assets, missed-run alarm, and either an environment (network, NAT,
MWAA) or an MWAA Serverless workflow (mwaa.mode).

Settings are read and validated first, so bad config stops the run before any
resource is registered. Every resource goes through one explicit provider
whose default tags carry project, stack, owner and cost center. A duty-cycled
stack declares the environment and its NAT egress only inside its windows
(duty_cycle.py): the clock, or DUTY_CYCLE_AT, decides at every `pulumi up`.
"""

from functools import partial
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

import names
import yaml_workflows
from components.airflow_environment import AirflowEnvironment, AirflowEnvironmentArgs
from components.airflow_secrets import AirflowSecrets, AirflowSecretsArgs
from components.dag_bucket import DagBucket, DagBucketArgs
from components.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.missed_run_alarm import MissedRunAlarm, MissedRunAlarmArgs, WorkflowDeadlines
from components.network import Network, NetworkArgs
from components.pipeline import PipelineAssets, PipelineAssetsArgs
from components.serverless_workflow import ServerlessWorkflow, ServerlessWorkflowArgs
from duty_cycle import DutyCycle, decision_time, pipeline_run_minutes
from serverless import definition as workflow_definition
from settings import settings_from_pulumi_config

ROOT = Path(__file__).parent
settings = settings_from_pulumi_config(ROOT)
serverless = settings.serverless
pipe = settings.pipeline
# The team's own workflows (dags/workflows/*.yaml), checked with the rest before anything is registered.
team_workflows = yaml_workflows.load(settings, ROOT)
if not serverless:
    yaml_workflows.require_dag_factory(team_workflows, ROOT / settings.dag_bucket.requirements_file)
# A serverless stack's workflow is checked against the service's rules before anything is registered.
definition_yaml = (
    workflow_definition.render_definition(
        workflow_definition.checked_definition(
            pipe, function_name=names.validate_input_function(settings.name), job_name=names.glue_job(settings.name)
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
    key_arn = EncryptionKey(
        "kms", EncryptionKeyArgs(environment_name=settings.name, region=settings.region, protect=settings.dag_bucket.protect), opts
    ).key_arn

if not serverless:
    net = settings.network
    network = Network(
        "network",
        NetworkArgs(
            vpc_cidr=net.vpc_cidr,
            public_subnet_cidrs=net.public_subnet_cidrs,
            private_subnet_cidrs=net.private_subnet_cidrs,
            nat_gateways=net.nat_gateways,
            egress=running,
            usage_tags=cycle.usage_tags,
        ),
        opts,
    )
pipeline = PipelineAssets(
    "pipeline",
    PipelineAssetsArgs(
        environment_name=settings.name,
        region=settings.region,
        input_prefix=pipe.input_prefix,
        output_prefix=pipe.output_prefix,
        runs_per_month=pipe.runs_per_month,
        alert_emails=settings.alert_emails,
        lambda_source_dir=ROOT / "functions" / "validate_input",
        lambda_runtime=pipe.lambda_.runtime,
        lambda_memory_mb=pipe.lambda_.memory_mb,
        lambda_timeout_seconds=pipe.lambda_.timeout_seconds,
        glue_script=ROOT / "glue" / "transform.py",
        glue_version=pipe.glue.glue_version,
        glue_job_type=pipe.glue.job_type,
        glue_python_version=pipe.glue.python_version,
        glue_max_capacity=pipe.glue.max_capacity,
        glue_worker_type=pipe.glue.worker_type,
        glue_number_of_workers=pipe.glue.number_of_workers,
        glue_timeout_minutes=pipe.glue.timeout_minutes,
        glue_max_retries=pipe.glue.max_retries,
        glue_expected_run_minutes=pipe.glue.expected_run_minutes,
        log_retention_days=settings.mwaa.log_retention_days,
        noncurrent_version_expiration_days=settings.dag_bucket.noncurrent_version_expiration_days,
        protect=settings.dag_bucket.protect,
        events_publish=serverless,  # its failed-run events reach the topic through an EventBridge rule
    ),
    opts,
)
# What the provisioned DAG reads from dags/pipeline_config.json: every name and ARN from IaC, none hard-coded
# (a serverless definition carries them itself).
dag_config = {
    "lambda_function_name": pipeline.function_name,
    "glue_job_name": pipeline.job_name,
    "alert_topic_arn": pipeline.alert_topic_arn,
    "data_bucket": pipeline.data_bucket_name,
    "input_prefix": pipe.input_prefix,
    "output_prefix": pipe.output_prefix,
    "region": settings.region,
    "schedule_cron": pipe.cron,
    "schedule_timezone": pipe.timezone,
    "late_start_minutes": pipe.late_start_minutes,
    "run_timeout_minutes": pipe.run_timeout_minutes,
}
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
        pipeline_config=None if serverless else dag_config,
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

team_deadlines: list[WorkflowDeadlines] = []  # a serverless stack's team workflows, for the missed-run check
if serverless:
    # One aws-native provider for the workflows (pulumi-aws has no MWAA Serverless resource), same region and tags.
    native = aws_native.Provider("aws-native", region=settings.region, default_tags={"tags": settings.default_tags})

    # What every workflow of the stack shares: its definition in the DAG bucket, the provider, the stack's settings.
    workflow_args = partial(
        ServerlessWorkflowArgs,
        region=settings.region,
        dag_bucket_name=dag_bucket.bucket_name,
        dag_bucket_writable=dag_bucket.writable,
        log_retention_days=settings.mwaa.log_retention_days,
        protect=settings.mwaa.protect,
        native_provider=native,
    )
    workflow = ServerlessWorkflow(
        "serverless",
        workflow_args(
            workflow_name=settings.name,
            about="the Lambda -> Glue pipeline (generated by serverless/definition.py)",
            definition_yaml=definition_yaml,
            function_arn=pipeline.function_arn,
            job_arn=pipeline.job_arn,
            alert_topic_arn=pipeline.alert_topic_arn,  # its rule hears every workflow of the stack
            usage_tags={
                "pipeline:runs-per-month": f"{pipe.runs_per_month:g}",
                "pipeline:billed-task-minutes": f"{workflow_definition.billed_task_minutes(pipe):g}",
            },
        ),
        opts,
    )
    pulumi.export("workflow_arn", workflow.workflow_arn)
    pulumi.export("workflow_definition", pulumi.Output.concat("s3://", dag_bucket.bucket_name, "/", workflow.definition_key))
    team_arns = {}
    for team in team_workflows:  # the team's dags/workflows/*.yaml: each deployed, or named with what keeps it off
        if team.reasons or team.dag_id is None:  # no DAG id: more than one DAG, a reason too
            pulumi.log.warn(f"{team.file}: not run by this serverless stack: {'; '.join(team.reasons)}")
            continue
        name, runs = yaml_workflows.workflow_name(settings, team.dag_id), yaml_workflows.runs_per_month(team)
        team_arns[team.dag_id] = ServerlessWorkflow(
            f"workflow-{team.dag_id}",
            workflow_args(
                workflow_name=name,
                about=f"the team's workflow {team.file}",
                definition_yaml=team.text,
                function_arn=pipeline.function_arn if "function_name" in team.calls else None,
                job_arn=pipeline.job_arn if "job_name" in team.calls else None,
                alert_topic_arn=None,
                usage_tags={
                    "pipeline:runs-per-month": f"{runs:g}",
                    "pipeline:billed-task-minutes": f"{yaml_workflows.billed_task_minutes(team, pipe.glue.expected_run_minutes):g}",
                },
            ),
            opts,
        ).workflow_arn
        check = yaml_workflows.run_check(team)
        if isinstance(check, str):
            pulumi.log.warn(f"{team.file}: deployed without a missed-run check: {check}")
            continue
        team_deadlines.append(
            WorkflowDeadlines(
                dag_id=team.dag_id,
                workflow_name=name,
                workflow_arn=team_arns[team.dag_id],
                run_minutes_of_week=check.run_minutes,
                deadline_minutes=check.deadline_minutes,
                deadline_crons=check.crons,
                runs_per_month=runs,
            )
        )
    if team_arns:
        pulumi.export("yaml_workflow_arns", team_arns)
else:
    mwaa = settings.mwaa
    secrets = (  # Connections and Variables that outlive every pause, read from Secrets Manager
        AirflowSecrets(
            "secrets",
            AirflowSecretsArgs(
                environment_name=settings.name,
                connections=mwaa.connections,
                variables=mwaa.variables,
                kms_key_arn=key_arn,
                protect=mwaa.protect,
            ),
            opts,
        )
        if mwaa.connections or mwaa.variables
        else None
    )
    airflow = AirflowEnvironment(
        "airflow",
        AirflowEnvironmentArgs(
            environment_name=settings.name,
            region=settings.region,
            airflow_version=mwaa.airflow_version,
            environment_class=mwaa.environment_class,
            schedulers=mwaa.schedulers,
            min_workers=mwaa.min_workers,
            max_workers=mwaa.max_workers,
            min_webservers=mwaa.min_webservers,
            max_webservers=mwaa.max_webservers,
            webserver_access_mode=mwaa.webserver_access_mode,
            weekly_maintenance_window_start=mwaa.weekly_maintenance_window_start,
            airflow_configuration_options=mwaa.airflow_configuration_options | (secrets.configuration_options if secrets else {}),
            secret_prefixes=list(secrets.prefixes.values()) if secrets else [],
            log_levels=mwaa.log_levels.by_log_type(),
            log_retention_days=mwaa.log_retention_days,
            protect=mwaa.protect,
            source_bucket_arn=dag_bucket.bucket_arn,
            requirements_object_version=dag_bucket.requirements_object_version,
            startup_script_object_version=dag_bucket.startup_script_object_version,
            plugins_object_version=dag_bucket.plugins_object_version,
            kms_key_arn=key_arn,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.security_group_id,
            function_arn=pipeline.function_arn,
            job_arn=pipeline.job_arn,
            alert_topic_arn=pipeline.alert_topic_arn,
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

# Not paused with the environment: it is what reports a run that a failed resume (or a failed workflow) never produced.
missed_run_alarm = MissedRunAlarm(
    "missed-run",
    MissedRunAlarmArgs(
        environment_name=settings.name,
        data_bucket_name=pipeline.data_bucket_name,
        data_bucket_arn=pipeline.data_bucket_arn,
        output_prefix=pipe.output_prefix,
        topic_arn=pipeline.alert_topic_arn,
        deadline_cron=pipe.deadline_cron,
        timezone=pipe.timezone,
        deadline_minutes=pipe.deadline_minutes,
        run_minutes_of_week=sorted(pipeline_run_minutes(pipe)),
        runs_per_month=pipe.runs_per_month,
        runtime=pipe.lambda_.runtime,
        log_retention_days=settings.mwaa.log_retention_days,
        source_dir=ROOT / "functions" / "missed_run_check",
        workflows=tuple(team_deadlines),
    ),
    opts,
)

pulumi.export("missed_run_schedule", missed_run_alarm.schedule_name)
