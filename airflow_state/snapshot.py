"""Export an environment's state and restore it into another one, through Airflow 3's public REST API.

What the API can write back, read from Airflow's own request models (3.0.6 to 3.3.1): a run (`TriggerDAGRunPostBody`:
id, logical date, data interval, run_after, conf, note; it is created as a manual run), its state and note
(`DAGRunPatchBody`), each task's state (`PatchTaskInstanceBody`: success, failed or skipped only) and note, Variables,
pools, a DAG's `is_paused`. It cannot set start and end times, durations or try numbers, so a restored grid shows
outcomes and notes; the snapshot keeps the full records for audit. A Connection's password never leaves the API, and
a Variable whose name marks it secret comes back masked: both are named in `not_kept` instead of being dropped silently.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_state.api import ApiError, Call, endpoint, pages

FORMAT = 1
#: Run states a restore writes back; a run still queued or running at the export is in flight, and is not kept.
FINISHED = ("success", "failed")
#: The task states the API can set (`PatchTaskInstanceBody.validate_new_state`). Any other finished state
#: (upstream_failed, removed) shows as what marking the run gives it: success, or skipped in a failed run.
SETTABLE = ("success", "failed", "skipped")
#: What the API returns for a Variable whose name marks it secret (Airflow's secrets masker).
MASKED = "***"
DEFAULT_POOL = "default_pool"
#: The description of a pool declared in config (`mwaa.pools`): pools as code.
DECLARED = "declared in config (mwaa.pools)"
#: The finished runs kept per DAG, newest first: about three months of weekday runs, restored in about two minutes.
KEEP_RUNS = 60
RUN_FIELDS = ("dag_run_id", "logical_date", "data_interval_start", "data_interval_end", "run_after", "conf", "note")
TASK_FIELDS = ("task_id", "map_index", "state", "note", "try_number", "start_date", "end_date", "duration")


def export(call: Call, keep_runs: int = KEEP_RUNS) -> dict[str, Any]:
    """The environment's state as one JSON document (nothing secret: masked values and passwords are left out)."""
    not_kept: list[str] = []
    variables = []
    for variable in pages(call, endpoint("variables"), "variables"):
        if variable["value"] == MASKED:
            not_kept.append(
                f"Variable {variable['key']}: its name marks it secret, so the API returns it masked; declare it in mwaa.variables"
            )
        else:
            variables.append({key: variable[key] for key in ("key", "value", "description")})
    for connection in pages(call, endpoint("connections"), "connections"):
        not_kept.append(
            f"Connection {connection['connection_id']} ({connection['conn_type']}): made in the UI, and the API never returns its "
            "password; declare it in mwaa.connections and set its value in Secrets Manager"
        )
    pools = [
        {key: pool[key] for key in ("name", "slots", "description", "include_deferred")} for pool in pages(call, endpoint("pools"), "pools")
    ]
    dags = {}
    for dag in pages(call, endpoint("dags"), "dags"):
        dag_id, runs = dag["dag_id"], []
        for run in sorted(pages(call, endpoint("dags", dag_id, "dagRuns"), "dag_runs"), key=lambda r: r["run_after"], reverse=True):
            if run["state"] not in FINISHED:
                not_kept.append(f"Run {run['dag_run_id']} of {dag_id}: {run['state']} at the export (in flight), so not kept")
            elif len(runs) < keep_runs:
                tasks = pages(call, endpoint("dags", dag_id, "dagRuns", run["dag_run_id"], "taskInstances"), "task_instances")
                kept = {key: run[key] for key in (*RUN_FIELDS, "state", "run_type", "start_date", "end_date")}
                runs.append(kept | {"tasks": [{key: task.get(key) for key in TASK_FIELDS} for task in tasks]})
        dags[dag_id] = {"is_paused": dag["is_paused"], "runs": runs[::-1]}
    return {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "airflow_version": call("GET", endpoint("version"), None, None)["version"],
        "variables": variables,
        "pools": pools,
        "dags": dags,
        "not_kept": not_kept,
    }


@dataclass
class Restored:
    """What a restore wrote, and what it could not (each named, for the alert)."""

    variables: int = 0
    pools: int = 0
    pause_states: int = 0
    runs: int = 0
    task_states: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.variables} Variables, {self.pools} pools, {self.pause_states} pause states, {self.runs} runs "
            f"({self.task_states} task states) restored"
        )


def restore(call: Call, snapshot: Mapping[str, Any], pools: Mapping[str, int] | None = None, dag_wait_seconds: float = 0) -> Restored:
    """Write `snapshot` into the environment `call` reaches, then the declared `pools` (config wins over the UI's).

    Each DAG is paused while its runs are written, so the scheduler never runs a restored run, and gets its exported
    pause state back afterwards, whatever happens; a DAG the new environment hasn't parsed within `dag_wait_seconds`
    is reported, not waited for. Runs already there (a restore repeated) are left alone."""
    done = Restored()
    for variable in snapshot["variables"]:
        _put(call, "variables", variable["key"], variable)
        done.variables += 1
    declared = {name: {"name": name, "slots": slots, "description": DECLARED} for name, slots in (pools or {}).items()}
    for pool in {**{p["name"]: p for p in snapshot["pools"]}, **declared}.values():
        if pool["name"] == DEFAULT_POOL:  # every environment has it; only these fields may change, each named in a mask
            for key in ("slots", "include_deferred"):
                call("PATCH", endpoint("pools", DEFAULT_POOL), {"update_mask": key}, {"name": DEFAULT_POOL, key: pool.get(key, False)})
        else:
            _put(call, "pools", pool["name"], pool)
        done.pools += 1
    for dag_id, dag in snapshot["dags"].items():
        if not _parsed(call, dag_id, dag_wait_seconds):
            done.problems.append(
                f"DAG {dag_id}: not in this environment's DAG folder, so its pause state and {len(dag['runs'])} runs were not restored"
            )
            continue
        there = {run["dag_run_id"] for run in pages(call, endpoint("dags", dag_id, "dagRuns"), "dag_runs")}
        missing = [run for run in dag["runs"] if run["dag_run_id"] not in there]
        try:
            if missing:
                call("PATCH", endpoint("dags", dag_id), None, {"is_paused": True})
                order = _upstream_first(call, dag_id)
                for run in missing:
                    done.task_states += _restore_run(call, dag_id, run, order)
                    done.runs += 1
        finally:
            call("PATCH", endpoint("dags", dag_id), None, {"is_paused": dag["is_paused"]})
        done.pause_states += 1
    return done


def _put(call: Call, collection: str, name: str, body: Mapping[str, Any]) -> None:
    """Create, or overwrite what is there under that name."""
    try:
        call("POST", endpoint(collection), None, body)
    except ApiError as exc:
        if exc.status != 409:
            raise
        call("PATCH", endpoint(collection, name), None, body)


def _parsed(call: Call, dag_id: str, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            call("GET", endpoint("dags", dag_id), None, None)
            return True
        except ApiError as exc:
            if exc.status != 404:
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(15)


def _upstream_first(call: Call, dag_id: str) -> list[str]:
    """The DAG's task ids, each after its upstream tasks: marking a task clears its failed downstream tasks
    (`DAG.set_task_instance_state`), so upstream states are written first."""
    downstream = {
        task["task_id"]: task["downstream_task_ids"] for task in call("GET", endpoint("dags", dag_id, "tasks"), None, None)["tasks"]
    }
    order: list[str] = []

    def visit(task_id: str) -> None:
        if task_id not in order:
            for other, below in downstream.items():
                if task_id in below:
                    visit(other)
            order.append(task_id)

    for task_id in downstream:
        visit(task_id)
    return order


def _restore_run(call: Call, dag_id: str, run: Mapping[str, Any], order: list[str]) -> int:
    """One run, created while its DAG is paused, then marked; then each task whose state or note differs."""
    call("POST", endpoint("dags", dag_id, "dagRuns"), None, {key: run[key] for key in RUN_FIELDS})
    this_run = ("dags", dag_id, "dagRuns", run["dag_run_id"])
    call("PATCH", endpoint(*this_run), None, {"state": run["state"]})
    now = {(t["task_id"], t["map_index"]): t["state"] for t in pages(call, endpoint(*this_run, "taskInstances"), "task_instances")}
    written = 0
    for task in sorted(run["tasks"], key=lambda t: (order.index(t["task_id"]) if t["task_id"] in order else len(order), t["map_index"])):
        body: dict[str, Any] = {}
        if task["state"] in SETTABLE and now.get((task["task_id"], task["map_index"])) != task["state"]:
            body["new_state"] = task["state"]
        if task["note"]:
            body["note"] = task["note"]
        if body:
            query = {"map_index": task["map_index"]} if task["map_index"] >= 0 else None
            call("PATCH", endpoint(*this_run, "taskInstances", task["task_id"]), query, body)
            written += 1
    return written
