"""End to end: the real DAG, Lambda handler and Glue script against an embedded moto server."""

from __future__ import annotations

import json
import subprocess
import zoneinfo
from datetime import UTC, date, datetime, time

import pytest

from functions.validate_input.handler import input_key
from offline.airflow_env import default_version, versions
from offline.pipeline_run import PipelineReport
from offline.stacks import stack_settings
from tests.clikit import cli

pytestmark = pytest.mark.long


def run_instant(day: str) -> datetime:
    """When dev's pipeline runs on `day`, in UTC (shipped: 04:30)."""
    pipeline = stack_settings("dev").pipeline
    hour, minute = map(int, pipeline.run_time.split(":"))
    return datetime.combine(date.fromisoformat(day), time(hour, minute), zoneinfo.ZoneInfo(pipeline.timezone)).astimezone(UTC)


def pipeline(*args: str) -> subprocess.CompletedProcess:
    return cli("offline.pipeline_run", *args)


def all_scenarios(stack: str) -> dict[str, dict]:
    done = pipeline(stack, "--json")  # every scenario, as bin/offline runs them (a cached result when it ran first)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]  # each ended as it must
    reports = {r["scenario"]: r for r in json.loads(done.stdout)["scenarios"]}
    assert [(name, r["as_expected"], r["problems"]) for name, r in reports.items()] == [(name, True, []) for name in reports]
    return reports


@pytest.fixture(scope="module")
def reports() -> dict[str, dict]:
    return all_scenarios("dev")


def test_success_runs_lambda_then_exactly_one_glue_run(reports):
    run = reports["success"]
    assert run["dag_run_state"] == "success"
    assert run["task_states"] == {"validate_input": "success", "transform": "success"}
    (glue,) = run["glue_runs"]
    assert glue["state"] == "SUCCEEDED"
    assert glue["arguments"]["--RUN_DATE"] == "2026-11-23"
    assert glue["arguments"]["--INPUT_KEY"] == "incoming/2026-11-23.csv"  # from the Lambda's answer
    assert run["outputs"] == {"curated/2026-11-23/summary.csv": "category,orders,total_amount\nbooks,2,19.75\ngames,1,30.00\n"}
    assert run["alerts"] == []


def test_a_lambda_function_error_stops_the_pipeline_and_alerts(reports):
    run = reports["missing-input"]
    assert run["task_states"] == {"validate_input": "failed", "transform": "upstream_failed"}
    assert run["glue_runs"] == []
    (alert,) = run["alerts"]
    when = run_instant(run["logical_date"])
    assert alert.startswith(
        f"Task validate_input of DAG lambda_glue_pipeline failed on try 1 for logical date {when:%Y-%m-%d %H:%M}:00+00:00."
    )
    assert "Error: ValueError('Lambda function execution resulted in error'" in alert  # Airflow 3.3 passes the exception


def test_a_failed_glue_run_fails_its_task_and_alerts(reports):
    run = reports["bad-input"]
    assert run["task_states"] == {"validate_input": "success", "transform": "failed"}
    assert [g["state"] for g in run["glue_runs"]] == ["FAILED"]
    (alert,) = run["alerts"]
    assert alert.startswith("Task transform of DAG lambda_glue_pipeline failed on try 1")
    assert run["outputs"] == {}


# --- the missed-run alarm, independent of Airflow: the deployed check at each run's deadline ---------------------------


def test_a_run_that_produced_its_result_raises_no_missed_run_alert(reports):
    run = reports["success"]
    assert run["missed_run_check"] == {"status": "ran", "run_date": "2026-11-23", "key": "curated/2026-11-23/summary.csv"}
    assert run["missed_run_alerts"] == []


@pytest.mark.parametrize("scenario", ["missing-input", "bad-input"])
def test_a_run_day_without_a_result_alerts_through_the_topic(reports, scenario: str):
    run = reports[scenario]
    assert run["missed_run_check"]["status"] == "alerted"
    (alert,) = run["missed_run_alerts"]  # read back from the topic's SQS subscription
    day = run["logical_date"]
    assert alert.startswith(
        f"The mwaa-platform-dev run of {day} ({run_instant(day):%Y-%m-%d %H:%M} UTC) has no result at its deadline: s3://"
    )
    assert f"/curated/{day}/summary.csv does not exist" in alert


def test_a_day_without_a_scheduled_run_never_alerts(reports):
    saturday = reports["no-run-day"]
    assert saturday["missed_run_check"]["status"] == "no run scheduled" and saturday["missed_run_alerts"] == []


def test_the_command_exits_zero_on_success_and_prints_task_states():
    done = pipeline("prod")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Pipeline run success (lambda_glue_pipeline, logical date 2026-11-23): success (as expected)" in done.stdout
    assert "    validate_input   success" in done.stdout and "    transform        success" in done.stdout


@pytest.mark.parametrize(
    ("scenario", "state", "alerts", "check", "missed", "problem"),
    [
        ("missing-input", "failed", 0, "alerted", 1, "failure alerts: 0, expected 1"),  # the DAG's callback is gone
        ("bad-input", "failed", 1, "ran", 0, "missed-run check: 'ran', expected 'alerted'"),
        ("success", "success", 0, "alerted", 1, "missed-run alerts: 1, expected 0"),
        ("no-run-day", "not scheduled", 0, "alerted", 1, "missed-run check: 'alerted', expected 'no run scheduled'"),
    ],
)
def test_a_run_that_ends_otherwise_than_its_scenario_must_fails(scenario, state, alerts, check, missed, problem):
    # What bin/offline's verdict rests on: a failed day that doesn't alert (or a quiet day that does) is a failure.
    report = PipelineReport(scenario, "2026-11-24", state, {}, alerts=["alert"] * alerts, missed_run_check={"status": check},
                            missed_run_alerts=["missed"] * missed)  # fmt: skip
    assert problem in report.problems and not report.as_expected


@pytest.mark.parametrize("version", [v for v in versions() if v != default_version()])
def test_the_success_path_runs_on_every_other_supported_airflow(version: str):
    done = pipeline("dev", "--scenario", "success", "--airflow-version", version, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    run, no_run_day = json.loads(done.stdout)["scenarios"]
    assert no_run_day["scenario"] == "no-run-day" and no_run_day["missed_run_alerts"] == []
    assert run["task_states"] == {"validate_input": "success", "transform": "success"}
    assert [g["state"] for g in run["glue_runs"]] == ["SUCCEEDED"] and run["alerts"] == []


# --- the same pipeline on MWAA Serverless: the generated definition, loaded with dag-factory on Airflow 3.0.6 ---------


@pytest.fixture(scope="module")
def serverless_reports() -> dict[str, dict]:
    return all_scenarios("lite")


def test_serverless_success_runs_glue_on_the_key_the_lambda_checked(serverless_reports):
    run, prefix = serverless_reports["success"], stack_settings("lite").pipeline.input_prefix
    assert run["task_states"] == {"validate_input": "success", "transform": "success"}
    (glue,) = run["glue_runs"]
    assert glue["state"] == "SUCCEEDED" and glue["arguments"]["--INPUT_KEY"] == input_key(prefix, run["logical_date"])
    assert list(run["outputs"]) == [f"{stack_settings('lite').pipeline.output_prefix}{run['logical_date']}/summary.csv"]
    assert run["alerts"] == [] and run["missed_run_alerts"] == []


@pytest.mark.parametrize(
    ("scenario", "tasks", "glue"),
    [
        ("missing-input", {"validate_input": "failed", "transform": "upstream_failed"}, []),  # Glue never runs after a failed Lambda
        ("bad-input", {"validate_input": "success", "transform": "failed"}, ["FAILED"]),
    ],
)
def test_a_failed_serverless_run_alerts_once_through_the_services_event(serverless_reports, scenario: str, tasks: dict, glue: list):
    run = serverless_reports[scenario]
    assert run["task_states"] == tasks and [g["state"] for g in run["glue_runs"]] == glue
    (alert,) = run["alerts"]  # the EventBridge rule's delivery to the topic, read back from its SQS subscription
    event = json.loads(alert)
    assert event["source"] == "aws.airflow-serverless" and event["detail-type"] == "MWAA Serverless Workflow Run Failed"
    assert event["detail"]["runId"] == f"scheduled__{run['logical_date']}"
    assert run["missed_run_check"]["status"] == "alerted"
