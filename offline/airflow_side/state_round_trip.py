"""Airflow's state across a pause, inside the local Airflow: the real export and restore (airflow_state/) against
Airflow's own API application in-process, the same client code the duty cycle runs through MWAA's InvokeRestApi.

python -m offline.airflow_side.state_round_trip export < {"folder", "dag_id"}
    in the database the pipeline run left (several days of runs), the DAG folder synced as the DAG processor does
    (`dag.test()` on Airflow 3.0 writes no serialized DAG, which the API reads): what a team does in the UI (a Variable, a secret
    one, a pool, a Connection, a note on a run and on a task, the DAG paused), then the export; prints
    {"snapshot", "view"}.
python -m offline.airflow_side.state_round_trip restore < {"folder", "snapshot", "pools"}
    in a new, empty database (a new environment): the DAG folder parsed and synced as the DAG processor does, the
    restore, then what the API shows; prints {"restored", "view"}.

The two views are read here, straight from the API and independently of airflow_state's export, so an export that
leaves anything out shows as a difference.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_state.api import ApiError, Call, endpoint, pages
from airflow_state.snapshot import FINISHED, MASKED, SETTABLE, export, restore
from offline.airflow_side.check_dags import after_fork

__all__ = ["after_fork", "main"]  # after_fork: the check's, for offline/forkserver.py (forked from run_dag's server)

#: What a team changes in the UI between two pauses; the round trip must bring back all of it.
VARIABLE = {"key": "orders_threshold", "value": "250", "description": "set in the UI"}
SECRET_VARIABLE = {"key": "partner_api_password", "value": "s3cr3t", "description": "set in the UI"}
POOL = {"name": "glue_jobs", "slots": 2, "description": "made in the UI", "include_deferred": False}
CONNECTION = {"connection_id": "partner_api", "conn_type": "http", "host": "api.example.com", "password": "s3cr3t"}


def local_call() -> Call:
    """Airflow's API application in this process, reached over an in-memory transport instead of InvokeRestApi;
    Airflow's simple auth manager makes every request an admin, as MWAA's IAM-authenticated Admin role is."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app(apps="core"))

    def call(method: str, path: str, query: Any, body: Any) -> Any:
        response = client.request(method, path, params=query, json=body)
        if response.status_code >= 400:
            raise ApiError(response.status_code, method, path, response.text)
        return response.json() if response.content else None

    return call


def touch(call: Call, dag_id: str) -> None:
    """What a team does in the UI between two pauses."""
    call("POST", endpoint("variables"), None, VARIABLE)
    call("POST", endpoint("variables"), None, SECRET_VARIABLE)
    call("POST", endpoint("pools"), None, POOL)
    call("POST", endpoint("connections"), None, CONNECTION)
    run = ("dags", dag_id, "dagRuns", call("GET", endpoint("dags", dag_id, "dagRuns"), None, None)["dag_runs"][0]["dag_run_id"])
    call("PATCH", endpoint(*run), None, {"note": "input re-delivered by the partner"})
    task = call("GET", endpoint(*run, "taskInstances"), None, None)["task_instances"][0]["task_id"]
    call("PATCH", endpoint(*run, "taskInstances", task), None, {"note": "checked by hand"})
    call("PATCH", endpoint("dags", dag_id), None, {"is_paused": True})


def view(call: Call) -> dict[str, Any]:
    """What the API shows of everything a restore promises to bring back: Variables but those it masks, pools, pause
    states, finished runs with each task's state and note. A task state the API cannot set (upstream_failed) is
    shown as marking its run leaves it: success in a successful run, skipped in a failed one."""
    runs = {}
    dags = list(pages(call, endpoint("dags"), "dags"))
    for dag in dags:
        for run in pages(call, endpoint("dags", dag["dag_id"], "dagRuns"), "dag_runs"):
            if run["state"] in FINISHED:
                tasks = pages(call, endpoint("dags", dag["dag_id"], "dagRuns", run["dag_run_id"], "taskInstances"), "task_instances")
                runs[f"{dag['dag_id']} {run['dag_run_id']}"] = {
                    "logical date": _instant(run["logical_date"]),
                    "state": run["state"],
                    "note": run["note"],
                    "tasks": {_task(t): [_shown(run["state"], t["state"]), t["note"]] for t in tasks},
                }
    return {
        "Variables": {
            v["key"]: [v["value"], v["description"]] for v in pages(call, endpoint("variables"), "variables") if v["value"] != MASKED
        },
        "pools": {p["name"]: [p["slots"], p["description"], p["include_deferred"]] for p in pages(call, endpoint("pools"), "pools")},
        "pause states": {dag["dag_id"]: dag["is_paused"] for dag in dags},
        "runs": runs,
    }


def _task(task: dict[str, Any]) -> str:
    return f"{task['task_id']}[{task['map_index']}]" if task["map_index"] >= 0 else task["task_id"]


def _shown(run_state: str, task_state: str | None) -> str | None:
    if task_state in SETTABLE:
        return task_state
    return "success" if run_state == "success" else "skipped"


def _instant(value: str | None) -> str | None:
    """A date as an instant, so 3.0's and 3.3's renderings of one compare equal."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat() if value else None


def parsed(folder: Path, new: bool = False) -> None:
    """The DAG folder parsed into the metadata database as the DAG processor does; `new`: into a new, empty one."""
    from offline.airflow_side.compat import dag_bag, new_database, sync_to_db

    if new:
        new_database()
    sync_to_db(dag_bag(folder))


def main(argv: list[str]) -> int:
    request = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout; the JSON report owns it
        parsed(Path(request["folder"]), new=argv == ["restore"])
        call = local_call()
        if argv == ["export"]:
            if request.get("touch", True):  # else the environment as it is (one a restore made, exported again)
                touch(call, request["dag_id"])
            result: Any = {"snapshot": export(call), "view": view(call)}
        else:
            restored = restore(call, request["snapshot"], request["pools"])
            result = {"restored": asdict(restored), "view": view(call)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
