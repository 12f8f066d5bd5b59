"""The offline gate on real and broken programs, end to end through the real pack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from offline.gate import PolicyPackProcess, run_gate, stack_pack_config
from offline.harness import StackRun, run_stack
from offline.stacks import PROJECT_DIR
from tests.clikit import offline
from tests.stackkit import copy_project

MANDATORY_BY_DESIGN = {
    "s3-bucket-versioning-enabled",
    "s3-public-access-blocked",
    "mwaa-environment-class",
    "mwaa-source-bucket-guarded",
    "mwaa-private-subnets-route-to-nat",
    "mwaa-public-webserver-has-igw",
    "mwaa-serverless-definition-guarded",
    "mwaa-serverless-role-least-privilege",
    "deployment-mode-allowed",
}


#: The one note the real stacks get: dev uses MWAA's AWS-owned key, which its pack config makes advisory (prod: mandatory).
EXPECTED_NOTES = {
    "dev": [("mwaa-customer-managed-key", "advisory"), ("sns-topic-has-subscriber", "advisory")],
    "lite": [("sns-topic-has-subscriber", "advisory")],  # like dev, nobody subscribed yet
    "prod": [("sns-subscriber-can-confirm", "advisory")],  # its placeholder address, until a team sets its own
}
#: A paused dev has no environment to note, but still an alert topic nobody subscribed to.
PAUSED_NOTES = [("sns-topic-has-subscriber", "advisory")]


def test_the_real_stacks_pass(each_stack: StackRun):
    result = run_gate(each_stack, *stack_pack_config(each_stack.stack))
    assert result.passed and not result.mandatory, result.mandatory
    assert result.resources == len(each_stack.resources)


@pytest.mark.reference
def test_the_shipped_stacks_pass_with_nothing_but_the_expected_notes(each_stack: StackRun):
    result = run_gate(each_stack, *stack_pack_config(each_stack.stack))
    assert [(v.policy, v.level) for v in result.violations] == EXPECTED_NOTES[each_stack.stack] and result.passed


@pytest.mark.parametrize("stack", ["dev", "prod", "lite"])
def test_a_first_preview_still_decides_every_guardrail(stack: str):
    result = run_gate(run_stack(stack, preview=True), *stack_pack_config(stack))
    assert result.passed
    # Only the IAM rule reads policy JSON that embeds ARNs not yet known; the SDK makes that advisory.
    deployed = {(v.policy, v.level) for v in run_gate(run_stack(stack), *stack_pack_config(stack)).violations}
    notes = [v for v in result.violations if (v.policy, v.level) not in deployed]
    assert {v.policy for v in notes} == {"iam-no-wildcard-actions"}
    assert all(v.level == "advisory" and "can't run policy" in v.message for v in notes)
    assert not MANDATORY_BY_DESIGN & {v.policy for v in result.violations}


def broken_project(tmp_path: Path) -> Path:
    """A copy of this program that asks for mw1.large and suspends bucket versioning."""
    project = copy_project(tmp_path)
    stack_file = project / "Pulumi.dev.yaml"
    config = yaml.safe_load(stack_file.read_text())
    config["config"]["mwaa-platform:mwaa"]["environmentClass"] = "mw1.large"
    stack_file.write_text(yaml.safe_dump(config))
    bucket_code = project / "components" / "secure_bucket.py"
    bucket_code.write_text(bucket_code.read_text().replace('{"status": "Enabled"}', '{"status": "Suspended"}'))
    return project


@pytest.mark.reference
def test_the_gate_fails_a_broken_program_with_the_right_messages(tmp_path: Path):
    project = broken_project(tmp_path)
    done = offline("gate", "dev", "--project", str(project), "--at", "2026-11-23T04:30Z")
    assert done.returncode == 1, done.stderr
    assert "[mandatory]  mwaa-environment-class" in done.stdout
    assert "environmentClass mw1.large is not allowed; allowed: mw1.small" in done.stdout
    assert (
        "bucket Bucket 'dags-storage-bucket': versioning is Suspended; every versioning setting on a bucket must be the literal 'Enabled'"
        in done.stdout
    )
    assert "Environment 'airflow-environment' reads DAGs from a bucket that is not guarded" in done.stdout
    assert "[advisory]  monthly-cost-budget" in done.stdout  # mw1.large also blows dev's $420 budget
    assert "dev: FAILED: 4 mandatory, 3 advisory" in done.stdout  # class, 2 buckets, source bucket; budget, AWS-owned key, topic


@pytest.mark.reference
def test_the_gate_speaks_json_and_passes_the_real_stacks_in_every_state():
    done = offline("gate", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {stack: set(entry["states"]) for stack, entry in report.items()} == {
        "dev": {"running", "paused"},
        "lite": {"serverless"},
        "prod": {"running"},
    }
    for stack, entry in report.items():
        for name, state in entry["states"].items():
            found = [(v["policy"], v["level"]) for v in state["policy"]["violations"]]
            expected = PAUSED_NOTES if name == "paused" else EXPECTED_NOTES[stack]
            assert state["policy"]["passed"] and found == expected, (stack, name, found)


def test_the_pack_process_stops_even_when_a_call_fails():
    pack = PolicyPackProcess()
    with pytest.raises(RuntimeError, match="boom"), pack:
        raise RuntimeError("boom")
    assert pack.process.poll() is not None


def test_a_pack_that_does_not_start_is_a_clear_error(tmp_path: Path):
    (tmp_path / "__main__.py").write_text("raise SystemExit('no pack here')\n")
    with pytest.raises(RuntimeError, match="did not print a port"):
        PolicyPackProcess(tmp_path).__enter__()


def test_the_pack_also_starts_the_way_the_cli_launches_it(tmp_path: Path):
    # pulumi-analyzer-policy-python runs `python -u -m pulumi.policy <engine> <pack dir>` from elsewhere.
    launched = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(PROJECT_DIR / "policies")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert launched.stdout.readline().strip().isdigit(), launched.stderr.read()
    finally:
        launched.terminate()
        launched.wait(timeout=10)
