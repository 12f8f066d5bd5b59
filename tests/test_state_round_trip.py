"""Airflow's state across a pause: the real export and restore (airflow_state/) against Airflow's own API application.

The main job's round trip (dev, every scenario, on dev's Airflow) must pass; an export that leaves out any part of the
state must fail the comparison, which reads both environments' APIs independently of the export; and an export made
on Airflow 3.0.6 restores into 3.3.1 and 3.2.1 (a new environment for an upgrade MWAA can't do in place), and 3.2.1's
export of what it restored moves on into 3.3.1 (3.3.1's export is the main job's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from names import PIPELINE_DAG_ID
from offline import airflow_env, pipeline_run, state_round_trip
from offline.harness import run_stack
from offline.stacks import stack_settings
from offline.state_round_trip import Exported, restore_into
from tests.clikit import cli

pytestmark = pytest.mark.long


def test_the_main_job_keeps_dev_state_across_a_pause():
    done = cli("offline.pipeline_run", "dev", "--json")  # the main job's run (cached when bin/offline ran first)
    assert done.returncode == 0, done.stderr[-3000:]
    trip = json.loads(done.stdout)["state_round_trip"]
    assert trip["passed"] and trip["differences"] == [], trip
    # What a team did in the UI came back (offline/airflow_side/state_round_trip.py: touch), every finished run with it.
    finished = sum(1 for scenario in json.loads(done.stdout)["scenarios"] if scenario["dag_run_state"] in ("success", "failed"))
    restored = trip["restored"]
    assert (restored["variables"], restored["runs"], restored["problems"]) == (1, finished, [])
    assert restored["pools"] == 2 + len(stack_settings("dev").mwaa.pools)  # default_pool, the UI's, the declared ones
    assert restored["pause_states"] >= 1  # every DAG of the folder (a fork's own DAGs too): the comparison checks each
    # What the API cannot give back is named (the alert at the pause), not dropped silently.
    assert [item.split(":")[0] for item in trip["not_kept"]] == ["Variable partner_api_password", "Connection partner_api (http)"]


def test_a_stack_without_a_duty_cycle_has_no_round_trip():
    settings = stack_settings("prod")
    assert not settings.duty_cycle.enabled  # nothing is deleted at night, so nothing needs carrying
    done = cli("offline.pipeline_run", "prod", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["state_round_trip"] is None


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Exported, Path, state_round_trip.StateRoundTrip]:
    """A day whose run failed (a failed task and an upstream_failed one) on Airflow 3.0.6, the UI's changes, the export,
    and its restore on 3.0.6; with a copy of the DAG folder for more restores."""
    keep = tmp_path_factory.mktemp("exported")
    captured: dict[str, Any] = {}

    def capture(home: Path, folder: Path, dag_id: str, version: str, requirements: Path | None, pools: dict, **environ: str):
        captured["exported"] = state_round_trip.export_from(home, folder, dag_id, version, requirements, **environ)
        shutil.copytree(folder, keep / "dags")
        return restore_into(captured["exported"], home.parent / "new", folder, version, requirements, pools, **environ)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_round_trip, "carry", capture)
        _, trip = pipeline_run._run(run_stack("dev"), stack_settings("dev"), ["missing-input"], "3.0.6", pipeline_run.PROJECT_DIR, True)
    assert trip is not None
    return captured["exported"], keep / "dags", trip


def restored(exported: Exported, folder: Path, into: str, tmp_path: Path, pools: dict | None = None) -> state_round_trip.StateRoundTrip:
    requirements = airflow_env.stack_requirements(stack_settings("dev"))
    return restore_into(exported, tmp_path / "home", folder, into, requirements, pools or {}, AIRFLOW__CORE__DAGS_FOLDER=str(folder))


@pytest.mark.tools
def test_a_failed_day_round_trips_on_airflow_3_0(exported):
    _, _, trip = exported
    assert trip.passed, trip
    assert trip.restored["task_states"] >= 1  # the failed task's state was written, not left as marking the run gave it


@pytest.mark.tools
@pytest.mark.parametrize(
    ("into", "pools"),
    [
        ("3.3.1", {}),
        ("3.2.1", {"glue_jobs": 5, "nightly": 1}),  # mwaa.pools: one over the pool the UI made, one new
    ],
)
def test_an_export_from_3_0_restores_into_a_newer_airflow(exported, into: str, pools: dict, tmp_path: Path):
    """`python -m airflow_state move` for an upgrade MWAA can't do in place: the same export and restore. With pools
    declared in config, the new environment shows them over what the UI had (the comparison expects exactly that). On
    3.2.1 the restored environment is exported in turn and moved on to 3.3.1, so every version's export is exercised."""
    snapshot, folder, _ = exported
    trip = restored(snapshot, folder, into, tmp_path, pools)
    assert (trip.exported_on, trip.restored_on) == ("3.0.6", into)
    assert trip.passed, trip.differences + trip.restored["problems"]
    assert trip.restored["pools"] == 2 + len(pools.keys() - {"glue_jobs"})  # default_pool, glue_jobs, and the new ones
    if into == "3.2.1":  # the export runs on every supported version: 3.2.1's, of what the restore made, moves on to 3.3.1
        requirements = airflow_env.stack_requirements(stack_settings("dev"))
        environ = {"AIRFLOW__CORE__DAGS_FOLDER": str(folder)}
        again = state_round_trip.export_from(tmp_path / "home", folder, PIPELINE_DAG_ID, into, requirements, touch=False, **environ)
        onward = restore_into(again, tmp_path / "onward", folder, "3.3.1", requirements, {}, **environ)
        assert (onward.exported_on, onward.passed) == ("3.2.1", True), onward.differences + onward.restored["problems"]


def drop_variables(snapshot: dict) -> str:
    snapshot["variables"] = []
    return "Variables: orders_threshold missing"


def drop_pools(snapshot: dict) -> str:
    snapshot["pools"] = [pool for pool in snapshot["pools"] if pool["name"] == "default_pool"]
    return "pools: glue_jobs missing"


def drop_pause_states(snapshot: dict) -> str:
    snapshot["dags"][PIPELINE_DAG_ID]["is_paused"] = False  # the export forgot that a person paused it
    return f"pause states: {PIPELINE_DAG_ID} is False, expected True"


def drop_runs(snapshot: dict) -> str:
    run = snapshot["dags"][PIPELINE_DAG_ID]["runs"].pop()
    return f"runs: {PIPELINE_DAG_ID} {run['dag_run_id']} missing"


def drop_task_states(snapshot: dict) -> str:
    for run in snapshot["dags"][PIPELINE_DAG_ID]["runs"]:
        run["tasks"] = []
    return "runs:"  # the failed task shows as marking the failed run leaves it (skipped)


def drop_notes(snapshot: dict) -> str:
    for run in snapshot["dags"][PIPELINE_DAG_ID]["runs"]:
        run["note"] = None
    return "runs:"


@pytest.mark.tools
@pytest.mark.parametrize("mutation", [drop_variables, drop_pools, drop_pause_states, drop_runs, drop_task_states, drop_notes])
def test_an_export_that_leaves_anything_out_fails_the_comparison(exported, mutation, tmp_path: Path):
    snapshot, folder, _ = exported
    mutated = json.loads(json.dumps(snapshot.snapshot))
    expected = mutation(mutated)
    trip = restored(Exported(mutated, snapshot.view, snapshot.version), folder, "3.3.1", tmp_path)
    assert not trip.passed and trip.verdict.startswith("FAIL")
    assert any(difference.startswith(expected) for difference in trip.differences), trip.differences
