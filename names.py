"""Every name the program gives an AWS resource, derived from the one environment name, and AWS's limit for each.

The components take their names from here and the settings check them all before anything is registered, so a name
too long for AWS is one error naming `environmentName` (or, unset, the stack name it defaults from), not a failed
`pulumi up` halfway. Auto-named resources (buckets, the functions' roles) get Pulumi's suffixed names from short fixed
logical names and are not listed.

The limits are each API's own (botocore's service models, `tests/test_names.py` reads them): MWAA CreateEnvironment
Name 80; Lambda CreateFunction FunctionName 64 for a bare name (the model's 140 admits a full ARN); IAM CreateRole
RoleName 64; EventBridge PutRule Name 64; EventBridge Scheduler CreateSchedule Name 64; Glue CreateJob Name 255; SNS
CreateTopic Name 256 (the SNS developer guide; the model sets none); CloudWatch Logs CreateLogGroup logGroupName 512;
KMS CreateAlias AliasName 256; MWAA Serverless CreateWorkflow Name 255; CloudWatch PutMetricAlarm AlarmName 255.
"""

from __future__ import annotations

#: The shipped pipeline's DAG id: dags/lambda_glue_pipeline.py writes it (MWAA uploads only dags/, so the DAG can't
#: import this module; tests/airflow/test_dag.py keeps the two equal), the serverless definition and the local run use it.
PIPELINE_DAG_ID = "lambda_glue_pipeline"
#: The MWAA environment's log groups, as MWAA names them (`airflow-<env>-<type>`).
LOG_TYPES = ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker")

LIMITS = {
    "MWAA environment": 80,
    "MWAA Serverless workflow": 255,
    "Lambda function": 64,
    "IAM role": 64,
    "EventBridge rule": 64,
    "EventBridge Scheduler schedule": 64,
    "Glue job": 255,
    "SNS topic": 256,
    "CloudWatch log group": 512,
    "KMS alias": 256,
    "CloudWatch alarm": 255,
}


def validate_input_function(env: str) -> str:
    return f"{env}-validate-input"


def missed_run_function(env: str) -> str:
    return f"{env}-missed-run-check"


def lambda_log_group(function: str) -> str:
    """The group Lambda writes to; the program pre-creates it to set its retention."""
    return f"/aws/lambda/{function}"


def glue_job(env: str) -> str:
    return f"{env}-transform"


def alert_topic(env: str) -> str:
    return f"{env}-alerts"


def missed_run_schedule(env: str) -> str:
    return f"{env}-missed-run"


def missed_run_errors_alarm(env: str) -> str:
    """The alarm on the missed-run check's own errors: the alarm's alarm."""
    return f"{env}-missed-run-check-errors"


def environment_log_groups(env: str) -> dict[str, str]:
    """log type -> the group MWAA writes to: airflow-<env>-<type>."""
    return {log_type: f"airflow-{env}-{log_type}" for log_type in LOG_TYPES}


def secret_prefixes(env: str) -> dict[str, str]:
    """kind -> the Secrets Manager prefix Airflow reads that kind from (`connections`, `variables`): per environment, so
    the execution role reads its own stack's secrets only."""
    return {kind: f"airflow/{env}/{kind}" for kind in ("connections", "variables")}


def kms_alias(env: str) -> str:
    return f"alias/{env}"


def workflow_log_group(env: str) -> str:
    return f"airflow-{env}-workflow"


def workflow_role(env: str) -> str:
    return f"{env}-workflow"


def workflow_missed_run_schedule(workflow: str, index: int) -> str:
    """A team workflow's missed-run check, one schedule per time of day (yaml_workflows.py): the first unnumbered."""
    return f"{workflow}-missed-run" + (f"-{index}" if index > 1 else "")


def failed_runs_rule(env: str) -> str:
    return f"{env}-failed-runs"


def workflow_names(workflow: str, schedules: int = 0) -> list[tuple[str, str]]:
    """(kind, name) of what a serverless workflow derives from its name: the pipeline's (the environment's name) or a
    team workflow's (yaml_workflows.py, with its missed-run schedules)."""
    found = [
        ("MWAA Serverless workflow", workflow),
        ("CloudWatch log group", workflow_log_group(workflow)),
        ("IAM role", workflow_role(workflow)),
    ]
    return found + [("EventBridge Scheduler schedule", workflow_missed_run_schedule(workflow, i)) for i in range(1, schedules + 1)]


def derived(env: str, serverless: bool) -> list[tuple[str, str]]:
    """(kind, name) of every name a stack of this mode derives from `env` (a team workflow's: `workflow_names`)."""
    functions = [validate_input_function(env), missed_run_function(env)]
    found = [("Lambda function", f) for f in functions] + [("CloudWatch log group", lambda_log_group(f)) for f in functions]
    found += [("Glue job", glue_job(env)), ("SNS topic", alert_topic(env)), ("EventBridge Scheduler schedule", missed_run_schedule(env))]
    found.append(("CloudWatch alarm", missed_run_errors_alarm(env)))
    if serverless:
        return [*found, *workflow_names(env), ("EventBridge rule", failed_runs_rule(env))]
    found += [("MWAA environment", env), ("KMS alias", kms_alias(env))]
    return found + [("CloudWatch log group", group) for group in environment_log_groups(env).values()]


def too_long(env: str, serverless: bool) -> list[str]:
    """Each derived name over its AWS limit, as '<kind> <name> (N characters, AWS allows L)'."""
    return [
        f"{kind} {name!r} ({len(name)} characters, AWS allows {LIMITS[kind]})"
        for kind, name in derived(env, serverless)
        if len(name) > LIMITS[kind]
    ]


def longest_name(serverless: bool) -> int:
    """The longest environment name whose every derived name fits (a name of `x`s: only lengths matter)."""
    return next(length for length in range(80, 0, -1) if not too_long("x" * length, serverless))
