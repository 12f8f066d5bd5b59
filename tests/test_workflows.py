"""Your fork's CI, checked as data so it can't silently rot: jobs, their stacks, pack configs, approval, drift, versions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from duty_cycle import DutyCycle
from offline.harness import PROJECT_DIR, stack_settings
from tests.test_duty_cycle import workflow

STACKS = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
#: The current major version of each action (checked 2026-11: checkout v7, setup-python v7, credentials v6, pulumi v7).
CURRENT = {"actions/checkout": "v7", "actions/setup-python": "v7", "aws-actions/configure-aws-credentials": "v6", "pulumi/actions": "v7"}


def pulumi_steps(job: dict) -> list[dict]:
    return [step["with"] for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")]


def test_every_action_is_on_its_current_major():
    for name in ("pulumi.yml", "duty-cycle.yml"):
        for job in workflow(name)["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    action, version = step["uses"].split("@")
                    assert CURRENT[action] == version, (name, step["uses"])


def test_the_whole_path_has_its_jobs():
    jobs = workflow("pulumi.yml")["jobs"]
    assert set(jobs) == {"offline", "preview", "deploy-dev", "deploy-prod", "drift"}
    assert jobs["preview"]["strategy"]["matrix"]["stack"] == STACKS == jobs["drift"]["strategy"]["matrix"]["stack"]
    assert [s["run"] for s in jobs["offline"]["steps"] if "run" in s] == ["bin/test", "bin/offline"]


def test_prod_deploys_the_commit_dev_ran_after_an_approval():
    prod = workflow("pulumi.yml")["jobs"]["deploy-prod"]
    assert prod["needs"] == "deploy-dev" and prod["environment"] == "prod"
    assert workflow("pulumi.yml")["jobs"]["deploy-dev"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_every_pulumi_command_runs_the_pack_with_its_stacks_config():
    jobs = {**workflow("pulumi.yml")["jobs"], **{f"duty-cycle-{k}": v for k, v in workflow("duty-cycle.yml")["jobs"].items()}}
    for name, job in jobs.items():
        for step in pulumi_steps(job):
            stack = re.search(r"'(dev|prod)'\)?\s*}}$", step["stack-name"])
            expected = f"policies/config/{stack[1]}.json" if stack else "policies/config/${{ matrix.stack }}.json"
            assert (step["policyPacks"], step["policyPackConfigs"]) == ("policies", expected), name
            if step["command"] == "up":
                group = job["concurrency"]["group"]
                assert group == (f"pulumi-{stack[1]}" if stack else "pulumi-${{ matrix.stack }}"), name
                assert job["concurrency"]["cancel-in-progress"] is False


def test_drift_is_checked_daily_against_aws_and_fails_loudly():
    document = workflow("pulumi.yml")
    drift = document["jobs"]["drift"]
    (step,) = pulumi_steps(drift)
    assert (step["command"], step["refresh"], step["expect-no-changes"]) == ("preview", True, True)
    assert any("gh issue create" in s.get("run", "") and s.get("if") == "failure()" for s in drift["steps"])
    (schedule,) = document["on"]["schedule"]
    minute, hour = map(int, schedule["cron"].split()[:2])
    for stack in STACKS:  # a drift check during a duty-cycle window or at its edge would see a pause or resume in flight
        cycle = DutyCycle.from_settings(stack_settings(stack))
        for day in range(23, 30):
            at = datetime(2026, 11, day, hour, minute, tzinfo=UTC)
            assert not cycle.windows or not cycle.running(at) or cycle.always_on, (stack, at)
            assert f"{minute} {hour} " not in " ".join(cycle.cron_lines()), stack
