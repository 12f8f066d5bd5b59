"""The scheduler's cheap check (reconcile.py): apply only when the state or the last update says so."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from duty_cycle import DutyCycle
from offline.stacks import PROJECT_DIR, stack_settings
from reconcile import LONGEST_JOB_MINUTES, decide, repair
from tests.stackkit import PAUSED_AT, RUNNING_AT

ENV, NAT = "aws:mwaa/environment:Environment", "aws:ec2/natGateway:NatGateway"
DEV = DutyCycle.from_settings(stack_settings("dev"))
OK = [{"kind": "update", "result": "succeeded", "startTime": "2026-11-23T03:30:00Z"}]


def state(*types: str, pending: bool = False) -> dict:
    deployment = {"resources": [{"type": t} for t in types]}
    if pending:
        deployment["pending_operations"] = [{"type": "creating"}]
    return {"version": 3, "deployment": deployment}


@pytest.mark.parametrize(
    ("at", "exported", "history", "apply", "why"),
    [
        (RUNNING_AT, state(ENV, NAT), OK, False, "already running"),
        (PAUSED_AT, state("aws:s3/bucket:Bucket"), OK, False, "already paused"),
        (RUNNING_AT, state("aws:s3/bucket:Bucket"), OK, True, "want the environment running and the stack has none"),  # a dropped resume
        (PAUSED_AT, state(ENV, NAT), OK, True, "paused and it still has the environment"),  # a dropped pause
        (PAUSED_AT, state(NAT), OK, True, "still has NAT egress"),  # a pause that stopped halfway
        (RUNNING_AT, state(ENV, NAT), [{"result": "failed", "startTime": "t"}], True, "the last update failed"),  # e.g. a create timeout
        (RUNNING_AT, state(ENV, NAT, pending=True), OK, True, "interrupted"),
        (RUNNING_AT, {}, [], True, "has none"),  # a stack never deployed
    ],
)
def test_it_applies_exactly_when_something_is_off(at, exported, history, apply, why):
    decided, reason = decide(DEV, at, exported, history)
    assert decided is apply and why in reason


def test_the_command_writes_the_step_output(tmp_path: Path):
    (tmp_path / "state.json").write_text(json.dumps(state(ENV, NAT)))
    (tmp_path / "history.json").write_text(json.dumps(OK))
    output = tmp_path / "github_output"
    command = [sys.executable, "-m", "reconcile", "dev", "--export", str(tmp_path / "state.json"), "--history",
               str(tmp_path / "history.json"), "--at", PAUSED_AT.isoformat(), "--github-output", str(output)]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"dev at {PAUSED_AT:%a %Y-%m-%d %H:%M} UTC: apply: the windows want the stack paused" in done.stdout
    # At the pause with the environment still there: the job exports Airflow's state before the up deletes it.
    assert output.read_text() == "apply=true\nrepair=\nwant=paused\nenvironment=true\n"
    (tmp_path / "state.json").write_text("not json")
    bad = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "state.json: can't read the stack export" in bad.stderr


def test_the_check_needs_only_what_the_scheduler_installs(tmp_path: Path):
    # duty-cycle.yml installs pulumi, pydantic and PyYAML for this step, nothing else: no pulumi-aws, pack or moto.
    (tmp_path / "state.json").write_text(json.dumps(state()))
    (tmp_path / "history.json").write_text(json.dumps(OK))
    blocked = "import sys, runpy; sys.modules.update(dict.fromkeys(['pulumi_aws', 'pulumiverse_time', 'pulumi_policy', 'moto', 'boto3']))"
    code = f"{blocked}; runpy.run_module('reconcile', run_name='__main__')"
    args = ["dev", "--export", str(tmp_path / "state.json"), "--history", str(tmp_path / "history.json"), "--at", RUNNING_AT.isoformat()]
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "apply: the windows want the environment running and the stack has none" in done.stdout


def deployed(commit: str | None, *earlier: dict) -> list[dict]:
    """A history whose newest update succeeded at `commit` (`git.head`, which the CLI records in each update's
    environment: pulumi's apitype `GitHead`), newest first."""
    environment = {"git.head": commit} if commit else {}
    return [{"kind": "update", "result": "succeeded", "startTime": "t", "environment": environment}, *earlier]


@pytest.mark.parametrize(
    ("history", "apply", "why"),
    [
        (deployed("abc"), False, "already running"),
        (deployed("old"), True, "the deployed commit old is not the branch head abc: a push's deploy was cancelled or still waits"),
        (deployed(None), True, "the deployed commit (none recorded) is not the branch head abc"),
        # A refresh since (the drift check's) doesn't hide which commit the stack runs.
        ([{"kind": "refresh", "result": "succeeded", "startTime": "t"}, *deployed("old")], True, "the deployed commit old"),
    ],
)
def test_a_push_whose_deploy_was_cancelled_is_deployed_by_the_next_check(history, apply, why):
    """GitHub keeps one pending job per concurrency group and cancels it when another queues: a push's deploy waiting
    behind a resume is cancelled by the recheck. The recheck then finds the branch head undeployed and deploys it."""
    decided, reason = decide(DEV, RUNNING_AT, state(ENV, NAT), history, head="abc")
    assert decided is apply and why in reason


def test_the_scheduler_asks_about_the_branch_head():
    (job,) = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "duty-cycle.yml").read_text())["jobs"].values()
    check = next(step for step in job["steps"] if step.get("id") == "check")["run"]
    # GITHUB_SHA of a scheduled run is the default branch's last commit (GitHub's "Events that trigger workflows").
    assert '--head "$GITHUB_SHA"' in check and "--page-size 10" in check


# --- a job killed mid-update: the recorded state of one, and what the check does about it ----------------------------

#: `pulumi stack export` (version 3) of dev killed while creating its environment: the resource's create is pending.
INTERRUPTED = {
    "version": 3,
    "deployment": {
        "manifest": {"time": "2026-11-23T03:41:12Z", "magic": "m", "version": "v3.272.0"},
        "resources": [{"urn": "urn:pulumi:dev::mwaa-platform::aws:s3/bucket:Bucket::dags-storage-bucket", "type": "aws:s3/bucket:Bucket"}],
        "pending_operations": [
            {"resource": {"urn": "urn:pulumi:dev::mwaa-platform::mwaa:airflow:AirflowEnvironment"
                                 "$aws:mwaa/environment:Environment::airflow-environment",
                          "type": "aws:mwaa/environment:Environment", "custom": True}, "type": "creating"}
        ],
    },
}  # fmt: skip


def in_progress(started: datetime) -> list[dict]:
    """`pulumi stack history --json`: the newest update still "in-progress" (its job was killed), a success before it."""
    return [{"kind": "update", "result": "in-progress", "startTime": f"{started:%Y-%m-%dT%H:%M:%SZ}"}, *deployed("abc")]


def test_a_lock_older_than_any_job_is_released_then_the_stack_updated():
    action, why = repair(state(ENV, NAT), in_progress(RUNNING_AT - timedelta(minutes=LONGEST_JOB_MINUTES + 5)), RUNNING_AT)
    assert action == "cancel" and "left in progress 185 min ago by a job that was killed" in why


def test_a_younger_update_in_progress_pages_a_person_instead_of_cancelling_it(tmp_path: Path):
    history = in_progress(RUNNING_AT - timedelta(minutes=20))  # no job of the group runs it: someone outside CI does
    assert repair(state(ENV, NAT), history, RUNNING_AT)[0] == "page"
    (tmp_path / "state.json").write_text(json.dumps(state(ENV, NAT)))
    (tmp_path / "history.json").write_text(json.dumps(history))
    command = [sys.executable, "-m", "reconcile", "dev", "--export", str(tmp_path / "state.json"), "--history",
               str(tmp_path / "history.json"), "--at", RUNNING_AT.isoformat(), "--github-output", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "an update started 20 min ago is still in progress" in done.stderr
    assert not (tmp_path / "out").exists()  # nothing for the job's later steps to act on: it fails here, and GitHub says so


def test_an_interrupted_update_is_refreshed_then_applied(tmp_path: Path):
    assert repair(INTERRUPTED, deployed("abc"), RUNNING_AT)[0] == "refresh"
    (tmp_path / "state.json").write_text(json.dumps(INTERRUPTED))
    (tmp_path / "history.json").write_text(json.dumps(deployed("abc")))
    command = [sys.executable, "-m", "reconcile", "dev", "--export", str(tmp_path / "state.json"), "--history",
               str(tmp_path / "history.json"), "--at", RUNNING_AT.isoformat(), "--github-output", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (
        tmp_path / "out"
    ).read_text() == "apply=true\nrepair=refresh\nwant=running\nenvironment=false\n"  # the up creates it: then the restore
    assert repair(state(ENV, NAT), deployed("abc"), RUNNING_AT) == ("", "")  # a healthy stack: nothing to repair


def test_the_scheduler_repairs_in_order_and_no_job_outlives_the_lock_age():
    workflows = {p.name: yaml.safe_load(p.read_text()) for p in (PROJECT_DIR / ".github" / "workflows").glob("*.yml")}
    (job,) = workflows["duty-cycle.yml"]["jobs"].values()
    steps = [step.get("name") or step.get("uses", "") for step in job["steps"]]
    cancel = steps.index("release the lock a killed job left (pulumi cancel)")
    refresh = steps.index("read back what an interrupted update left pending (pulumi refresh)")
    gate = steps.index("gate (a mandatory violation stops the job before any change)")
    credentials = max(i for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith("aws-actions/"))  # Cloud's
    check = steps.index("check (the stack's state and history only; with Pulumi Cloud, no AWS login)")
    assert check < cancel < credentials < refresh < gate  # refresh reads AWS
    assert job["steps"][refresh]["run"].startswith("pulumi refresh --yes --skip-preview --clear-pending-creates")
    updating = [j for w in workflows.values() for name, j in w["jobs"].items() if name.startswith(("deploy-", "reconcile"))]
    assert updating and all(j["timeout-minutes"] <= LONGEST_JOB_MINUTES for j in updating)  # an older update is stale
