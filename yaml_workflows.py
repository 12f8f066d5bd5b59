"""The team's own workflows: dag-factory YAML files in dags/workflows/, one DAG a file, one file for both modes.

A provisioned stack uploads them with the rest of dags/, and dags/load_yaml_workflows.py builds each with dag-factory
(the team pins it in dags/requirements.txt; `require_dag_factory`). A serverless stack deploys every file the service
can run as its own workflow (components/serverless_workflow.py) and names every other with its reasons, in `pulumi up`'s
output and in the main job: never dropped silently.

A file names the stack's own resources through placeholders, `${PIPELINE_LAMBDA_FUNCTION_NAME}` and the like
(`PLACEHOLDER_KEYS`, `placeholders`): dag-factory expands environment variables in a file it loads (`os.path.expandvars`, its _yaml.py), so
the loader DAG sets them from dags/pipeline_config.json, and the program writes them into a serverless definition before
upload (the service's dag-factory then finds nothing left to expand). A placeholder this platform doesn't fill is an
error in both modes, so a file means the same thing in both.

What keeps a file off the service is the service's rules (serverless/definition.py `problems`) and its role: a lite
workflow's role may invoke the stack's own Lambda function and run its own Glue job (the pipeline's permissions,
components/iam.py), nothing else, so an operator that calls anything else is a reason, not a role that grows with every
file. A deployed file's runs are checked at their deadlines by the stack's missed-run check (`run_check`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

import names
from schedule import WEEK, minute_of_week, scheduler_cron_lines
from serverless.definition import (
    GLUE_OPERATOR,
    LAMBDA_OPERATOR,
    MAX_TASK_SECONDS,
    OPERATORS,
    duration_seconds,
    problems,
    task_minutes,
)
from settings import PROJECT, ConfigError, Settings

#: Where the files live, relative to the project (uploaded to the DAG bucket's dags/workflows/ with the rest of dags/).
FOLDER = Path("dags") / "workflows"
#: The provisioned side's loader, in dags/.
LOADER_DAG_FILE = "load_yaml_workflows.py"
#: pipeline_config.json keys a file may name as ${PIPELINE_<KEY>}: the ones known before deploy, so a serverless
#: definition is complete when the program writes it. dags/load_yaml_workflows.py sets the same names.
PLACEHOLDER_KEYS = ("lambda_function_name", "glue_job_name", "input_prefix", "output_prefix", "region")
#: dag-factory 1.1.0 loads on every Airflow version this platform runs (3.0.6, 3.2.1, 3.3.1) and resolves against each
#: one's MWAA constraints; 1.0.1, the service's, imports `airflow.datasets` and fails on 3.2.1 and later.
DAG_FACTORY_PIN = "dag-factory==1.1.0"
#: What a lite workflow's role grants each operator: the argument that names what it calls, and the stack's own resource
#: that argument must name. EmptyOperator calls nothing.
GRANTED = {LAMBDA_OPERATOR: "function_name", GLUE_OPERATOR: "job_name"}
CALLS_NOTHING = {"airflow.operators.empty.EmptyOperator"}
#: A run's deadline: every task's timeout, each retry and its delay, in sequence (Airflow's defaults where the file sets
#: none: no retry, 300 s between tries, and the service's 60-minute task limit), then this for the service to start it.
START_MARGIN_MINUTES = 15
DEFAULT_RETRY_DELAY_SECONDS = 300
#: The times of day a team workflow's missed-run check covers: one EventBridge Scheduler schedule each.
MAX_CHECK_TIMES = 4
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")  # what os.path.expandvars expands


@dataclass(frozen=True)
class YamlWorkflow:
    #: The file, relative to the project (dags/workflows/<name>.yaml).
    file: str
    #: Its one DAG's id (None when it holds more or none: a lite reason, dag-factory loads them all when provisioned).
    dag_id: str | None
    #: The file with the stack's names written in.
    text: str
    document: dict[str, Any]
    #: Why MWAA Serverless can't run it as it is; empty: a serverless stack deploys it.
    reasons: tuple[str, ...]
    #: The operators' arguments a lite workflow's role must serve (GRANTED's keys it uses).
    calls: frozenset[str]

    @property
    def dag(self) -> dict[str, Any]:
        return next(iter(self.document.values()))

    @property
    def tasks(self) -> dict[str, Any]:
        return self.dag["tasks"]


@dataclass(frozen=True)
class RunCheck:
    """When a deployed workflow's runs are due: the missed-run check asks the service for a successful run then."""

    #: Minutes of the UTC week its cron runs at.
    run_minutes: tuple[int, ...]
    deadline_minutes: int
    #: EventBridge Scheduler crons (UTC) of the deadlines.
    crons: tuple[str, ...]


def placeholders(settings: Settings) -> dict[str, str]:
    """${PIPELINE_<KEY>} -> this stack's value, as dags/pipeline_config.json has it."""
    pipe = settings.pipeline
    values = {
        "lambda_function_name": names.validate_input_function(settings.name),
        "glue_job_name": names.glue_job(settings.name),
        "input_prefix": pipe.input_prefix,
        "output_prefix": pipe.output_prefix,
        "region": settings.region,
    }
    return {f"PIPELINE_{key.upper()}": values[key] for key in PLACEHOLDER_KEYS}


def render(file: str, text: str, values: dict[str, str]) -> str:
    """The file with each placeholder replaced; one this platform doesn't fill is an error naming the file and the fix."""
    unknown = sorted({a or b for a, b in _VARIABLE.findall(text)} - set(values))
    if unknown:
        raise ConfigError(
            f"{file}: {', '.join('$' + name for name in unknown)} is not a placeholder this platform fills; use "
            f"{', '.join('${' + name + '}' for name in values)} (dag-factory expands $NAME from the environment, so a "
            "literal dollar sign in a value can't be written)"
        )
    return _VARIABLE.sub(lambda match: values[match.group(1) or match.group(2)], text)


def _lite_reasons(workflow_name: str, document: dict[str, Any], values: dict[str, str]) -> tuple[list[str], set[str]]:
    """The service's rules, then what its role can't serve: (reasons, the GRANTED arguments the tasks use)."""
    found, calls = problems(document), set()
    if len(document) != 1 or not isinstance(next(iter(document.values())).get("tasks"), dict):
        return found, calls  # the service's rules said why
    (dag,) = document.values()
    own = {"function_name": values["PIPELINE_LAMBDA_FUNCTION_NAME"], "job_name": values["PIPELINE_GLUE_JOB_NAME"]}
    for task_id, task in dag["tasks"].items():
        operator = task.get("operator") if isinstance(task, dict) else None
        if operator in GRANTED:
            argument = GRANTED[operator]
            if task.get(argument) == own[argument]:
                calls.add(argument)
            else:
                placeholder = "PIPELINE_LAMBDA_FUNCTION_NAME" if argument == "function_name" else "PIPELINE_GLUE_JOB_NAME"
                found.append(
                    f"task {task_id}: {argument} {task.get(argument)!r} is not this stack's ({own[argument]}, "
                    f"${{{placeholder}}}): a lite workflow's role may call only the stack's own function and job"
                )
        elif operator in OPERATORS and operator not in CALLS_NOTHING:
            found.append(
                f"task {task_id}: {operator.rsplit('.', 1)[-1]} needs AWS permissions a lite workflow's role doesn't get "
                "(it may invoke the stack's Lambda function and run its Glue job, nothing else)"
            )
    found += [
        f"its {kind} name {name!r} would be {len(name)} characters (AWS allows {names.LIMITS[kind]}): shorten the DAG id"
        for kind, name in names.workflow_names(workflow_name, MAX_CHECK_TIMES)
        if len(name) > names.LIMITS[kind]
    ]
    return found, calls


def workflow_name(settings: Settings, dag_id: str) -> str:
    """The service's name for a team workflow: the environment's, then the DAG's (its role and log group derive from it)."""
    return f"{settings.name}-{dag_id}"


def _check_cron(file: str, dag_id: str, schedule: Any) -> None:
    """A cron string Airflow's timetable would refuse (it parses cron with croniter, the version MWAA pins) fails the file
    in both modes: dag-factory can't build the DAG on MWAA or on the service. Presets (`@daily`, `@once`) are Airflow's."""
    if isinstance(schedule, str) and schedule != "None" and not schedule.startswith("@") and not croniter.is_valid(schedule):
        raise ConfigError(
            f"{file}: DAG {dag_id}: schedule {schedule!r} is not a cron expression Airflow accepts (minute 0-59, hour 0-23, "
            "day of month 1-31, month 1-12, day of week 0-6 or MON-SUN); fix it"
        )


def load(settings: Settings, project: Path) -> list[YamlWorkflow]:
    """Every file in dags/workflows/, rendered for this stack and judged for MWAA Serverless; a file broken in both modes
    (YAML, placeholders, no DAG, a DAG id used twice, a cron Airflow refuses) is a ConfigError naming it."""
    values, found, seen = placeholders(settings), [], {names.PIPELINE_DAG_ID: "dags/" + names.PIPELINE_DAG_ID + ".py"}
    for path in sorted([*(project / FOLDER).glob("*.yaml"), *(project / FOLDER).glob("*.yml")]):
        file = path.relative_to(project).as_posix()
        text = render(file, path.read_text(), values)
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({exc}); fix the file or remove it") from None
        if not isinstance(document, dict) or not document or not all(isinstance(dag, dict) for dag in document.values()):
            raise ConfigError(f"{file}: must map a DAG id to its settings and tasks (dag-factory's format; docs/serverless.md)")
        for dag_id, dag in document.items():
            if dag_id in seen:
                raise ConfigError(f"{file}: DAG id {dag_id} is also {seen[dag_id]}'s; DAG ids must be unique, rename one")
            seen[dag_id] = file
            _check_cron(file, dag_id, dag.get("schedule"))
        dag_id = next(iter(document)) if len(document) == 1 else None
        reasons, calls = _lite_reasons(workflow_name(settings, str(dag_id)), document, values)
        found.append(YamlWorkflow(file, dag_id, text, document, tuple(reasons), frozenset(calls)))
    return found


def require_dag_factory(workflows: list[YamlWorkflow], requirements: Path) -> None:
    """A provisioned stack loads the files with dag-factory, which MWAA's images don't carry."""
    if workflows and not re.search(r"^\s*dag-factory\s*==", requirements.read_text(), re.MULTILINE):
        raise ConfigError(
            f"{PROJECT}:dagBucket.requirementsFile: {requirements.name} must pin dag-factory for {workflows[0].file}"
            f"{f' and {len(workflows) - 1} more' if len(workflows) > 1 else ''} (dags/{LOADER_DAG_FILE} builds the YAML "
            f"workflows with it; MWAA's images don't have it): add the line {DAG_FACTORY_PIN}"
        )


def deadline_minutes(workflow: YamlWorkflow) -> int:
    """How long after its scheduled time a run's result is due (START_MARGIN_MINUTES and the tasks' worst case)."""
    defaults, seconds = workflow.dag.get("default_args") or {}, 0
    for task in workflow.tasks.values():
        settings = defaults | task
        timeout = duration_seconds(settings.get("execution_timeout", MAX_TASK_SECONDS))  # the service's limits passed
        retries, delay = settings.get("retries", 0), duration_seconds(settings.get("retry_delay", DEFAULT_RETRY_DELAY_SECONDS))
        seconds += timeout * (retries + 1) + delay * retries
    return math.ceil(seconds / 60) + START_MARGIN_MINUTES


def run_check(workflow: YamlWorkflow) -> RunCheck | str:
    """When a deployed workflow's runs are due, or why it gets no missed-run check (said at `pulumi up`)."""
    cron = workflow.dag.get("schedule")
    if not cron or cron == "None":
        return "it has no schedule (triggered runs are not checked)"
    fields = cron.split()
    if fields[2] not in ("*", "?") or fields[3] not in ("*", "?"):
        return f"its schedule {cron!r} names days of the month or months; the check covers weekly schedules"
    monday = datetime(2026, 1, 5, tzinfo=UTC)  # the service reads cron in UTC
    it, runs = croniter(cron, monday - timedelta(seconds=1)), set()
    while (at := it.get_next(datetime)) < monday + timedelta(days=7):
        runs.add(minute_of_week(at))
        if len({minute % 1440 for minute in runs}) > MAX_CHECK_TIMES:  # a constant deadline keeps the count of times
            return f"it runs at more than {MAX_CHECK_TIMES} times of day; the check covers up to {MAX_CHECK_TIMES} (one schedule each)"
    deadline = deadline_minutes(workflow)
    return RunCheck(tuple(sorted(runs)), deadline, tuple(scheduler_cron_lines((minute + deadline) % WEEK for minute in runs)))


def runs_per_month(workflow: YamlWorkflow) -> float:
    """Its cron's runs in an average month of 730 hours, counted in UTC (as the service reads it) over 2026, or over its
    first 10,000 runs for a frequent one."""
    cron = workflow.dag.get("schedule")
    if not cron or cron == "None":
        return 0.0
    start, runs = datetime(2026, 1, 1), 0
    it = croniter(cron, start - timedelta(seconds=1))
    while (at := it.get_next(datetime)) < start + timedelta(days=365) and runs < 10_000:
        runs += 1
    days = min(365, (at - start).total_seconds() / 86400)  # at: the first run not counted
    return round(runs / days * 730 / 24, 2)


def billed_task_minutes(workflow: YamlWorkflow, glue_expected_minutes: float) -> float:
    """Task-minutes a successful run bills, each task as the pipeline's are (serverless/definition.py `task_minutes`)."""
    return sum(task_minutes(task.get("operator"), glue_expected_minutes) for task in workflow.tasks.values())
