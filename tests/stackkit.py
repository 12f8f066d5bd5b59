"""Times and facts derived from a stack's own config, so tests hold for a fork's schedule as for the shipped one."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

from duty_cycle import DutyCycle
from offline.harness import plan_fingerprint
from offline.stacks import stack_settings
from settings import WEEKDAYS

#: The week the tests look at (a Monday, in November: no daylight saving in Europe or India).
WEEK_OF = datetime(2026, 11, 23, tzinfo=UTC)


def first_run(stack: str, project=None) -> datetime:
    """The stack's first scheduled pipeline run at or after WEEK_OF, in UTC."""
    pipeline = (stack_settings(stack, project) if project else stack_settings(stack)).pipeline
    hour, minute = map(int, pipeline.run_time.split(":"))
    zone = zoneinfo.ZoneInfo(pipeline.timezone)
    for offset in range(8):
        day = (WEEK_OF + timedelta(days=offset)).date()
        run = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        if WEEKDAYS[datetime(day.year, day.month, day.day, tzinfo=zone).weekday()] in pipeline.run_days and run >= WEEK_OF:
            return run
    raise AssertionError(f"{stack} has no run in the week of {WEEK_OF:%Y-%m-%d}")


def first_pause(stack: str) -> datetime:
    """When the window around the stack's first run closes (the run itself if the stack never pauses)."""
    run = first_run(stack)
    _, pause = DutyCycle.from_settings(stack_settings(stack)).next_edges(run)
    return pause or run


#: Every mocked run decides its duty cycle at RUNNING_AT unless a test passes another `at` (tests/conftest.py).
RUNNING_AT = first_run("dev")  # shipped: Mon 2026-11-23 04:30 UTC (10:00 IST)
PAUSED_AT = first_pause("dev")  # shipped: Mon 2026-11-23 07:45 UTC, the end of that run's window


#: The minimal stack config the code's defaults complete: the shipped reference setup (weekdays 10:00 IST), whatever
#: a fork's stack files say. Unit tests of the code build on it rather than on Pulumi.<stack>.yaml.
FIXTURE_CONFIG = {"aws:region": "us-east-1", "mwaa-platform:owner": "team", "mwaa-platform:costCenter": "cc"}


def fixture_settings(**sections: dict):
    """Settings from FIXTURE_CONFIG plus `sections` (e.g. pipeline={...}, dutyCycle={...})."""
    from settings import load_settings

    config = FIXTURE_CONFIG | {f"mwaa-platform:{name}": value for name, value in sections.items()}
    return load_settings("dev", config.get)


#: The shipped DAG's file: the reference folder holds it and the YAML workflows' loader, which loads none there.
SHIPPED_DAG = "lambda_glue_pipeline.py"
SHIPPED_DAG_FILES = (SHIPPED_DAG, "load_yaml_workflows.py")


def reset_to_reference(project) -> None:
    """Make a copied project's dev stack the shipped reference (schedule, windows, requirements, the shipped DAG alone)
    for tests about it: a fork's own DAGs, checked against the reference windows, would fail for reasons of their own."""
    import shutil

    import yaml

    for dag_file in (project / "dags").glob("*.py"):
        if dag_file.name not in SHIPPED_DAG_FILES:
            dag_file.unlink()
    shutil.rmtree(project / "dags" / "workflows", ignore_errors=True)

    project_file = project / "Pulumi.yaml"
    document = yaml.safe_load(project_file.read_text())
    document["config"]["mwaa-platform:pipeline"] = {"value": {"runDays": ["MON", "TUE", "WED", "THU", "FRI"], "runTime": "10:00",
                                                              "timezone": "Asia/Kolkata"}}  # fmt: skip
    project_file.write_text(yaml.safe_dump(document, sort_keys=False))
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["mwaa-platform:dutyCycle"] = {"enabled": True}
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    version = stack_settings("dev", project).mwaa.airflow_version
    (project / "dags" / "requirements.txt").write_text(
        f'--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-{version}/constraints-3.12.txt"\n'
        "apache-airflow-providers-amazon\n"
    )


def other_region(region: str) -> str:
    """A region that is not `region`: for tests of what moving a stack changes, whichever region the fork has."""
    return "ap-northeast-1" if region != "ap-northeast-1" else "eu-central-1"


def set_region(project: Path, stack: str, region: str) -> None:
    """Move a copied project's stack to `region` (its `aws:region`), as a fork's edit would."""
    import yaml

    stack_file = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["aws:region"] = region
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


def with_setting(section: str, key: str, value: object) -> dict:
    """dev's config with one setting changed (`section.key: value`)."""
    import copy

    from offline.stacks import stack_config

    config = copy.deepcopy(stack_config("dev"))
    config.setdefault(f"mwaa-platform:{section}", {})[key] = value
    return config


def copy_project(tmp_path: Path) -> Path:
    """The program's own files, without the venvs, so edits stay in the copy."""
    import shutil

    from offline.stacks import PROJECT_DIR

    target = tmp_path / "project"
    ignore = shutil.ignore_patterns(".venv", ".venv-airflow", ".git", "__pycache__", "tests", "out", ".cache")
    shutil.copytree(PROJECT_DIR, target, ignore=ignore)
    return target


#: A region pricing.json prices in full: tests of the cost arithmetic or the budget run the stack's own config there, so
#: they hold in a fork whose region has no prices yet (the main job reports that, every missing figure named).
PRICED_REGION = "us-east-1"


def in_priced_region(stack: str, section: str | None = None, key: str | None = None, value: object = None) -> dict:
    """The stack's config (with `section.key: value` set, if given) in PRICED_REGION."""
    import copy

    from offline.stacks import stack_config

    config = copy.deepcopy(stack_config(stack)) | {"aws:region": PRICED_REGION}
    if section is not None and key is not None:
        config.setdefault(f"mwaa-platform:{section}", {})[key] = value
    return config


def priced(run):
    """The monthly estimate of a recorded run."""
    from policies.rules.library.cost_model import estimate

    return estimate((r.type, r.inputs) for r in run.resources)


#: The states tests/golden/plans.json records: each stack at its first run, dev also at that run's pause.
GOLDEN_STATES = {"dev/running": RUNNING_AT, "dev/paused": PAUSED_AT, "prod/running": RUNNING_AT}


def write_golden(path: Path = Path(__file__).parent / "golden" / "plans.json") -> None:
    """Record dev's and prod's plans as they are now (after an intended change to them)."""
    import json

    from offline.harness import run_stack

    plans = {state: plan_fingerprint(run_stack(state.split("/")[0], at=at)) for state, at in GOLDEN_STATES.items()}
    path.write_text(json.dumps(plans, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["golden"]:
        sys.exit("usage: python -m tests.stackkit golden   (rewrite tests/golden/plans.json from dev and prod as they are)")
    write_golden()
