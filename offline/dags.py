"""The DAG integrity check before deploy: the exact folder MWAA would get, parsed by the stack's Airflow.

`pulumi up` fills s3://<dag bucket>/dags/ with every file under dags/ and the rendered pipeline_config.json. This
writes that same set of objects, from the mocked run, into a folder, and parses it with `DagBag` in the stack's
Airflow version (MWAA's package set, offline/airflow_env.py): import errors with file and line, cycles, scheduled
DAGs without a next run, and each file's parse time against MWAA's `dagbag_import_timeout`.

On a duty-cycled stack every scheduled DAG's runs in the next 14 days must fall where the environment is up and
settled: at least `leadMinutes` after a window opens (it is being created before that), and early enough that the
run's `dagrun_timeout` (DEFAULT_RUN_MINUTES without one) ends before the window closes. A run that doesn't fit would
silently never happen; the problem names the DAG, its first such run and the `dutyCycle.windows` entry that covers it.
Windows are not derived from every DAG automatically: `pulumi up` would need Airflow to parse the DAGs, and a DAG edit
would then change the infrastructure and its cost without anyone choosing to.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

import yaml_workflows
from duty_cycle import DutyCycle, pipeline_run_minutes
from offline import airflow_env
from offline.harness import StackRun, object_body, render_dag_folder, render_workflow_folder, workflow_definitions
from offline.report import counted
from offline.stacks import PROJECT_DIR
from schedule import WEEK, minute_of_week
from serverless import definition as serverless
from settings import WEEKDAYS, DutyCycleSettings, Settings

#: How long a DAG run is assumed to take when the DAG sets no dagrun_timeout.
DEFAULT_RUN_MINUTES = 60


@dataclass
class DagCheck:
    stack: str
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return not self.report["problems"]


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def window_problem(dag: dict[str, Any], cycle: DutyCycle, settings: DutyCycleSettings) -> str | None:
    """Every run of the DAG that the duty cycle can't serve, named at once (one per weekday and time: the windows repeat
    weekly), with the windows that would cover them all."""
    minutes = dag["run_timeout_seconds"] / 60 if dag["run_timeout_seconds"] else DEFAULT_RUN_MINUTES
    missed: dict[tuple[int, str], tuple[datetime, str]] = {}  # (weekday, clock) -> (first such run, why)
    wanted: dict[tuple[str, str], list[str]] = {}  # (start, end) of a window that would serve a run -> its days
    for text in dag["runs"]:
        run = datetime.fromisoformat(text)
        at = minute_of_week(run)
        window = next((w for w in cycle.windows if w.contains(at)), None)
        since_open = (at - window.start) % WEEK if window else None
        if window is None:
            why = "falls outside every duty-cycle window"
        elif since_open < settings.lead_minutes:
            why = f"is {since_open} min after its window opens, before the environment is up (leadMinutes {settings.lead_minutes})"
        elif since_open + minutes > window.end - window.start:
            why = f"would outlive its window ({minutes:g} min run timeout{'' if dag['run_timeout_seconds'] else ' assumed'})"
        else:
            continue
        if (run.weekday(), _clock(run)) in missed:
            continue
        missed[run.weekday(), _clock(run)] = (run, why)
        start, end = run - timedelta(minutes=settings.lead_minutes), run + timedelta(minutes=minutes + settings.tail_margin_minutes)
        days = wanted.setdefault((_clock(start), _clock(end)), [])
        if WEEKDAYS[start.weekday()] not in days:
            days.append(WEEKDAYS[start.weekday()])
    if not missed:
        return None
    runs = sorted(missed.values())
    reasons = "; ".join(f"it {why}" for why in dict.fromkeys(why for _, why in runs))
    entries = ", ".join(
        f'{{days: [{", ".join(sorted(days, key=WEEKDAYS.index))}], start: "{start}", end: "{end}"}}'
        for (start, end), days in wanted.items()
    )
    them = "it" if len(runs) == 1 else "them all"
    return (
        f"{dag['file']}: DAG {dag['dag_id']} would never run at {', '.join(f'{run:%a %Y-%m-%d %H:%M}' for run, _ in runs)} UTC: "
        f"{reasons}. Add {'a window' if len(wanted) == 1 else 'windows'} that cover{'s' if len(wanted) == 1 else ''} {them}, "
        f"e.g. dutyCycle.windows: [{entries}], or change its schedule"
    )


def start_date_problem(dag: dict[str, Any], at: datetime) -> str | None:
    """A scheduled DAG whose start_date is past re-runs an old interval at every resume (each has a new metadata DB)."""
    if not dag["runs"] or not dag["start_date"] or datetime.fromisoformat(dag["start_date"]) > at:
        return None
    return (
        f"{dag['file']}: DAG {dag['dag_id']} has start_date {dag['start_date'][:10]}, in the past: every resume starts with a new "
        "metadata DB, and a scheduler that finds a start_date runs the latest past interval at once (catchup=False too). "
        "Drop start_date and use CronTriggerTimetable(..., run_immediately=...), as dags/lambda_glue_pipeline.py does"
    )


def check_dags(
    run: StackRun,
    version: str,
    at: datetime,
    *,
    cycle: DutyCycle | None = None,
    settings: DutyCycleSettings | None = None,
    requirements: Path | None = None,
    yaml_files: dict[str, str] | None = None,
) -> DagCheck:
    """Parse what `pulumi up` uploads; on a duty-cycled stack (`cycle` not always on) also fit each DAG's runs in its windows.
    A DAG the YAML loader builds is named by its file (`yaml_files`: DAG id -> dags/workflows/<file>), not the loader's."""
    with tempfile.TemporaryDirectory(prefix="mwaa-dags-") as tmp:
        folder = render_dag_folder(run, Path(tmp) / "dags")
        report = airflow_env.run(
            version,
            "offline.airflow_side.check_dags",
            [str(folder), at.isoformat()],
            Path(tmp) / "airflow",
            requirements=requirements,  # MWAA installs requirements.txt before it parses a DAG
            AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        )
    for dag in report["dags"]:
        if dag["file"] == yaml_workflows.LOADER_DAG_FILE:
            dag["file"] = (yaml_files or {}).get(dag["dag_id"], dag["file"])
    if cycle is not None and settings is not None and not cycle.always_on:
        for dag in report["dags"]:
            report["problems"] += [p for p in (window_problem(dag, cycle, settings), start_date_problem(dag, at)) if p]
    return DagCheck(run.stack, report)


def check_workflow(run: StackRun, settings: Settings, at: datetime, project: Path = PROJECT_DIR) -> DagCheck:
    """A serverless stack's definitions as uploaded (the pipeline's and each team workflow it deploys): the service's
    rules (serverless/definition.py), then loaded with dag-factory in the Airflow the service runs, and the pipeline's runs
    compared with the pipeline settings' run times. Every other DAG of the team's (a Python DAG in dags/, a YAML workflow
    the service can't run) is named with what keeps it off the service, never dropped silently."""
    definitions = workflow_definitions(run)
    requirements = airflow_env.stack_requirements(settings)
    with tempfile.TemporaryDirectory(prefix="mwaa-workflow-") as tmp, concurrent.futures.ThreadPoolExecutor(1) as beside:
        team = shutil.copytree(project / "dags", Path(tmp) / "team-dags", ignore=shutil.ignore_patterns("__pycache__"))
        not_run = beside.submit(  # its own Airflow process, beside the definitions'
            airflow_env.run,
            serverless.AIRFLOW_VERSION,
            "offline.airflow_side.serverless_fit",
            [str(team), serverless.PIPELINE_DAG_FILE, yaml_workflows.LOADER_DAG_FILE],  # judged below, from their files
            Path(tmp) / "airflow-team",
            requirements=requirements,
            preloaded_by="offline.airflow_side.check_dags",  # the DAG check's imports are the fit's: one server for both
            AIRFLOW__CORE__DAGS_FOLDER=str(team),
        )
        folder = render_workflow_folder(run, Path(tmp) / "dags")
        report = airflow_env.run(
            serverless.AIRFLOW_VERSION,
            "offline.airflow_side.check_dags",
            [str(folder), at.isoformat()],
            Path(tmp) / "airflow",
            requirements=requirements,
            AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        )
        kept_off = [w for w in yaml_workflows.load(settings, project) if w.reasons]
        report["not_run"] = not_run.result() + [{"dag_id": w.dag_id, "file": w.file, "reasons": list(w.reasons)} for w in kept_off]
    report["definition"] = definitions[0].inputs["key"]
    report["team_definitions"] = [d.inputs["key"] for d in definitions[1:]]
    found = []
    for i, definition in enumerate(definitions):
        where = "" if i == 0 else f"{definition.inputs['key']}: "
        found += [where + p for p in serverless.problems(yaml.safe_load(object_body(definition)))]
    report["problems"] = found + report["problems"]
    wanted = pipeline_run_minutes(settings.pipeline)
    for dag in report["dags"]:
        found = {minute_of_week(datetime.fromisoformat(run)) for run in dag["runs"]}
        if dag["dag_id"] == serverless.DAG_ID and dag["runs"] and found != wanted:
            report["problems"].append(
                f"DAG {dag['dag_id']}: its schedule runs at other times than pipeline.runDays/runTime/timezone say "
                f"(first: {dag['runs'][0]}); the definition must come from serverless/definition.py"
            )
    return DagCheck(run.stack, report)


def render_dag_check(check: DagCheck) -> str:
    report = check.report
    lines = [f"DAGs of stack {check.stack} on Airflow {report['airflow']} (Python {report['python']}), as MWAA would parse them:"]
    timeout = report["timeout_seconds"]
    for f in report["files"]:
        share = f["seconds"] / timeout
        lines.append(f"    {f['file']:<40} {f['seconds'] * 1000:8.1f} ms  ({share:.1%} of dagbag_import_timeout {timeout:g} s)")
    if "definition" in report:
        lines.append(f"    MWAA Serverless definition {report['definition']}, loaded with dag-factory as the service reads it")
        team = report["team_definitions"]
        lines += [f"    MWAA Serverless definition {key}, a team workflow (dags/workflows/), loaded the same way" for key in team]
    for named in report.get("not_run", []):
        what = f"DAG {named['dag_id']} ({named['file']})" if named["dag_id"] else named["file"]
        lines.append(f"    not run by {check.stack}: {what}: " + "; ".join(named["reasons"]))
    for dag in report["dags"]:
        lines.append(f"    DAG {dag['dag_id']:<36} {dag['schedule']}, first run {dag['first_run'] or 'none'}")
    lines += [f"    problem: {problem}" for problem in report["problems"]]
    verdict = "PASSED" if check.passed else "FAILED"
    lines.append(f"{check.stack}: DAGs {verdict}: {counted(len(report['dags']), 'DAG')}, {counted(len(report['problems']), 'problem')}")
    return "\n".join(lines)
