"""Copy the repository to a folder and apply the fork-like edits described in README.md beside this file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SKIPPED = shutil.ignore_patterns(".venv", ".venv-airflow", ".git", "__pycache__", ".pytest_cache", ".ruff_cache")


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
    requirements.write_text(requirements.read_text() + "apache-airflow-providers-slack\n")
    # As a fork does after such edits: the workflows follow the stacks (bin/offline says so otherwise).
    subprocess.run([sys.executable, "-m", "offline.workflows", "--project", str(target)], cwd=target, check=True, capture_output=True)
    return target


if __name__ == "__main__":
    print(apply(Path(sys.argv[1])))
