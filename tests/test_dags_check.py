"""The DAG integrity check before deploy (`python -m offline dags`): the folder MWAA would get, parsed by its Airflow."""

from __future__ import annotations

import json
import re
import subprocess
import zoneinfo
from datetime import datetime
from pathlib import Path

import yaml

from offline.harness import StackRun, render_dag_folder
from offline.stacks import PROJECT_DIR, stack_settings
from tests.clikit import cli
from tests.stackkit import copy_project, reset_to_reference


def dags(project: Path, *args: str, stacks: tuple[str, ...] = ("dev",)) -> subprocess.CompletedProcess:
    return cli("offline", "dags", *stacks, "--project", str(project), *args)


def test_the_folder_is_what_pulumi_up_uploads_under_dags(dev: StackRun, tmp_path: Path):
    folder = render_dag_folder(dev, tmp_path / "dags")
    requirements = PROJECT_DIR / stack_settings("dev").dag_bucket.requirements_file  # uploaded to the bucket's root instead
    team_files = [p.relative_to(PROJECT_DIR / "dags") for p in (PROJECT_DIR / "dags").rglob("*") if p.is_file() and p != requirements]
    uploaded = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
    assert sorted(uploaded) == sorted([p for p in team_files if "__pycache__" not in p.parts] + [Path("pipeline_config.json")])
    assert json.loads((folder / "pipeline_config.json").read_text()) == json.loads(dev.by_name("dags-pipeline-config").inputs["content"])


def test_the_real_dags_pass_with_parse_times_against_the_timeout():
    done = dags(PROJECT_DIR, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["dev"]["dags"]
    assert report["airflow"] == stack_settings("dev").airflow_version and report["problems"] == [] and report["timeout_seconds"] == 30
    assert "lambda_glue_pipeline.py" in [f["file"] for f in report["files"]] and all(0 < f["seconds"] < 30 for f in report["files"])
    dag = next(d for d in report["dags"] if d["dag_id"] == "lambda_glue_pipeline")  # a fork's own DAGs may stand beside it
    pipeline = stack_settings("dev").pipeline  # the DAG's timetable agrees with the settings' schedule (shipped: 10:00 IST)
    local = datetime.fromisoformat(dag["first_run"]).astimezone(zoneinfo.ZoneInfo(pipeline.timezone))
    assert f"{local:%H:%M}" == pipeline.run_time


def test_a_syntax_error_fails_with_its_file_and_line(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "broken.py").write_text("from airflow.sdk import DAG\n\nwith DAG('broken') as dag:\n    pass\ndef oops(:\n")
    done = dags(project)
    assert done.returncode == 1
    assert "problem: broken.py:5: SyntaxError: invalid syntax" in done.stdout
    assert re.search(r"^dev: DAGs FAILED: \d+ DAGs?, 1 problem$", done.stdout, re.M), done.stdout


def test_a_cycle_and_a_dag_that_never_runs_are_problems(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "cycle.py").write_text(
        "from airflow.providers.standard.operators.empty import EmptyOperator\nfrom airflow.sdk import DAG\n\n"
        "with DAG('cycle', schedule=None) as dag:\n    a, b = EmptyOperator(task_id='a'), EmptyOperator(task_id='b')\n    a >> b >> a\n"
    )
    (project / "dags" / "ended.py").write_text(
        "from datetime import datetime, timezone\nfrom airflow.sdk import DAG\n\n"
        "with DAG('ended', schedule='@daily', start_date=datetime(2020, 1, 1, tzinfo=timezone.utc),\n"
        "         end_date=datetime(2020, 1, 2, tzinfo=timezone.utc), catchup=False) as dag:\n    pass\n"
    )
    # A problem elsewhere that merely mentions the DAG's id must not hide the DAG's own problem.
    (project / "dags" / "ended_draft.py").write_text("from airflow.sdk import DAG\n\ndef draft(:\n")
    done = dags(project)
    assert done.returncode == 1, done.stdout
    assert "problem: cycle.py: AirflowDagCycleException: Cycle detected in Dag: cycle" in done.stdout
    assert "problem: ended.py: DAG ended has a schedule but no next run" in done.stdout
    assert "problem: ended_draft.py:3: SyntaxError" in done.stdout


# --- a duty-cycled stack runs a DAG only inside its windows -------------------------------------------------------

AT = "2026-11-23T00:00Z"  # Monday; dev's windows are 03:30-07:45 UTC on weekdays


def scheduled_dag(project: Path, dag_id: str, cron: str, **extra: str) -> None:
    arguments = "".join(f", {key}={value}" for key, value in extra.items())
    (project / "dags" / f"{dag_id}.py").write_text(
        "from datetime import timedelta\n\nfrom airflow.sdk import DAG\nfrom airflow.timetables.trigger import CronTriggerTimetable\n\n"
        f"with DAG('{dag_id}', schedule=CronTriggerTimetable('{cron}', timezone='UTC'){arguments}) as dag:\n    pass\n"
    )


def test_dags_the_windows_cannot_serve_fail_with_the_window_that_would(tmp_path: Path):
    project = copy_project(tmp_path)
    reset_to_reference(project)  # its own fixture stack: the shipped schedule and windows, whatever the fork's
    scheduled_dag(project, "afternoon", "0 15 * * *")  # daily at 15:00: outside every window
    scheduled_dag(project, "early", "40 3 * * 1-5")  # 10 minutes after the window opens: the environment is still being created
    scheduled_dag(project, "long", "0 7 * * 1-5", dagrun_timeout="timedelta(hours=1)")  # would end after the 07:45 pause
    scheduled_dag(project, "later", "0 5 * * 1-5")  # 05:00 + the assumed hour ends before 07:45: fits
    done = dags(project, "--at", AT)
    assert done.returncode == 1, done.stdout + done.stderr
    problems = [line for line in done.stdout.splitlines() if line.strip().startswith("problem:")]
    assert len(problems) == 3, problems  # one a DAG, naming each of its runs that can't happen (one a weekday)
    every_day = ", ".join(f"{day:%a %Y-%m-%d} 15:00" for day in (datetime(2026, 11, 23 + n) for n in range(7)))
    assert (
        f"problem: afternoon.py: DAG afternoon would never run at {every_day} UTC: it falls outside every duty-cycle window. "
        'Add a window that covers them all, e.g. dutyCycle.windows: [{days: [MON, TUE, WED, THU, FRI, SAT, SUN], start: "14:00", '
        'end: "16:15"}]'
    ) in done.stdout
    assert (
        "DAG early would never run at Mon 2026-11-23 03:40, Tue 2026-11-24 03:40, Wed 2026-11-25 03:40, Thu 2026-11-26 03:40, "
        "Fri 2026-11-27 03:40 UTC: it is 10 min after its window opens, before the environment is up"
    ) in done.stdout
    assert "DAG long would never run at Mon 2026-11-23 07:00, Tue 2026-11-24 07:00," in done.stdout
    assert "UTC: it would outlive its window (60 min run timeout)" in done.stdout
    assert "DAG later" not in "\n".join(problems)


def test_every_uncovered_day_is_named_at_once_with_one_window_for_them_all(tmp_path: Path):
    project = copy_project(tmp_path)
    reset_to_reference(project)  # weekday windows 03:30-07:45 UTC
    scheduled_dag(project, "daily", "0 5 * * *")  # served on weekdays; Saturday and Sunday fall outside every window
    done = dags(project, "--at", AT)
    (problem,) = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("problem:")]
    assert problem == (
        "problem: daily.py: DAG daily would never run at Sat 2026-11-28 05:00, Sun 2026-11-29 05:00 UTC: it falls outside every "
        'duty-cycle window. Add a window that covers them all, e.g. dutyCycle.windows: [{days: [SAT, SUN], start: "04:00", '
        'end: "06:15"}], or change its schedule'
    )
    assert "dev: DAGs FAILED: 2 DAGs, 1 problem" in done.stdout


def test_a_window_for_the_dag_or_an_always_on_stack_passes(tmp_path: Path):
    project = copy_project(tmp_path)
    reset_to_reference(project)  # its own fixture stack: the shipped schedule and windows, whatever the fork's
    scheduled_dag(project, "afternoon", "0 15 * * *")
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    everyday = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    document["config"]["mwaa-platform:dutyCycle"]["windows"] = [{"days": everyday, "start": "14:00", "end": "16:15"}]
    stack_file.write_text(yaml.safe_dump(document))
    done = dags(project, "--at", AT, "--json", stacks=("dev", "prod"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["dev"]["dags"]["problems"] == [] == report["prod"]["dags"]["problems"]
    afternoon = next(d for d in report["prod"]["dags"]["dags"] if d["dag_id"] == "afternoon")
    assert afternoon["runs"][:2] == ["2026-11-23T15:00:00+00:00", "2026-11-24T15:00:00+00:00"]


def test_dags_are_parsed_with_the_stacks_requirements_installed(tmp_path: Path):
    # MWAA installs requirements.txt before it parses a DAG: a provider the team just added must import.
    project = copy_project(tmp_path)
    reset_to_reference(project)  # its own fixture stack: the shipped schedule and windows, whatever the fork's
    (project / "dags" / "notify.py").write_text(
        "from airflow.providers.slack.operators.slack_webhook import SlackWebhookOperator\nfrom airflow.sdk import DAG\n\n"
        "with DAG('notify', schedule=None) as dag:\n    SlackWebhookOperator(task_id='say', slack_webhook_conn_id='slack', message='hi')\n"
    )
    missing = dags(project)
    assert missing.returncode == 1 and "notify.py:1: ModuleNotFoundError: No module named 'airflow.providers.slack'" in missing.stdout
    requirements = project / "dags" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "apache-airflow-providers-slack\n")
    done = dags(project, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "notify" in [d["dag_id"] for d in json.loads(done.stdout)["dev"]["dags"]["dags"]]


def test_a_past_start_date_is_flagged_on_a_duty_cycled_stack_only(tmp_path: Path):
    project = copy_project(tmp_path)
    reset_to_reference(project)  # its own fixture stack: the shipped schedule and windows, whatever the fork's
    past = "datetime(2025, 1, 1, tzinfo=timezone.utc)"
    (project / "dags" / "dated.py").write_text(
        "from datetime import datetime, timezone\n\nfrom airflow.sdk import DAG\n"
        "from airflow.timetables.trigger import CronTriggerTimetable\n\n"
        f"with DAG('dated', schedule=CronTriggerTimetable('0 5 * * 1-5', timezone='UTC'), start_date={past}, catchup=False) as dag:\n"
        "    pass\n"
    )
    done = dags(project, "--at", AT, "--json", stacks=("dev", "prod"))
    report = json.loads(done.stdout)
    (problem,) = report["dev"]["dags"]["problems"]  # 05:00 fits dev's window: only the start_date is wrong
    assert problem.startswith("dated.py: DAG dated has start_date 2025-01-01, in the past: every resume starts with a new metadata DB")
    assert report["prod"]["dags"]["problems"] == []  # always on: one metadata DB, no re-run
