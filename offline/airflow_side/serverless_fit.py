"""Why each of the team's Python DAGs can't run on MWAA Serverless as it is, read from the DAGs Airflow parses.

python -m offline.airflow_side.serverless_fit <dag folder> <file to leave out> ...   (inside the service's Airflow, 3.0.6
with dag-factory; prints one JSON list)

The service runs dag-factory YAML definitions, one DAG each, on its operator allowlist, with cron schedules read in UTC
(serverless/definition.py has its rules and sources). A serverless stack deploys the shipped pipeline from its generated
definition; every other DAG of the team's is named here with what stands in its way, so none is dropped silently:
a Python DAG at all (the service takes YAML), a file that doesn't import in the service's Airflow (a provider it lacks),
operators off the allowlist, TaskFlow or other Python callables, task groups, mapped or deferrable tasks, and schedules
that aren't a cron in a zone without daylight saving.
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from offline.airflow_side.check_dags import after_fork, describe, import_error
from offline.airflow_side.check_dags import preload as check_preload

__all__ = ["after_fork", "fit", "main", "preload"]  # after_fork: the check's, for offline/forkserver.py

ALLOWLIST = Path(__file__).resolve().parents[2] / "serverless" / "operators.json"
YAML_ONLY = "a Python DAG: MWAA Serverless runs dag-factory YAML definitions, one DAG a file (serverless/definition.py)"


def _allowed_classes() -> set[type]:
    """The allowlist's operators as classes of this Airflow (an entry that doesn't import here can't match a task)."""
    from airflow.utils.module_loading import import_string

    found = set()
    with warnings.catch_warnings():  # the list names some operators by their Airflow 2 paths, deprecated aliases here
        warnings.simplefilter("ignore")
        for path in json.loads(ALLOWLIST.read_text())["operators"]:
            with contextlib.suppress(ImportError, AttributeError):
                found.add(import_string(path))
    return found


def _has_daylight_saving(zone: Any) -> bool:
    name = getattr(zone, "name", None) or str(zone)
    try:
        info = ZoneInfo(name)
    except (KeyError, ValueError):
        return False
    return info.utcoffset(datetime(2026, 1, 15)) != info.utcoffset(datetime(2026, 7, 15))


def _schedule_reasons(dag: Any) -> list[str]:
    timetable = dag.timetable
    if not timetable.can_be_scheduled:  # schedule=None: triggered only
        return []
    expression = getattr(timetable, "_expression", None)
    if expression is None:
        return [f"its schedule is a {type(timetable).__name__}: the service schedules only cron expressions"]
    zone = getattr(timetable, "_timezone", None)
    if zone is not None and _has_daylight_saving(zone):
        return [f"its cron runs in {getattr(zone, 'name', zone)}, which has daylight saving: the service reads cron in UTC"]
    return []


def _task_reasons(dag: Any, allowed: set[type]) -> list[str]:
    reasons: dict[str, None] = {}  # in order, once each
    for task in dag.tasks:
        operator = f"{type(task).__module__}.{type(task).__qualname__}"
        if getattr(task, "is_mapped", False) or type(task).__name__ == "MappedOperator":
            reasons[f"task {task.task_id} is mapped (dynamic task mapping is not supported)"] = None
            continue
        if type(task).__name__ == "_PythonDecoratedOperator" or getattr(task, "python_callable", None) is not None:
            reasons[f"task {task.task_id} runs Python (TaskFlow or a python_callable): not supported"] = None
        elif type(task) not in allowed:
            reasons[f"operator {operator} (task {task.task_id}) is not on the service's allowlist"] = None
        if task.task_group is not None and task.task_group.group_id:
            reasons[f"task {task.task_id} is in task group {task.task_group.group_id}: task groups are not supported"] = None
        if getattr(task, "deferrable", False):
            reasons[f"task {task.task_id} is deferrable: not supported"] = None
        if task.on_failure_callback or task.on_success_callback:
            reasons[f"task {task.task_id} has a callback: the service ignores callbacks (alert through its events)"] = None
    return list(reasons)


def fit(folder: Path, leave_out: list[str]) -> list[dict[str, Any]]:
    """One entry per DAG (or per file that doesn't import) in `folder` but the `leave_out` files, with its reasons."""
    from offline.airflow_side.compat import dag_bag

    bag = dag_bag(folder)
    allowed = _allowed_classes()
    named = []
    for path, trace in sorted(bag.import_errors.items()):
        error = import_error(folder, path, trace)
        if error["file"] not in leave_out:
            reasons = [YAML_ONLY, f"it doesn't import in the service's Airflow: {describe(error)}"]
            named.append({"dag_id": None, "file": error["file"], "reasons": reasons})
    for dag_id, dag in sorted(bag.dags.items()):
        file = Path(dag.fileloc).resolve().relative_to(folder.resolve()).as_posix()
        if file not in leave_out:
            named.append({"dag_id": dag_id, "file": file, "reasons": [YAML_ONLY, *_schedule_reasons(dag), *_task_reasons(dag, allowed)]})
    return named


def preload() -> None:
    """The DAG check's imports (offline/forkserver.py)."""
    check_preload()


def main(argv: list[str]) -> int:
    if not argv:
        print("error: usage: python -m offline.airflow_side.serverless_fit <dag folder> [<file to leave out> ...]", file=sys.stderr)
        return 2
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout; the JSON report owns it
        named = fit(Path(argv[0]), argv[1:])
    print(json.dumps(named))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
