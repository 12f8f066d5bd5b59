"""The pipeline as an MWAA Serverless workflow: a dag-factory YAML generated from the pipeline settings, and the rules
the service applies to it.

MWAA Serverless has no environment: a workflow is one YAML file in S3, run on Airflow 3.0.6 with one worker per task
and billed per task-second. The same pipeline settings that render the provisioned DAG's pipeline_config.json make
this definition, so the two modes run the same Lambda -> Glue pipeline at the same instants.

What doesn't carry over, and what this does instead:
- Schedules are cron read in UTC (no time zone; AWS's converter drops one silently). The settings' local time is
  converted once; a zone whose UTC offset changes during the year is refused (the runs would move by an hour twice a
  year), see `utc_cron`.
- No Jinja filters (`user_defined_filters` is ignored), so Glue can't parse the Lambda's JSON result. Glue gets the
  input key from the naming rule the Lambda checks (`INPUT_KEY`, the same as functions/validate_input `input_key`; a
  test keeps them equal), and still runs only after the Lambda succeeded (the default all_success trigger rule).
- `on_failure_callback` and `dagrun_timeout` are ignored: failures alert through an EventBridge rule on the service's
  events (components/serverless_workflow.py), and each task has its own execution_timeout.
- Limits: retries 0-3, retry_delay 0-300 s, execution_timeout at most 3600 s; a bigger Glue timeout is an error here.
- Durations: the service loads the YAML with dag-factory 1.0.1, which converts only `__type__`-tagged values, and
  Airflow refuses a plain number for execution_timeout. So each timeout is written as AWS's converter writes it
  (`{__type__: datetime.timedelta, seconds: N}`, its cleanup.py); retry_delay may stay whole seconds (BaseOperator
  converts a number).

Sources: the MWAA Serverless user guide's operator allowlist and limits, as encoded by AWS in
aws-samples/amazon-mwaa-examples serverless/mcp/src (constraints.py, schema.py, tools.py at 88ad45d; the allowlist is
vendored in operators.json); the EventBridge event reference `events-ref-airflow-serverless`.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

import schedule
from duty_cycle import pipeline_run_minutes
from names import PIPELINE_DAG_ID
from settings import AIRFLOW_VERSIONS, ConfigError, PipelineSettings

#: The Airflow the service runs every workflow on (policies/rules/data/mwaa_versions.json).
AIRFLOW_VERSION = AIRFLOW_VERSIONS["serverless"]["airflow"]
#: The DAG's id, the same as the provisioned DAG's.
DAG_ID = PIPELINE_DAG_ID
#: The provisioned DAG this definition stands for: a serverless stack runs it from here, not from its Python file.
PIPELINE_DAG_FILE = f"{DAG_ID}.py"
#: The provisioned DAG, whose owner and retry policy the definition keeps.
DAG_FILE = Path(__file__).resolve().parents[1] / "dags" / PIPELINE_DAG_FILE
#: The day's input object, as functions/validate_input/handler.py `input_key` names it (that code can't be imported here:
#: the program's environment has no boto3).
INPUT_KEY = "{prefix}{{{{ ds }}}}.csv"
#: Where the definition lives in the DAG bucket.
DEFINITION_PREFIX = "workflows/"
OPERATORS = frozenset(json.loads((Path(__file__).with_name("operators.json")).read_text())["operators"])
LAMBDA_OPERATOR = "airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator"
GLUE_OPERATOR = "airflow.providers.amazon.aws.operators.glue.GlueJobOperator"

#: The service's limits per task (user guide; constraints.py VALIDATED_TASK_PARAMS).
MAX_RETRIES, MAX_RETRY_DELAY_SECONDS, MAX_TASK_SECONDS = 3, 300, 3600
#: Added to the Lambda's and the Glue job's own timeouts for each task's execution_timeout: start-up and polling.
TASK_MARGIN_SECONDS = {"validate_input": 60, "transform": 300}
#: The setting behind each task's execution_timeout, named when the service's limit refuses it.
TIMEOUT_SETTINGS = {"validate_input": "pipeline.lambda.timeoutSeconds", "transform": "pipeline.glue.timeoutMinutes"}
#: Billed per task-second with a one-minute minimum per task (the service's pricing); Glue start-up and polling.
GLUE_TASK_OVERHEAD_MINUTES = 1
#: The type tag dag-factory casts to a timedelta (utils.cast_with_type).
TIMEDELTA = "datetime.timedelta"

DAG_KEYS = {"dag_id", "description", "schedule", "start_date", "end_date", "max_active_runs", "max_active_tasks", "params",
            "default_args", "tasks"}  # fmt: skip
#: Accepted by Airflow, ignored by the service: in a definition they would promise what never happens.
IGNORED_DAG_KEYS = {
    "template_searchpath", "template_undefined", "user_defined_macros", "user_defined_filters", "catchup", "access_control",
    "jinja_environment_kwargs", "render_template_as_native_obj", "tags", "owner_links", "auto_register", "fail_fast",
    "dag_display_name", "depends_on_past", "email_on_failure", "email_on_retry", "max_consecutive_failed_dag_runs",
    "dagrun_timeout", "sla_miss_callback", "on_failure_callback", "on_success_callback", "is_paused_upon_creation",
}  # fmt: skip
IGNORED_TASK_KEYS = {
    "email_on_retry", "email_on_failure", "retry_exponential_backoff", "depends_on_past", "ignore_first_depends_on_past",
    "wait_for_downstream", "priority_weight", "sla", "max_active_tis_per_dag", "max_active_tis_per_dagrun",
    "task_concurrency", "resources", "run_as_user", "executor_config", "email", "max_retry_delay", "on_execute_callback",
    "on_failure_callback", "on_success_callback", "on_retry_callback", "on_skipped_callback", "do_xcom_push",
    "multiple_outputs", "start_date", "end_date", "weight_rule", "queue", "pool", "pool_slots", "pre_execute",
    "post_execute", "executor", "task_group",
}  # fmt: skip
#: Set by the service (the workflow's role and region): not in a definition.
SERVICE_KEYS = {"aws_conn_id": "the service connects with the workflow's role", "region_name": "the service runs tasks in the "
                "workflow's region", "verify": "not supported", "botocore_config": "not supported"}  # fmt: skip
JINJA_ROOTS = {"macros", "task_instance", "ti", "params", "ds", "ds_nodash", "ts", "ts_nodash"}
_JINJA = re.compile(r"{{(.*?)}}")
_IDENTIFIER = re.compile(r"^[a-zA-Z0-9_-]+$")
_CRON_FIELD = re.compile(r"^[0-9*,/\-A-Za-z?]+$")


class ScheduleError(ValueError):
    """The pipeline's schedule has no UTC cron equivalent (a zone with daylight saving)."""


def utc_cron(pipeline: PipelineSettings) -> str:
    """The pipeline's runs as one cron in UTC, from the same run instants the missed-run alarm and the DAG check use.

    Refuses a zone whose offset changes during the year: its runs fall at two UTC times, and one cron would run an hour
    off for half of it.
    """
    cron = schedule.utc_cron(pipeline_run_minutes(pipeline))
    if cron is None:  # settings.py refuses this for a serverless stack, with the fix
        raise ScheduleError(f"pipeline.timezone {pipeline.timezone} has daylight saving: no single UTC cron matches its runs")
    return cron


def duration(seconds: int) -> dict[str, Any]:
    """A duration as dag-factory 1.0.1 builds a timedelta from YAML (AWS's converter writes the same)."""
    return {"__type__": TIMEDELTA, "seconds": seconds}


def task_seconds(pipeline: PipelineSettings) -> dict[str, int]:
    """Each task's execution_timeout: the Lambda's or the Glue job's own timeout plus start-up and polling."""
    return {
        "validate_input": pipeline.lambda_.timeout_seconds + TASK_MARGIN_SECONDS["validate_input"],
        "transform": pipeline.glue.timeout_minutes * 60 + TASK_MARGIN_SECONDS["transform"],
    }


def task_minutes(operator: str | None, glue_expected_minutes: float) -> float:
    """Task-minutes one try of a task bills: at least a minute; a Glue task its expected run plus start-up and polling.
    The pipeline's tasks and a team's workflow's (yaml_workflows.py) are billed alike."""
    return max(1, glue_expected_minutes + GLUE_TASK_OVERHEAD_MINUTES) if operator == GLUE_OPERATOR else 1


def billed_task_minutes(pipeline: PipelineSettings) -> float:
    """Task-minutes one successful run bills: each task at least a minute (a retried try bills again, not counted)."""
    return sum(task_minutes(operator, pipeline.glue.expected_run_minutes) for operator in (LAMBDA_OPERATOR, GLUE_OPERATOR))


def duration_seconds(value: int | dict[str, Any]) -> int:
    """A duration as a definition writes it, whole seconds or a typed timedelta (`duration`), in seconds."""
    return value if isinstance(value, int) else _Duration.model_validate(value).total_seconds


def task_defaults(dag_file: Path = DAG_FILE) -> dict[str, Any]:
    """The provisioned DAG's owner and retry policy, its TASK_DEFAULTS literal read without importing Airflow (its
    exponential backoff is the DAG's own: the service ignores it)."""
    for node in ast.parse(dag_file.read_text(), filename=str(dag_file)).body:
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["TASK_DEFAULTS"]:
            try:
                found = ast.literal_eval(node.value)
            except ValueError:
                break
            if isinstance(found, dict) and {"owner", "retries", "retry_delay_minutes"} <= found.keys():
                return {"owner": found["owner"], "retries": found["retries"], "retry_delay": found["retry_delay_minutes"] * 60}
            break
    raise ConfigError(
        f"{dag_file}: TASK_DEFAULTS must be a literal dict with owner, retries and retry_delay_minutes "
        "(the MWAA Serverless definition reads the retry policy from it)"
    )


def definition(pipeline: PipelineSettings, *, function_name: str, job_name: str) -> dict[str, Any]:
    """The workflow as a dag-factory document: one DAG, the Lambda check, then the Glue transform."""
    timeouts, schedule = task_seconds(pipeline), utc_cron(pipeline)
    return {
        DAG_ID: {
            "description": f"Input check (Lambda), then transform (Glue); {pipeline.run_time} {'/'.join(pipeline.run_days)} "
            f"{pipeline.timezone}, cron {schedule} UTC",
            "schedule": schedule,
            "max_active_runs": 1,
            "default_args": task_defaults(),
            "tasks": {
                "validate_input": {
                    "operator": LAMBDA_OPERATOR,
                    "function_name": function_name,
                    "payload": json.dumps({"run_date": "{{ ds }}"}),
                    "execution_timeout": duration(timeouts["validate_input"]),
                },
                "transform": {
                    "operator": GLUE_OPERATOR,
                    "job_name": job_name,
                    # The bucket and output prefix are the job's default arguments; Glue merges them with these.
                    "script_args": {"--RUN_DATE": "{{ ds }}", "--INPUT_KEY": INPUT_KEY.format(prefix=pipeline.input_prefix)},
                    "wait_for_completion": True,
                    "job_poll_interval": 15,
                    "execution_timeout": duration(timeouts["transform"]),
                    "dependencies": ["validate_input"],
                },
            },
        }
    }


def render_definition(document: dict[str, Any]) -> str:
    """The YAML uploaded to S3: stable key order, so the object (and the workflow) changes only with the settings."""
    header = "# Generated by serverless/definition.py from the stack's pipeline settings; edit those, not this file.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=120)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _schedule_problem(schedule: Any) -> str | None:
    if schedule is None or schedule == "None":
        return None
    if not isinstance(schedule, str):
        return f"schedule {schedule!r} is not supported: use a cron string in UTC (no timedelta, asset or timetable schedules)"
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        return f"schedule {schedule!r} is not a 5-field cron expression (minute hour day month weekday, in UTC)"
    return None


class _Duration(BaseModel):
    """A timedelta as dag-factory 1.0.1 builds one from YAML (`utils.cast_with_type`): `{__type__: datetime.timedelta,
    seconds: N}`, whole units only."""

    model_config = ConfigDict(extra="forbid")
    type_: Literal["datetime.timedelta"] = Field(alias="__type__")
    days: StrictInt = 0
    hours: StrictInt = 0
    minutes: StrictInt = 0
    seconds: StrictInt = 0

    @property
    def total_seconds(self) -> int:
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60 + self.seconds


class ServiceLimits(BaseModel):
    """What the service lets a task ask for, in its own keys or in default_args (the user guide's limits; AWS's validator
    encodes them the same way). A number for retry_delay is fine (BaseOperator converts it); execution_timeout must be a
    typed timedelta, since Airflow refuses a plain number there."""

    model_config = ConfigDict(extra="ignore")
    retries: StrictInt | None = Field(default=None, ge=0, le=MAX_RETRIES)
    retry_delay: StrictInt | _Duration | None = None
    execution_timeout: _Duration | None = None

    @field_validator("retry_delay")
    @classmethod
    def _delay_in_range(cls, value: int | _Duration | None) -> int | _Duration | None:
        seconds = value.total_seconds if isinstance(value, _Duration) else value
        if seconds is not None and not 0 <= seconds <= MAX_RETRY_DELAY_SECONDS:
            raise ValueError("out of range")
        return value

    @field_validator("execution_timeout")
    @classmethod
    def _timeout_in_range(cls, value: _Duration | None) -> _Duration | None:
        if value is not None and not 0 < value.total_seconds <= MAX_TASK_SECONDS:
            raise ValueError(
                f"execution_timeout of {value.total_seconds} s must be at most {MAX_TASK_SECONDS} s (a task runs at most 60 minutes)"
            )
        return value


#: The problem each limit's refusal names (its value shown as written).
_LIMIT_PROBLEMS = {
    "retries": "retries {value!r} is outside the service's 0-" + str(MAX_RETRIES),
    "retry_delay": "retry_delay {value!r} must be whole seconds from 0 to " + str(MAX_RETRY_DELAY_SECONDS),
    "execution_timeout": "execution_timeout {value!r} is not a timedelta as dag-factory 1.0.1 builds one (Airflow refuses a plain "
    "number): write {{__type__: " + TIMEDELTA + ", seconds: N}}",
}


def _limit_problems(where: str, values: dict[str, Any]) -> list[str]:
    """Each limit `values` break, once each, in ServiceLimits' order."""
    try:
        ServiceLimits.model_validate(values)
    except ValidationError as exc:
        found: dict[str, str] = {}
        for error in exc.errors():
            key = str(error["loc"][0])
            in_range = key == "execution_timeout" and error["type"] == "value_error"  # a timedelta, too long
            message = str(error.get("ctx", {}).get("error")) if in_range else _LIMIT_PROBLEMS[key].format(value=values[key])
            found.setdefault(key, f"{where}: {message}")
        return list(found.values())
    return []


def _task_problems(task_id: str, task: Any, task_ids: set[str], defaults: dict[str, Any]) -> list[str]:
    where = f"task {task_id}"
    if not isinstance(task, dict):
        return [f"{where}: must be a mapping of operator arguments"]
    found = [] if _IDENTIFIER.match(str(task_id)) else [f"{where}: task ids are letters, digits, '_' or '-'"]
    operator = task.get("operator")
    if operator not in OPERATORS:
        found.append(f"{where}: operator {operator!r} is not on the service's allowlist (serverless/operators.json)")
    if task.get("deferrable"):
        found.append(f"{where}: deferrable mode is not supported")
    found += [f"{where}: dynamic task mapping ({key}) is not supported" for key in ("expand", "map", "partial") if key in task]
    found += [f"{where}: {key} must not be set ({why})" for key, why in SERVICE_KEYS.items() if key in task]
    found += [f"{where}: {key} is ignored by MWAA Serverless; remove it" for key in sorted(IGNORED_TASK_KEYS & set(task))]
    found += _limit_problems(where, defaults | task)
    dependencies = task.get("dependencies", [])
    if not isinstance(dependencies, list):
        return [*found, f"{where}: dependencies must be a list of task ids"]
    for upstream in dependencies:
        if upstream not in task_ids:
            found.append(f"{where}: depends on {upstream!r}, which is not a task of this DAG")
    return found


def problems(document: Any) -> list[str]:
    """Every rule of the service the document breaks, each naming the DAG or task and the rule."""
    if not isinstance(document, dict) or len(document) != 1:
        count = len(document) if isinstance(document, dict) else 0
        return [f"a definition holds exactly one DAG (the service runs one DAG per file); this one holds {count}"]
    ((dag_id, dag),) = document.items()
    if not isinstance(dag, dict) or not isinstance(dag.get("tasks"), dict) or not dag["tasks"]:
        return [f"DAG {dag_id}: needs a `tasks` mapping of task id to operator arguments"]
    found = [] if _IDENTIFIER.match(str(dag_id)) else [f"DAG {dag_id}: DAG ids are letters, digits, '_' or '-'"]
    found += [f"DAG {dag_id}: {key} is ignored by MWAA Serverless; remove it" for key in sorted(IGNORED_DAG_KEYS & set(dag))]
    found += [f"DAG {dag_id}: unknown key {key}" for key in sorted(set(dag) - DAG_KEYS - IGNORED_DAG_KEYS)]
    if problem := _schedule_problem(dag.get("schedule")):
        found.append(f"DAG {dag_id}: {problem}")
    if "start_date" in dag or "start_date" in (dag.get("default_args") or {}):
        found.append(f"DAG {dag_id}: start_date must be in the future for the service; leave it out (runs start at the next cron time)")
    defaults = dag.get("default_args") or {}
    if not isinstance(defaults, dict):  # a team's file (yaml_workflows.py) may hold anything
        found.append(f"DAG {dag_id}: default_args must be a mapping of task arguments")
        defaults = {}
    found += [f"DAG {dag_id} default_args: {key} is ignored by MWAA Serverless" for key in sorted(IGNORED_TASK_KEYS & set(defaults))]
    found += _limit_problems(f"DAG {dag_id} default_args", defaults)
    found += [p for task_id, task in dag["tasks"].items() for p in _task_problems(task_id, task, set(dag["tasks"]), defaults)]
    for text in _strings(dag):
        for expression in _JINJA.findall(text):
            if "|" in expression:
                found.append(f"DAG {dag_id}: Jinja filter in {{{{{expression}}}}}: filters are not supported (no user_defined_filters)")
            root = re.split(r"[.\[( ]", expression.strip(), maxsplit=1)[0]
            if root not in JINJA_ROOTS:
                found.append(f"DAG {dag_id}: Jinja variable {root!r} is not available (supported: {', '.join(sorted(JINJA_ROOTS))})")
    return found


def checked_definition(pipeline: PipelineSettings, *, function_name: str, job_name: str) -> dict[str, Any]:
    """The stack's definition, or a ConfigError (before anything is registered) naming each broken rule and its setting."""
    document = definition(pipeline, function_name=function_name, job_name=job_name)
    found = problems(document)
    for i, problem in enumerate(found):
        task = next((t for t in TIMEOUT_SETTINGS if problem.startswith(f"task {t}: execution_timeout")), None)
        if task:
            found[i] = f"{problem}; it is {TIMEOUT_SETTINGS[task]} plus {TASK_MARGIN_SECONDS[task]} s, so lower that setting"
    if found:
        raise ConfigError("the pipeline settings make a workflow MWAA Serverless would refuse:\n" + "\n".join(f"  {p}" for p in found))
    return document
