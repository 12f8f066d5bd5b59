"""Your fork's CI, checked as data so it can't silently rot: jobs, their stacks, pack configs, approval, drift, and the
safety rules of the real path (tests/workflowkit.py), each shown able to fail by a mutation."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from duty_cycle import DutyCycle
from offline.stacks import PROJECT_DIR, stack_names, stack_settings
from tests.stackkit import copy_project, other_region, reset_to_reference, set_region
from tests.workflowkit import WORKFLOWS_DIR, cli_pin, problems, pulumi_steps, workflow, workflows

STACKS = stack_names()


def test_the_real_workflows_keep_every_safety_rule():
    assert problems(workflows()) == []


def mutated(file: str, job: str, change) -> list[str]:
    documents = copy.deepcopy(workflows())
    change(documents[file]["jobs"][job])
    return problems(documents)


def step_of(job: dict, prefix: str, command: str | None = None) -> dict:
    return next(
        s for s in job["steps"] if s.get("uses", "").startswith(prefix) and (command is None or s["with"].get("command") == command)
    )


def _drop(command: str):
    return lambda job: job["steps"].remove(step_of(job, "pulumi/actions@", command))


def _gate(**change):
    return lambda job: step_of(job, "pulumi/actions@", "preview").update(change)


def _gate_with(**change):
    return lambda job: step_of(job, "pulumi/actions@", "preview")["with"].update(change)


def _login(**change):
    return lambda job: step_of(job, "aws-actions/")["with"].update(change)


def _pulumi_with(**change):
    return lambda job: step_of(job, "pulumi/actions@")["with"].update(change)


DEPLOY_ROLE, PREVIEW_ROLE = "${{ vars.AWS_DEPLOY_ROLE_ARN }}", "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def _unpin_time(job: dict) -> None:
    job["steps"] = [step for step in job["steps"] if "DUTY_CYCLE_AT" not in step.get("run", "")]


MUTATIONS = {
    # An `up` without its gate: the Automation API's `up` skips the preview, so stack policies would run after the change.
    "prod up without gate": ("pulumi.yml", "deploy-prod", _drop("preview"), "no gated `pulumi preview`"),
    "duty-cycle up without gate": ("duty-cycle.yml", "reconcile", _drop("preview"), "no gated `pulumi preview`"),
    "gate that can't stop the job": ("pulumi.yml", "deploy-dev", _gate(**{"continue-on-error": True}), "no gated `pulumi preview`"),
    "gate with another config": ("pulumi.yml", "deploy-dev", _gate_with(policyPackConfigs="x.json"), "no gated `pulumi preview`"),
    # The decision time not pinned: the preview and the up could straddle a window edge.
    "decision time unpinned": ("duty-cycle.yml", "reconcile", _unpin_time, "DUTY_CYCLE_AT is not pinned"),
    # A session shorter than the job: an MWAA delete that outlives it leaves NAT gateways billing.
    "one-hour session": ("pulumi.yml", "deploy-dev", _login(**{"role-duration-seconds": 3600}), "ends before the job's timeout"),
    "CLI pin drifts": (
        "pulumi.yml",
        "drift",
        _pulumi_with(**{"pulumi-version": "3.1.0"}),
        "CLI 3.1.0",
    ),
    "PR preview on the deploy role": (
        "pulumi.yml",
        "preview",
        _login(**{"role-to-assume": DEPLOY_ROLE}),
        "uses AWS_PREVIEW",
    ),
    "deploy on the read-only role": (
        "pulumi.yml",
        "deploy-dev",
        _login(**{"role-to-assume": PREVIEW_ROLE}),
        "uses AWS_DEPLOY",
    ),
    "movable tag": ("pulumi.yml", "offline", lambda j: j["steps"][0].update({"uses": "actions/checkout@v7"}), "not pinned to a commit SHA"),
    "persisted token": ("pulumi.yml", "offline", lambda j: j["steps"][0]["with"].pop("persist-credentials"), "keeps the token"),
    "preview without the pack": (
        "pulumi.yml",
        "preview",
        lambda j: step_of(j, "pulumi/actions@")["with"].pop("policyPacks"),
        "without the pack",
    ),
    "gate under another condition": ("duty-cycle.yml", "reconcile", _gate(**{"if": "always()"}), "no gated `pulumi preview`"),
    "up outside the stack's lock": ("duty-cycle.yml", "reconcile", lambda j: j.pop("concurrency"), "concurrency group"),
    # A team whose state lives in its own bucket: every Pulumi step must go there, and be able to decrypt it.
    "up on Pulumi Cloud only": (
        "pulumi.yml",
        "deploy-prod",
        lambda j: step_of(j, "pulumi/actions@", "up")["with"].pop("cloud-url"),
        "ignores the backend the repository chooses",
    ),
    "no passphrase": ("duty-cycle.yml", "reconcile", lambda j: j["env"].pop("PULUMI_CONFIG_PASSPHRASE"), "can't decrypt"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_safety_rule_fails_when_broken(mutation):
    file, job, change, expected = MUTATIONS[mutation]
    found = mutated(file, job, change)
    assert any(expected in line and f"{file}: {job}:" in line for line in found), found


def test_permissions_are_granted_per_job():
    documents = copy.deepcopy(workflows())
    documents["pulumi.yml"]["permissions"] = {"contents": "read", "id-token": "write"}
    assert problems(documents) == ["pulumi.yml: workflow-level permissions must be {}; grant them per job"]


def test_every_pinned_action_names_its_release():
    for path in sorted(WORKFLOWS_DIR.glob("*.yml")):
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), (path.name, line)


@pytest.mark.reference  # the shipped pin; the rule that every step installs requirements.txt's is in workflowkit
def test_the_cli_pin_is_the_sdk_pin():
    assert cli_pin() == "3.272.0"  # requirements.txt; every pulumi/actions step must install this CLI
    for document in workflows().values():
        for job in document["jobs"].values():
            assert {step["pulumi-version"] for _, step in pulumi_steps(job)} <= {cli_pin()}


@pytest.mark.skipif(shutil.which("zizmor") is None and not (PROJECT_DIR / ".venv/bin/zizmor").exists(), reason="zizmor not installed")
def test_zizmor_finds_nothing_at_medium_or_high():
    zizmor = shutil.which("zizmor") or str(PROJECT_DIR / ".venv/bin/zizmor")
    done = subprocess.run([zizmor, "--offline", "--min-severity", "medium", str(WORKFLOWS_DIR)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_whole_path_has_its_jobs():
    jobs = workflow("pulumi.yml")["jobs"]
    assert set(jobs) == {"offline", "preview", "deploy-dev", "deploy-prod", "drift"}
    stacks = lambda job: [entry["stack"] for entry in jobs[job]["strategy"]["matrix"]["include"]]  # noqa: E731
    # Previews and drift checks cover what CI deploys: a stack nothing creates has no state to preview.
    deployed = [s for s in STACKS if f"deploy-{s}" in jobs or not DutyCycle.from_settings(stack_settings(s)).always_on]
    assert stacks("preview") == deployed == stacks("drift")
    # What a fork's CI runs must pass on a fork: its suite without the tests that pin our shipped values.
    assert [s["run"] for s in jobs["offline"]["steps"] if "run" in s] == ['bin/test -m "not reference"', "bin/offline"]


def test_a_stack_joins_the_previews_and_drift_checks_with_its_deploy_job(tmp_path: Path):
    project = copy_project(tmp_path)
    pulumi_yml = project / ".github" / "workflows" / "pulumi.yml"
    text = pulumi_yml.read_text()
    deploy_dev = text[text.index("  deploy-dev:") : text.index("  deploy-prod:")]
    pulumi_yml.write_text(text.replace("  deploy-prod:", deploy_dev.replace("deploy-dev", "deploy-lite") + "  deploy-prod:", 1))
    command = [sys.executable, "-m", "offline.workflows", "--project", str(project)]
    assert subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120).returncode == 0
    rewritten = workflows(project / ".github" / "workflows")["pulumi.yml"]["jobs"]
    assert "lite" in [entry["stack"] for entry in rewritten["preview"]["strategy"]["matrix"]["include"]]


def test_prod_deploys_the_commit_dev_ran_after_an_approval():
    prod = workflow("pulumi.yml")["jobs"]["deploy-prod"]
    assert prod["needs"] == "deploy-dev" and prod["environment"] == "prod"
    assert workflow("pulumi.yml")["jobs"]["deploy-dev"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_every_pulumi_command_runs_the_pack_with_its_stacks_config():
    jobs = {**workflow("pulumi.yml")["jobs"], **{f"duty-cycle-{k}": v for k, v in workflow("duty-cycle.yml")["jobs"].items()}}
    for name, job in jobs.items():
        for _, step in pulumi_steps(job):
            if "command" not in step:
                continue  # installs the CLI only
            stack = re.search(r"'(dev|prod)'\)?\s*}}$", step["stack-name"])
            expected = f"policies/config/{stack[1]}.json" if stack else "policies/config/${{ matrix.stack }}.json"
            assert (step["policyPacks"], step["policyPackConfigs"]) == ("policies", expected), name
            if step["command"] == "up":
                group = job["concurrency"]["group"]
                assert group == (f"pulumi-{stack[1]}" if stack else "pulumi-${{ matrix.stack }}"), name
                assert job["concurrency"]["cancel-in-progress"] is False


def test_drift_is_checked_daily_against_aws_and_fails_loudly():  # at a generated hour outside every window
    document = workflow("pulumi.yml")
    drift = document["jobs"]["drift"]
    ((_, step),) = pulumi_steps(drift)
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


def test_the_workflows_follow_the_stacks_and_a_command_rewrites_them(tmp_path: Path):
    project = copy_project(tmp_path)
    region = other_region(stack_settings("dev").region)
    set_region(project, "dev", region)
    reset_to_reference(project)  # the shipped schedule and windows, whatever the fork running these tests has
    project_file = project / "Pulumi.yaml"
    project_file.write_text(project_file.read_text().replace("10:00", "09:00"))
    command = [sys.executable, "-m", "offline.workflows", "--project", str(project)]
    check = subprocess.run([*command, "--check"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert "stale: .github/workflows/duty-cycle.yml does not follow the stacks; run `bin/offline workflows`" in check.stdout
    assert "stale: .github/workflows/pulumi.yml" in check.stdout  # dev's region
    assert "stale: docs/real-path.md does not follow the stacks" in check.stdout  # its window and DUTY_CYCLE_AT example
    assert subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120).returncode == 0
    assert subprocess.run([*command, "--check"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120).returncode == 0
    rewritten = workflows(project / ".github" / "workflows")
    settings = stack_settings("dev", project)
    assert [s["cron"] for s in rewritten["duty-cycle.yml"]["on"]["schedule"]] == DutyCycle.from_settings(settings).cron_lines()
    assert rewritten["duty-cycle.yml"]["on"]["schedule"][0]["cron"] == "30 2 * * 1,2,3,4,5"  # 09:00 IST is 03:30 UTC; an hour's lead
    assert rewritten["pulumi.yml"]["jobs"]["preview"]["strategy"]["matrix"]["include"][0] == {"stack": "dev", "region": region}
    dev_login = step_of(rewritten["pulumi.yml"]["jobs"]["deploy-dev"], "aws-actions/")
    assert dev_login["with"]["aws-region"] == region
    assert problems(rewritten) == []  # still safe
    doc = (project / "docs" / "real-path.md").read_text()  # what a person following the doc runs: a time dev is up
    assert "`DUTY_CYCLE_AT=2026-11-23T03:30Z pulumi up -s dev`" in doc and "dev: 02:30-" in doc
