"""A fork's ordinary edits get a true answer: another region, a provider a DAG uses, a stack whose config fails, options
in any order. Each test edits a copy of the project as a team would and runs the commands the README gives."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from offline.stacks import PROJECT_DIR
from tests.clikit import offline
from tests.fork.apply import TEAM_WORKFLOWS, add_team_requirements
from tests.stackkit import RUNNING_AT, SHIPPED_DAG, copy_project, reset_to_reference, set_region

#: A shell outside any venv: what a person has when they type a printed command.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {
    "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
}
#: A DAG of the team's, importing the provider its requirements.txt adds.
TEAM_DAG = (
    "from airflow.providers.slack.operators.slack import SlackAPIPostOperator\nfrom airflow.sdk import DAG\n\n"
    "with DAG('team_report', schedule=None) as dag:\n    SlackAPIPostOperator(task_id='post', channel='#data', text='done')\n"
)


def summary_rows(stdout: str) -> dict[tuple[str, str, str], str]:
    """(stack, state, check) -> verdict, from the summary table that closes the main job."""
    table = stdout.split("\nSummary\n", 1)[1].splitlines()[1:-1]
    rows = [re.match(r"^    (\S+)\s+(\S+)\s+(.+?)\s{2,}(.+)$", line) for line in table]
    return {(m[1], m[2], m[3].strip()): m[4] for m in rows if m}


def gate_verdicts(rows: dict[tuple[str, str, str], str], stack: str) -> list[str]:
    """The stack's policy-gate verdicts in every state shown, advisories aside."""
    return sorted({verdict.split(" (")[0] for (name, _, check), verdict in rows.items() if name == stack and check == "policy gate"})


@pytest.mark.long
@pytest.mark.tools  # the local AWS's regions, set by the test itself: tests/fork's copy leaves them out
@pytest.mark.parametrize(
    ("region", "scenario", "states"),
    [
        ("eu-west-1", "success", {"validate_input": "success", "transform": "success"}),
        ("ap-south-1", "bad-input", {"validate_input": "success", "transform": "failed"}),  # the alert goes to that region's topic
        ("us-west-2", "missing-input", {"validate_input": "failed", "transform": "upstream_failed"}),
    ],
)
def test_the_pipeline_runs_end_to_end_in_any_region(tmp_path: Path, region: str, scenario: str, states: dict):
    """S3 refuses a bucket without a location constraint outside us-east-1 (IllegalLocationConstraintException): every
    local bucket is created as AWS creates it in the stack's region."""
    project = copy_project(tmp_path)
    set_region(project, "dev", region)
    done = offline("pipeline", "dev", "--project", str(project), "--scenario", scenario, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout)["dev"]["pipeline"]["scenarios"][0]
    assert run["as_expected"] and run["task_states"] == states, run
    if scenario != "success":
        (alert,) = run["alerts"]  # the DAG's failure callback reached the topic in the stack's region
        assert f"of DAG lambda_glue_pipeline failed on try 1 for logical date {run['logical_date']}" in alert


@pytest.mark.long
@pytest.mark.tools  # its own schedule, set by the test itself: tests/fork's copy leaves it out
def test_a_morning_run_east_of_utc_runs_every_scenario_on_its_own_logical_date(tmp_path: Path):
    """07:15 in Tokyo is 22:15 UTC the day before: each scenario's run, its input object, its result and its missed-run
    check follow that run's logical date ({{ ds }}, in UTC), not the local day the scenario was given."""
    project = copy_project(tmp_path)
    schedule = {"runDays": ["TUE", "THU"], "runTime": "07:15", "timezone": "Asia/Tokyo"}
    document = yaml.safe_load((project / "Pulumi.yaml").read_text())
    document["config"]["mwaa-platform:pipeline"]["value"] = schedule
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    done = offline("pipeline", "dev", "--project", str(project), "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scenarios = json.loads(done.stdout)["dev"]["pipeline"]["scenarios"]
    assert [(s["scenario"], s["as_expected"]) for s in scenarios] == [
        ("success", True), ("missing-input", True), ("bad-input", True), ("no-run-day", True)
    ]  # fmt: skip
    ran = [s for s in scenarios if s["scenario"] != "no-run-day"]
    assert {date.fromisoformat(s["logical_date"]).strftime("%a") for s in ran} <= {"Mon", "Wed"}  # the UTC day before
    assert all(s["missed_run_check"]["run_date"] == s["logical_date"] for s in ran), ran


@pytest.mark.long
@pytest.mark.tools  # its own requirements and DAG: tests/fork's copy, which has both, shows it with its own bin/offline
def test_a_provider_the_requirements_add_serves_a_dag_through_the_whole_main_job(tmp_path: Path):
    """The DAG check, the pipeline run (the DAG folder must import before anything runs) and the DAG tests all use MWAA's
    package set plus the stack's requirements: one run never calls the same DAG parsed and broken."""
    project = copy_project(tmp_path)
    add_team_requirements(project / "dags" / "requirements.txt")  # the Slack provider (a fork may have it already)
    (project / "dags" / "team_report.py").write_text(TEAM_DAG)
    # The main job's two Airflow checks of the DAG folder, as `bin/offline dev` runs them (its other checks read no DAG).
    checked = offline("dags", "dev", "--project", str(project), "--at", RUNNING_AT.isoformat(), "--json")
    assert checked.returncode == 0 and "team_report" in [d["dag_id"] for d in json.loads(checked.stdout)["dev"]["dags"]["dags"]]
    ran = offline("pipeline", "dev", "--project", str(project), "--scenario", "success")
    assert ran.returncode == 0 and "doesn't import" not in ran.stdout + ran.stderr, ran.stdout[-3000:] + ran.stderr[-3000:]


def test_one_stacks_bad_config_is_its_fail_row_and_the_others_are_still_checked(tmp_path: Path):
    project = copy_project(tmp_path)
    lite = project / "Pulumi.lite.yaml"  # a zone with daylight saving: fine provisioned, refused serverless
    document = yaml.safe_load(lite.read_text())
    document["config"]["mwaa-platform:pipeline"] = {"runDays": ["MON"], "runTime": "09:00", "timezone": "Europe/Berlin"}
    lite.write_text(yaml.safe_dump(document))
    done = offline("gate", "--project", str(project), "--at", "2026-11-23T08:00Z")
    assert done.returncode == 2, done.stdout + done.stderr  # bad input, the worst of the verdicts
    assert done.stderr.count("error: ") == 1 and "Traceback" not in done.stderr
    assert "error: stack lite: " in done.stderr and "in Pulumi.lite.yaml, mwaa-platform:pipeline" in done.stderr
    rows = summary_rows(done.stdout)
    assert rows[("lite", "-", "checks")].startswith("FAIL (bad input): mwaa-platform: pipeline.timezone Europe/Berlin changes")
    assert gate_verdicts(rows, "dev") == gate_verdicts(rows, "prod") == ["PASS"]
    assert re.search(r"\nFAILED: 1 of \d+ checks failed$", done.stdout.rstrip())


def test_one_stacks_crash_is_its_fail_row_with_the_traceback_and_the_others_are_still_checked(tmp_path: Path):
    project = copy_project(tmp_path)
    component = project / "components" / "serverless_workflow.py"  # only the serverless stack builds it
    component.write_text(component.read_text().replace("super().__init__(", "{}['boom']\n        super().__init__(", 1))
    done = offline("gate", "--project", str(project), "--at", "2026-11-23T08:00Z")
    assert done.returncode == 3 and "Traceback" in done.stderr and "KeyError: 'boom'" in done.stderr, done.stderr[-3000:]
    assert "error: stack lite: that is a bug in the offline tools" in done.stderr
    rows = summary_rows(done.stdout)
    assert rows[("lite", "-", "checks")].startswith("FAIL (a bug in the offline tools)")
    assert gate_verdicts(rows, "dev") == gate_verdicts(rows, "prod") == ["PASS"]


@pytest.mark.tools  # the command line's parsing: no config changes it
def test_options_go_before_or_after_the_command_and_stacks():
    at = ("--at", "2026-11-23T04:30Z")  # one decision time: two calls a minute apart decide at different minutes
    before, after = offline("--json", *at, "duty-cycle", "prod"), offline("duty-cycle", "prod", "--json", *at)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout) and set(json.loads(before.stdout)) == {"prod"}
    stack_first = offline("--at", "2026-11-23T04:30Z", "prod", "--json")  # `bin/offline --timings prod` style: stacks only
    assert stack_first.returncode in (0, 1) and "prod" in json.loads(stack_first.stdout), stack_first.stderr[-2000:]


def test_plan_json_lists_the_resources():
    done = offline("plan", "prod", "--json", "--at", "2026-11-23T04:30Z")
    resources = json.loads(done.stdout)["prod"]["states"]["running"]["resources"]
    environment = next(r for r in resources if r["type"] == "aws:mwaa/environment:Environment")
    assert environment["inputs"]["environmentClass"] and environment["urn"].endswith("::airflow-environment")
    assert {"type", "name", "urn", "parent", "provider", "dependencies", "inputs", "protect"} <= set(environment)


def test_the_commands_the_tools_print_run_as_printed(tmp_path: Path):
    """A stale workflow names `bin/offline workflows`, which runs from anywhere, venv or not, and mends it."""
    project = copy_project(tmp_path)
    (project / ".venv").symlink_to(PROJECT_DIR / ".venv")  # the same pinned toolchain: bin/setup finds it up to date
    set_region(project, "dev", "eu-central-1")  # the workflows' regions now lag behind
    stale = offline("workflows", "--check", "--project", str(project))
    (command,) = set(re.findall(r"run `([^`]+)`", stale.stdout))
    assert stale.returncode == 1 and command == "bin/offline workflows", stale.stdout
    done = subprocess.run([str(project / "bin" / "offline"), "workflows"], cwd=tmp_path, capture_output=True, text=True, env=CLEAN_ENV)
    assert done.returncode == 0 and "rewrote .github/workflows/" in done.stdout, done.stderr
    assert offline("workflows", "--check", "--project", str(project)).returncode == 0


SEVERAL = """from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup, task
from airflow.timetables.trigger import CronTriggerTimetable

with DAG("several", schedule=CronTriggerTimetable("0 9 * * *", timezone="Europe/Berlin")):
    with TaskGroup("group"):
        EmptyOperator(task_id="inside")
    BashOperator(task_id="shell", bash_command="echo hi")

    @task
    def compute():
        return 1

    compute()
"""


def with_yaml_workflows(project: Path) -> Path:
    """tests/fork's YAML workflows (one lite can run, one for provisioned stacks only), dag-factory pinned as it pins it."""
    (project / "dags" / "workflows").mkdir(exist_ok=True)
    for name, text in TEAM_WORKFLOWS.items():
        (project / "dags" / "workflows" / name).write_text(text)
    add_team_requirements(project / "dags" / "requirements.txt")
    return project


def test_the_serverless_stack_names_every_dag_it_does_not_run_with_why(tmp_path: Path):
    """lite runs the shipped pipeline from its generated definition and each YAML workflow the service can run, loaded
    with the service's dag-factory on its Airflow; every other DAG of the team's, Python or YAML, is named, in the output
    and the summary, with what keeps it off MWAA Serverless (never dropped silently)."""
    project = copy_project(tmp_path)
    reset_to_reference(project)  # the shipped DAG alone: a fork's own DAGs would be named too
    (project / "dags" / "team_report.py").write_text(TEAM_DAG)  # its provider is not in the service's Airflow
    (project / "dags" / "several.py").write_text(SEVERAL)
    with_yaml_workflows(project)
    done = offline("dags", "lite", "--project", str(project), "--json")
    assert done.returncode == 0, done.stderr[-3000:]  # the definitions themselves are fine: naming is not failing
    report = json.loads(done.stdout)["lite"]["dags"]
    (deployed,) = report["team_definitions"]
    assert deployed.endswith("-late_input_retry.yaml")
    assert {d["dag_id"] for d in report["dags"]} == {"lambda_glue_pipeline", "late_input_retry"}  # loaded as the service does
    named = {n["dag_id"] or n["file"]: n["reasons"] for n in report["not_run"]}
    assert set(named) == {"team_report.py", "several", "audit_marker"}  # never the pipeline's file: lite runs its definition
    assert "DAG audit_marker: catchup is ignored by MWAA Serverless; remove it" in named["audit_marker"]
    assert "No module named 'airflow.providers.slack'" in named["team_report.py"][1]
    assert named["several"][0].startswith("a Python DAG: MWAA Serverless runs dag-factory YAML definitions")
    assert "its cron runs in Europe/Berlin, which has daylight saving: the service reads cron in UTC" in named["several"]
    bash = "airflow.providers.standard.operators.bash.BashOperator"
    assert f"operator {bash} (task shell) is not on the service's allowlist" in named["several"]
    assert "task compute runs Python (TaskFlow or a python_callable): not supported" in named["several"]
    assert "task group.inside is in task group group: task groups are not supported" in named["several"]
    text = offline("dags", "lite", "--project", str(project))
    assert "    not run by lite: DAG several (several.py): a Python DAG" in text.stdout
    assert summary_rows(text.stdout)[("lite", "-", "DAGs it doesn't run")] == "3 DAGs named above: team_report.py, several, audit_marker"


@pytest.mark.long
def test_a_provisioned_stack_builds_every_yaml_workflow_through_the_loader(tmp_path: Path):
    """One file for both modes (yaml_workflows.py; lite's side is the test above): prod builds every file through
    dags/load_yaml_workflows.py with the dag-factory its requirements pin, on prod's Airflow, named by its file."""
    project = copy_project(tmp_path)
    reset_to_reference(project)
    with_yaml_workflows(project)
    done = offline("dags", "prod", "--project", str(project), "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    prod = json.loads(done.stdout)["prod"]["dags"]
    assert {d["dag_id"] for d in prod["dags"]} == {"lambda_glue_pipeline", "late_input_retry", "audit_marker"}
    files = {d["dag_id"]: d["file"] for d in prod["dags"]}  # named by their files, not the loader's
    assert files["late_input_retry"] == "dags/workflows/late_input_retry.yaml" and files["lambda_glue_pipeline"] == SHIPPED_DAG
    runs = {d["dag_id"]: d["first_run"] for d in prod["dags"]}
    assert runs["late_input_retry"].endswith("T12:00:00+00:00") and runs["audit_marker"].endswith("T09:00:00+00:00")  # UTC crons
