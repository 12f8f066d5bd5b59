"""Run a DAG with `dag.test()` for each scenario day, against whatever AWS endpoint the environment names.

python -m offline.airflow_side.run_dag < request.json   (inside .venv-airflow/<version>; prints one JSON document)

The request: {"folder": ..., "dag_id": ..., "scenarios": [{"name", "after": ISO instant, "input_prefix", "data_bucket",
"body": str | null}]}. For each scenario the run's logical date is the DAG's first scheduled run at or after `after`
(from its own timetable: the caller gives the start of the scenario's local day); the input object for that run's
{{ ds }} is written first when `body` is given. The AWS connection, Airflow home and
database come from the environment the caller sets (offline/pipeline_run.py).
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from offline.airflow_side.check_dags import after_fork, describe, import_error
from offline.exits import BAD_INPUT

__all__ = ["after_fork", "main", "preload", "run"]  # after_fork: the check's, for offline/forkserver.py


def _first_run_from(dag: Any, start: datetime) -> datetime:
    from offline.airflow_side.compat import next_run_after

    return next_run_after(dag, start - timedelta(microseconds=1))


def run(request: dict[str, Any]) -> list[dict[str, Any]]:
    import boto3

    from offline.airflow_side.compat import dag_bag, new_database, one_execution_api_per_process

    one_execution_api_per_process()
    bag = dag_bag(request["folder"])
    if bag.import_errors:
        problems = [import_error(Path(request["folder"]), path, trace) for path, trace in sorted(bag.import_errors.items())]
        raise DagImportError("the DAG folder doesn't import, so nothing ran:\n" + "\n".join(f"  {describe(p)}" for p in problems))
    new_database()  # after the parse: a folder that doesn't import is reported without making a database first
    dag = bag.dags[request["dag_id"]]
    for task in dag.tasks:
        task.retries = 0  # locally a failure should show at once, not after the backoff schedule
    reports = []
    for scenario in request["scenarios"]:
        logical_date = _first_run_from(dag, datetime.fromisoformat(scenario["after"]))
        ds = logical_date.date().isoformat()  # Airflow's {{ ds }}: the logical date in UTC
        if scenario["body"] is not None:
            key = f"{scenario['input_prefix']}{ds}.csv"
            boto3.client("s3").put_object(Bucket=scenario["data_bucket"], Key=key, Body=scenario["body"].encode())
        dag_run = dag.test(logical_date=logical_date)
        reports.append(
            {
                "name": scenario["name"],
                "logical_date": ds,
                "dag_run_state": str(dag_run.state),
                "task_states": {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()},
            }
        )
    return reports


def preload() -> None:
    """The check's imports plus the run's: boto3, the metadata DB's setup and the execution API with its routers; and
    the public API application's, for the state round trip that follows a duty-cycled stack's run."""
    import airflow.api_fastapi.app
    import airflow.api_fastapi.core_api.routes.public
    import airflow.api_fastapi.core_api.routes.ui  # noqa: F401  (both build their routers as they are imported)
    import boto3  # noqa: F401
    import fastapi.testclient  # noqa: F401
    from airflow.utils import db  # noqa: F401

    from offline.airflow_side.check_dags import preload as check_preload
    from offline.airflow_side.compat import build_execution_api

    check_preload()
    build_execution_api()


class DagImportError(ValueError):
    """The DAG folder has import errors: bad input, reported with file and line."""


def main() -> int:
    request = json.load(sys.stdin)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout; the JSON report owns it
            reports = run(request)
    except DagImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    print(json.dumps(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
