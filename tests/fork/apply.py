"""Copy the repository to a folder and apply the fork-like edits described in README.md beside this file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
#: Not copied: the environments (linked below), git's and the tools' caches. `.cache` too: a fork starts without the
#: results of ours, and CI copies while the main job still writes there.
SKIPPED = shutil.ignore_patterns(".venv", ".venv-airflow", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".cache")


#: dev's region in the fork: not us-east-1, and pricing.json has only its NAT and IPv4 rates.
FORK_REGION = "ap-south-1"
TEAM_DAG = '''"""The team's own DAG: a note to Slack (the provider its requirements.txt adds) after the weekly data lands."""

from __future__ import annotations

from airflow.providers.slack.operators.slack import SlackAPIPostOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

with DAG(
    dag_id="team_report",
    schedule=CronTriggerTimetable("0 11 * * MON,WED,FRI", timezone="Europe/Berlin"),
    catchup=False,
    is_paused_upon_creation=False,
):
    SlackAPIPostOperator(task_id="post", channel="#data", text="The pipeline's results are in.")
'''

#: The team's YAML workflows (yaml_workflows.py): one MWAA Serverless can run, deployed to lite as its own workflow and
#: run by dev and prod through dag-factory; one written for provisioned stacks only, which lite names with its reasons.
#: Their times fall in dev's working-hours windows (UTC crons: the service reads cron in UTC).
TEAM_WORKFLOWS = {
    "late_input_retry.yaml": """# Yesterday's input again at noon UTC on weekdays, for files that landed after the morning run.
late_input_retry:
  description: Check and transform yesterday's input again, for late files
  schedule: "0 12 * * 1-5"
  default_args: {owner: data-platform, retries: 2, retry_delay: 120}
  tasks:
    check_input:
      operator: airflow.providers.amazon.aws.operators.lambda_function.LambdaInvokeFunctionOperator
      function_name: ${PIPELINE_LAMBDA_FUNCTION_NAME}
      payload: '{"run_date": "{{ macros.ds_add(ds, -1) }}"}'
      execution_timeout: {__type__: datetime.timedelta, seconds: 300}
    transform:
      operator: airflow.providers.amazon.aws.operators.glue.GlueJobOperator
      job_name: ${PIPELINE_GLUE_JOB_NAME}
      script_args:
        --RUN_DATE: "{{ macros.ds_add(ds, -1) }}"
        --INPUT_KEY: "${PIPELINE_INPUT_PREFIX}{{ macros.ds_add(ds, -1) }}.csv"
      wait_for_completion: true
      execution_timeout: {__type__: datetime.timedelta, seconds: 2400}
      dependencies: [check_input]
""",
    "audit_marker.yaml": """# A weekly marker for the auditors' dashboard (provisioned stacks only: keys and an operator the service lacks).
audit_marker:
  schedule: "0 9 * * 1"
  catchup: false
  tags: [audit]
  tasks:
    mark:
      operator: airflow.providers.standard.operators.empty.EmptyOperator
""",
}


#: What the team adds to dags/requirements.txt: the Slack provider its second DAG imports, and dag-factory for its YAML
#: workflows (the version the program names). Tests that add either add both, in this order, so that they use the
#: Airflow environment this copy's setup builds (offline/airflow_env.py keys it by these lines) instead of building one.
TEAM_REQUIREMENTS = ("apache-airflow-providers-slack", "dag-factory==1.1.0")


def add_team_requirements(requirements: Path) -> None:
    lines = requirements.read_text().splitlines()
    requirements.write_text("\n".join([*lines, *(line for line in TEAM_REQUIREMENTS if line not in lines)]) + "\n")


def team_prices(region: str) -> dict:
    """policies/team-prices.json as a fork keeps it (docs/cost.md): the figures pricing.json lacks for `region`. In this
    fixture they are us-east-1's, labelled as the fork's own; a real fork writes its region's, each with its source."""
    pricing = json.loads((REPO / "policies" / "rules" / "data" / "pricing.json").read_text())["regions"]
    have = pricing.get(region, {})
    source = {"title": "tests/fork fixture: us-east-1's figures standing in for the fork's own quote", "as_of": "2026-12-07"}
    figures = {}
    for key, entry in pricing["us-east-1"].items():
        if key in have:
            continue
        if "usd" in entry:
            figures[key] = {"usd": entry["usd"], "source": "fork-quote"}
        else:
            figures[key] = {variant: {"usd": figure["usd"], "source": "fork-quote"} for variant, figure in entry.items()}
    about = "the fork's own prices (docs/cost.md, Your own prices)"
    return {"about": about, "sources": {"fork-quote": source}, "regions": {region: figures}}


def _edit_yaml(path: Path, edit) -> None:
    document = yaml.safe_load(path.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def apply(target: Path) -> Path:
    shutil.copytree(REPO, target, ignore=SKIPPED, symlinks=True)
    for venv in (".venv", ".venv-airflow"):  # the same pinned environments: the fork changes config, not the toolchain
        if (REPO / venv).exists():
            (target / venv).symlink_to(REPO / venv)
    schedule = {"runDays": ["MON", "WED", "FRI"], "runTime": "09:00", "timezone": "Europe/Berlin"}
    _edit_yaml(target / "Pulumi.yaml", lambda d: d["config"]["mwaa-platform:pipeline"].update(value=schedule))
    working_hours = {"days": ["MON", "TUE", "WED", "THU", "FRI"], "start": "08:00", "end": "18:00", "timezone": "Europe/Berlin"}
    _edit_yaml(target / "Pulumi.dev.yaml", lambda d: d["config"]["mwaa-platform:dutyCycle"].update(windows=[working_hours]))
    _edit_yaml(target / "Pulumi.prod.yaml", lambda d: d["config"]["mwaa-platform:mwaa"].update(environmentClass="mw1.medium"))
    pack = target / "policies" / "config" / "prod.json"
    config = json.loads(pack.read_text())
    config["mwaa-environment-class"]["allowedClasses"] = ["mw1.small", "mw1.medium"]
    config["monthly-cost-budget"]["monthlyBudgetUsd"] = 700
    pack.write_text(json.dumps(config, indent=2) + "\n")
    # MWAA Serverless schedules in UTC, so Berlin's daylight saving is refused for lite (settings.py says so): its team
    # gives it its own schedule in a zone without it (a stack file's key replaces the project's value whole).
    lite_schedule = {"runDays": ["MON", "WED", "FRI"], "runTime": "07:00", "timezone": "UTC", "inputPrefix": "landing/"}
    _edit_yaml(target / "Pulumi.lite.yaml", lambda d: d["config"].update({"mwaa-platform:pipeline": lite_schedule}))
    requirements = target / "dags" / "requirements.txt"
    add_team_requirements(requirements)
    (target / "dags" / "team_report.py").write_text(TEAM_DAG)  # a second DAG, importing the provider the team added
    (target / "dags" / "workflows").mkdir()
    for name, text in TEAM_WORKFLOWS.items():
        (target / "dags" / "workflows" / name).write_text(text)
    # dev in Mumbai, with the team's own figures for what pricing.json lacks there (MWAA, Glue, Lambda, ... rates).
    _edit_yaml(target / "Pulumi.dev.yaml", lambda d: d["config"].update({"aws:region": FORK_REGION}))
    (target / "policies" / "team-prices.json").write_text(json.dumps(team_prices(FORK_REGION), indent=2) + "\n")
    # As a fork does after such edits: the workflows and CI's permissions follow the stacks (bin/offline says so otherwise).
    subprocess.run([sys.executable, "-m", "offline.workflows", "--project", str(target)], cwd=target, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "offline", "bootstrap", "--project", str(target)], cwd=target, check=True, capture_output=True)
    return target


if __name__ == "__main__":
    print(apply(Path(sys.argv[1])))
