"""Parse a DAG folder as MWAA's DAG processor would, and report what would break it.

python -m offline.airflow_side.check_dags <folder>   (inside .venv-airflow/<version>; prints one JSON document)

python -m offline.airflow_side.check_dags <folder> <ISO time>   (also lists each DAG's runs in the 14 days after it)

Each import error comes with its file and line; a cycle is an import error in Airflow too. A scheduled DAG with no
next run, a DAG that doesn't serialize (MWAA's scheduler only reads serialized DAGs) and a file whose parse time
reaches `dagbag_import_timeout` (MWAA kills the import) are problems as well. Parse times are Airflow's own
(`DagBag.dagbag_stats`).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from offline.exits import BAD_INPUT

#: How far ahead each DAG's runs are listed (a duty-cycled stack checks each one against its windows).
HORIZON = timedelta(days=14)
#: A frame of a traceback; the last one inside the DAG folder is where the DAG broke.
_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')


def import_error(folder: Path, path: str, trace: str) -> dict[str, Any]:
    frames = [m for m in _FRAME.finditer(trace) if Path(m["path"]).resolve().is_relative_to(folder.resolve())]
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return {
        "file": Path(path).resolve().relative_to(folder.resolve()).as_posix(),
        "line": int(frames[-1]["line"]) if frames else None,
        "message": lines[-1] if lines else trace,
    }


def describe(error: dict[str, Any]) -> str:
    """file:line: message, or file: message when the error was raised outside the file (a cycle is found after import)."""
    where = f"{error['file']}:{error['line']}" if error["line"] else error["file"]
    return f"{where}: {error['message']}"


def upcoming_runs(dag: Any, after: datetime) -> list[str]:
    """The DAG's scheduled runs in HORIZON after `after`, as the scheduler would start them (through serialization)."""
    from offline.airflow_side.compat import as_scheduled, next_run_after

    scheduled, runs, moment = as_scheduled(dag), [], after
    while (moment := next_run_after(scheduled, moment)) is not None and moment <= after + HORIZON and len(runs) < 500:
        runs.append(moment.isoformat())
    return runs


def check(folder: Path, at: datetime | None = None) -> dict[str, Any]:
    from airflow import __version__
    from airflow.configuration import conf

    from offline.airflow_side.compat import dag_bag, first_scheduled_run

    timeout = conf.getfloat("core", "dagbag_import_timeout")
    bag = dag_bag(folder)
    errors = [import_error(folder, path, trace) for path, trace in sorted(bag.import_errors.items())]
    problems = [describe(e) for e in errors]
    files = [{"file": stat.file.lstrip("/"), "seconds": stat.duration.total_seconds(), "dags": stat.dag_num} for stat in bag.dagbag_stats]
    problems += [
        f"{f['file']}: parsing took {f['seconds']:.1f} s, at MWAA's dagbag_import_timeout of {timeout:g} s the import is killed"
        for f in files
        if f["seconds"] >= timeout
    ]
    dags = []
    for dag_id, dag in sorted(bag.dags.items()):
        entry = {
            "dag_id": dag_id,
            "file": Path(dag.fileloc).name,
            "schedule": type(dag.timetable).__name__,
            "first_run": None,
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "runs": [],
            "run_timeout_seconds": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        }
        try:
            first = first_scheduled_run(dag)
        except Exception as exc:  # a DAG the scheduler can't read is as broken as one that doesn't import
            problems.append(f"{entry['file']}: DAG {dag_id} can't be serialized for the scheduler: {type(exc).__name__}: {exc}")
        else:
            entry["first_run"] = first.isoformat() if first else None
            if at is not None and dag.timetable.can_be_scheduled:
                entry["runs"] = upcoming_runs(dag, at)
            if first is None and dag.timetable.can_be_scheduled:
                problems.append(f"{entry['file']}: DAG {dag_id} has a schedule but no next run (start_date/end_date or timetable?)")
        dags.append(entry)
    return {
        "airflow": __version__,
        "python": sys.version.split()[0],
        "timeout_seconds": timeout,
        "files": files,
        "import_errors": errors,
        "dags": dags,
        "problems": problems,
    }


def preload() -> None:
    """What every check imports, once, in the fork server (offline/forkserver.py): Airflow's parser and serializer, the DAG
    authoring API and the Amazon provider modules the shipped DAG imports."""
    import airflow.providers.amazon.aws.hooks.sns
    import airflow.providers.amazon.aws.operators.glue
    import airflow.providers.amazon.aws.operators.lambda_function
    import airflow.sdk
    import airflow.timetables.trigger  # noqa: F401

    from offline.airflow_side import compat  # noqa: F401


def after_fork() -> None:
    """In a child of the fork server (offline/forkserver.py): Airflow set up from the request's environment, as `import
    airflow` does in `check`, with the same stdout (its log handlers keep the stream they start with)."""
    from offline.airflow_side.compat import initialize_as_imported

    with contextlib.redirect_stdout(sys.stderr):
        initialize_as_imported()


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("error: usage: python -m offline.airflow_side.check_dags <dag folder> [<ISO time>]", file=sys.stderr)
        return BAD_INPUT
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout; the JSON report owns it
        report = check(Path(argv[0]), datetime.fromisoformat(argv[1]) if len(argv) == 2 else None)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
