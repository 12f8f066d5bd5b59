"""The DAG as MWAA's scheduler sees it: the folder `pulumi up` uploads, parsed by a DagBag of MWAA's Airflow version."""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from names import PIPELINE_DAG_ID
from offline.airflow_side.compat import dag_bag, first_scheduled_run, next_run_after
from tests.airflow.airflowkit import PROJECT_DIR

DAG_ID = PIPELINE_DAG_ID  # names.py; the DAG file writes it itself (test_the_dag_folder_imports_without_errors)


def dag_folder(tmp_path: Path, config: str | None) -> Path:
    folder = tmp_path / "dags"
    shutil.copytree(PROJECT_DIR / "dags", folder, ignore=shutil.ignore_patterns("__pycache__", "pipeline_config.json"))
    if config is not None:
        (folder / "pipeline_config.json").write_text(config)
    return folder


def parse(folder: Path):
    return dag_bag(folder)


@pytest.fixture(scope="module")
def rendered_config(rendered_folder: Path) -> str:
    """pipeline_config.json exactly as the dev stack renders it into s3://<dag bucket>/dags/."""
    return (rendered_folder / "pipeline_config.json").read_text()


def test_this_is_the_airflow_mwaa_runs():
    from airflow import __version__
    from airflow.providers.amazon import __version__ as provider

    version = os.environ["MWAA_AIRFLOW_VERSION"]
    pinned = dict(
        line.split("==")
        for line in (PROJECT_DIR / "mwaa-images" / version / "airflow_constraints.txt").read_text().splitlines()
        if "==" in line
    )
    assert (__version__, provider) == (version, pinned["apache-airflow-providers-amazon"])


#: The shipped schedule (weekdays 10:00 IST, 60 minutes of late start): the timetable tests pin these times, so they
#: parse the DAG with it whatever a fork's stack renders; the other tests read the stack's own rendered config.
REFERENCE_SCHEDULE = {"schedule_cron": "0 10 * * MON,TUE,WED,THU,FRI", "schedule_timezone": "Asia/Kolkata", "late_start_minutes": 60}


@pytest.fixture(scope="module")
def dag(rendered_config: str, tmp_path_factory: pytest.TempPathFactory):
    bag = parse(dag_folder(tmp_path_factory.mktemp("ok"), rendered_config))
    assert bag.import_errors == {}
    return bag.dags[DAG_ID]


@pytest.fixture(scope="module")
def reference_dag(rendered_config: str, tmp_path_factory: pytest.TempPathFactory):
    config = json.loads(rendered_config) | REFERENCE_SCHEDULE
    return parse(dag_folder(tmp_path_factory.mktemp("reference"), json.dumps(config))).dags[DAG_ID]


def test_the_dag_folder_imports_without_errors(dag):
    assert dag.dag_id == DAG_ID


def test_lambda_runs_first_then_glue(dag):
    assert [t.task_id for t in dag.topological_sort()] == ["validate_input", "transform"]
    assert dag.get_task("transform").upstream_task_ids == {"validate_input"}
    assert dag.get_task("validate_input").__class__.__name__ == "LambdaInvokeFunctionOperator"
    assert dag.get_task("transform").__class__.__name__ == "GlueJobOperator"
    assert dag.get_task("transform").wait_for_completion is True


def test_names_come_from_the_rendered_config(dag, rendered_config: str):
    config = json.loads(rendered_config)
    assert dag.get_task("validate_input").function_name == config["lambda_function_name"]
    assert dag.get_task("transform").job_name == config["glue_job_name"]


def test_the_logical_date_reaches_lambda_and_glue(dag):
    assert json.loads(dag.get_task("validate_input").payload) == {"run_date": "{{ ds }}"}
    args = dag.get_task("transform").script_args
    assert args["--RUN_DATE"] == "{{ ds }}" and "validate_input" in args["--INPUT_KEY"]


@pytest.mark.parametrize(
    ("context", "says"),
    [
        ({"logical_date": datetime(2026, 11, 24, 4, 30, tzinfo=UTC)}, "for logical date 2026-11-24 04:30:00+00:00."),
        ({"run_id": "manual__2026-12-08T02:10:03"}, "for run manual__2026-12-08T02:10:03 (no logical date)."),
    ],
)
def test_a_failure_alerts_the_topic_with_or_without_a_logical_date(dag, context: dict, says: str):
    """A run triggered without a logical date (Airflow 3 allows it; its context then has none) fails on {{ ds }}: its alert
    must still go out (seen in `bin/offline ui`: the callback raised KeyError and nothing was sent)."""
    callback = dag.get_task("validate_input").on_failure_callback
    callback = callback[0] if isinstance(callback, list) else callback
    sent = []

    class Topic:  # the SNS hook, as the callback calls it
        def __init__(self, **_: object) -> None: ...

        def publish_to_target(self, target: str, message: str, subject: str) -> None:
            sent.append((target, message, subject))

    ti = type("TI", (), {"dag_id": DAG_ID, "task_id": "validate_input", "try_number": 1})()
    hook, callback.__globals__["SnsHook"] = callback.__globals__["SnsHook"], Topic
    try:
        callback({"task_instance": ti, **context})
    finally:
        callback.__globals__["SnsHook"] = hook
    ((topic, message, subject),) = sent
    assert topic == callback.__globals__["CONFIG"]["alert_topic_arn"] and subject == f"[airflow] {DAG_ID}.validate_input failed"
    assert message.startswith(f"Task validate_input of DAG {DAG_ID} failed on try 1 {says}"), message


def test_reliability_settings(dag):
    assert dag.catchup is False and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries == 3 and task.retry_exponential_backoff
        assert task.retry_delay == timedelta(minutes=2) and task.max_retry_delay == timedelta(minutes=20)
        assert task.execution_timeout is not None
        assert task.on_failure_callback


def next_run(dag, after: str) -> datetime:
    """The first scheduled run strictly after `after` (UTC)."""
    return next_run_after(dag, datetime.fromisoformat(after).replace(tzinfo=UTC))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-11-27T05:00:00", "2026-11-30T04:30:00"),  # Friday after the run -> Monday
        ("2026-11-28T09:00:00", "2026-11-30T04:30:00"),  # Saturday -> Monday
        ("2026-11-25T00:00:00", "2026-11-25T04:30:00"),  # Wednesday before the run -> same day
        ("2026-11-25T04:30:00", "2026-11-26T04:30:00"),  # exactly at a run -> next weekday
    ],
)
def test_weekdays_at_ten_ist_is_four_thirty_utc(reference_dag, after: str, expected: str):
    assert next_run(reference_dag, after) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def first_run_of_a_fresh_scheduler(dag, now: str) -> datetime:
    """What a scheduler with a new metadata DB (a resumed environment) schedules first, seeing the DAG at `now`.

    The scheduler works on the serialized DAG, so the timetable goes through serialization as on MWAA.
    """
    with time_machine.travel(datetime.fromisoformat(now).replace(tzinfo=UTC), tick=False):
        return first_scheduled_run(dag)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-23T03:50:00", "2026-11-23T04:30:00"),  # resumed before the run: that day's run, on time
        ("2026-11-23T04:50:00", "2026-11-23T04:30:00"),  # 20 minutes late: that day's run, at once
        ("2026-11-23T05:30:00", "2026-11-23T04:30:00"),  # the last minute of lateStartMinutes (60)
        ("2026-11-23T05:31:00", "2026-11-24T04:30:00"),  # later: that day is lost, nothing runs late
        ("2026-11-24T03:45:00", "2026-11-24T04:30:00"),  # the next day: no backfill of Monday
        ("2026-11-30T03:45:00", "2026-11-30T04:30:00"),  # Monday after a weekend: not Friday's run
    ],
)
def test_a_scheduler_that_comes_up_late_runs_that_day_once_and_never_backfills(reference_dag, now: str, expected: str):
    first = first_run_of_a_fresh_scheduler(reference_dag, now)
    assert first == datetime.fromisoformat(expected).replace(tzinfo=UTC)
    assert next_run(reference_dag, expected) > first + timedelta(hours=23)  # exactly once: the next is another day


def test_the_dag_needs_nothing_from_the_metadata_db(dag):
    # A duty cycle's pause loses the DB: the DAG must start unpaused and read no Variable or stored Connection.
    assert dag.is_paused_upon_creation is False
    assert dag.start_date is None  # with a start_date, Airflow ignores run_immediately and re-runs the previous interval
    names = {
        getattr(node, "id", None) or getattr(node, "attr", None)
        for path in (PROJECT_DIR / "dags").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
    }
    assert not names & {"Variable", "Connection", "get_connection"}
    templates = [str(getattr(task, field)) for task in dag.tasks for field in task.template_fields]
    assert templates and not [t for t in templates if "var." in t or "conn." in t]
    assert {task.aws_conn_id for task in dag.tasks} == {"aws_default"}  # MWAA's, from the execution role


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "pipeline_config.json is missing beside the DAG; `pulumi up` renders it"),
        ("{not json", "pipeline_config.json is not valid JSON"),
        ('{"lambda_function_name": "f"}', "pipeline_config.json lacks glue_job_name, alert_topic_arn"),
    ],
)
def test_a_bad_config_is_a_clear_import_error(tmp_path: Path, config: str | None, message: str):
    errors = parse(dag_folder(tmp_path, config)).import_errors
    (error,) = [error for path, error in errors.items() if path.endswith(f"{DAG_ID}.py")]  # a fork's YAML loader fails too
    assert message in error


def test_parsing_makes_no_network_calls(tmp_path: Path, rendered_config: str, monkeypatch: pytest.MonkeyPatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the DAG file opened a network connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert parse(dag_folder(tmp_path, rendered_config)).import_errors == {}


def test_the_description_follows_the_configured_schedule(tmp_path: Path, rendered_config: str):
    config = json.loads(rendered_config) | {"schedule_cron": "0 9 * * MON,WED,FRI", "schedule_timezone": "Europe/Berlin"}
    dag = parse(dag_folder(tmp_path, json.dumps(config))).dags[DAG_ID]
    assert dag.description == "Input check (Lambda), then transform (Glue); cron 0 9 * * MON,WED,FRI in Europe/Berlin"
    assert "IST" not in dag.description
