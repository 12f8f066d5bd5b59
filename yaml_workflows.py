"""The team's own workflows: dag-factory YAML files in dags/workflows/, one DAG a file, one file for both modes.

A provisioned stack uploads them with the rest of dags/, and dags/load_yaml_workflows.py builds each with dag-factory
(the team pins it in dags/requirements.txt; `require_dag_factory`). A serverless stack deploys every file the service
can run as its own workflow (components/serverless_workflow.py) and names every other with its reasons, in `pulumi up`'s
output and in the main job: never dropped silently.

A file names the stack's own resources through placeholders, `${PIPELINE_LAMBDA_FUNCTION_NAME}` and the like
(`PLACEHOLDERS`): dag-factory expands environment variables in a file it loads (`os.path.expandvars`, its _yaml.py), so
the loader DAG sets them from dags/pipeline_config.json, and the program writes them into a serverless definition before
upload (the service's dag-factory then finds nothing left to expand). A placeholder this platform doesn't fill is an
error in both modes, so a file means the same thing in both.

What keeps a file off the service is the service's rules (serverless/definition.py `problems`) and its role: a lite
workflow's role may invoke the stack's own Lambda function and run its own Glue job (the pipeline's permissions,
components/iam.py), nothing else, so an operator that calls anything else is a reason, not a role that grows with every
file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

import names
from serverless.definition import GLUE_OPERATOR, LAMBDA_OPERATOR, OPERATORS, problems
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
#: A workflow's role is `<workflow>-workflow` (names.workflow_role), IAM's limit.
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
    def tasks(self) -> dict[str, Any]:
        return next(iter(self.document.values()))["tasks"]


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
    if found and found[0].startswith("a definition holds exactly one DAG"):
        return found, calls
    (dag,) = document.values()
    if not isinstance(dag.get("tasks"), dict):
        return found, calls
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
    role = names.workflow_role(workflow_name)
    if len(role) > names.LIMITS["IAM role"]:
        found.append(f"its role {role!r} would be {len(role)} characters (IAM allows {names.LIMITS['IAM role']}): shorten the DAG id")
    return found, calls


def workflow_name(settings: Settings, dag_id: str) -> str:
    """The service's name for a team workflow: the environment's, then the DAG's (its role and log group derive from it)."""
    return f"{settings.name}-{dag_id}"


def load(settings: Settings, project: Path) -> list[YamlWorkflow]:
    """Every file in dags/workflows/, rendered for this stack and judged for MWAA Serverless; a file broken in both modes
    (YAML, placeholders, no DAG, a DAG id used twice) is a ConfigError naming it."""
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
        for dag_id in document:
            if dag_id in seen:
                raise ConfigError(f"{file}: DAG id {dag_id} is also {seen[dag_id]}'s; DAG ids must be unique, rename one")
            seen[dag_id] = file
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


def runs_per_month(workflow: YamlWorkflow) -> float:
    """Its cron's runs in an average month of 730 hours, counted in UTC (as the service reads it) over 2026, or over its
    first 10,000 runs for a frequent one."""
    cron = next(iter(workflow.document.values())).get("schedule")
    if not cron or cron == "None":
        return 0.0
    start, runs = datetime(2026, 1, 1), 0
    it = croniter(cron, start - timedelta(seconds=1))
    while (at := it.get_next(datetime)) < start + timedelta(days=365) and runs < 10_000:
        runs += 1
    days = min(365, (at - start).total_seconds() / 86400)  # at: the first run not counted
    return round(runs / days * 730 / 24, 2)


def billed_task_minutes(workflow: YamlWorkflow, glue_expected_minutes: float) -> float:
    """Task-minutes a successful run bills: a minute at least per task, a Glue task its expected run and a minute more."""
    return sum(max(1.0, glue_expected_minutes + 1) if task.get("operator") == GLUE_OPERATOR else 1.0 for task in workflow.tasks.values())
