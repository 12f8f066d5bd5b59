"""Every failure says why: bad input is one message and exit 2, a failed check exit 1, a bug keeps its traceback (3)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pulumi
import pytest
import yaml

from offline.harness import run_stack
from offline.stacks import PROJECT_DIR, stack_names
from tests.clikit import offline
from tests.stackkit import RUNNING_AT, copy_project, set_region, with_setting


def edit_stack(project: Path, section: str, key: str, value: object) -> Path:
    path = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"][section if ":" in section else f"mwaa-platform:{section}"][key] = value
    path.write_text(yaml.safe_dump(document))
    return project


def assert_bad_input(done: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, one `error:` message holding every fragment, no traceback anywhere."""
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.count("error: ") == 1, done.stderr
    message = done.stderr[done.stderr.index("error: ") :]
    for fragment in fragments:
        assert fragment in message, done.stderr


@pytest.mark.reference  # dev's shipped class, mw1.small, and its limits
@pytest.mark.parametrize("command", ["plan", "gate", "cost", "dags", "requirements", "pipeline", "duty-cycle"])
def test_a_bad_setting_is_one_message_in_every_command(tmp_path: Path, command: str):
    project = edit_stack(copy_project(tmp_path), "mwaa", "maxWorkers", 30)
    assert_bad_input(offline(command, "dev", "--project", str(project)), "mwaa-platform:mwaa: maxWorkers is 30; mw1.small allows 1 to 25")


def test_a_missing_stack_file(tmp_path: Path):
    assert_bad_input(offline("plan", "staging"), f"Pulumi.staging.yaml not found; stacks here: {', '.join(stack_names())}")


def test_an_unpriced_region_is_reported_for_every_stack_and_the_rest_goes_on(tmp_path: Path):
    project = copy_project(tmp_path)
    for stack in ("dev", "prod"):
        set_region(project, stack, "eu-west-1")
    done = offline("cost", "--project", str(project), "--at", RUNNING_AT.isoformat())  # dev's first run: both stacks up
    assert done.returncode == 1, done.stderr  # a check failed (the cost is incomplete), not a crash or bad input
    assert done.stdout.count('INCOMPLETE: no price for regions["eu-west-1"].mwaa_environment_hour[') == 2  # dev and prod
    assert "Stack prod (running" in done.stdout


def test_a_bad_pack_config(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "policies" / "config" / "dev.json").write_text(json.dumps({"mwaa-environment-class": {"enforcementLevel": "loud"}}))
    done = offline("gate", "dev", "--project", str(project), "--at", "2026-11-23T04:30Z")
    assert_bad_input(done, "policies/config/dev.json: mwaa-environment-class.enforcementLevel 'loud' must be one of")


@pytest.mark.long
@pytest.mark.tools  # the run's own error path: tests/fork's copy leaves it out
def test_a_dag_that_does_not_import_stops_the_pipeline_run_with_its_file_and_line(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "broken.py").write_text("from airflow.sdk import DAG\n\nwith DAG('x') as dag:\n    pass\ndef oops(:\n")
    done = offline("pipeline", "dev", "--project", str(project))
    assert_bad_input(
        done, "pipeline run for dev: the DAG folder doesn't import, so nothing ran:", "broken.py:5: SyntaxError: invalid syntax"
    )
    everything = offline("all", "dev", "--project", str(project), "--at", "2026-11-23T04:30Z")  # what bin/offline runs
    assert everything.returncode == 1 and "Traceback" not in everything.stderr
    assert "problem: broken.py:5: SyntaxError: invalid syntax" in everything.stdout
    assert "Pipeline run for dev skipped: the DAG check failed (above)" in everything.stdout


def test_bad_arguments_say_what_is_expected():
    done = offline("plan", "dev", "--at", "tomorrow")
    assert done.returncode == 2 and "'tomorrow' is not an ISO time such as 2026-11-23T04:30Z" in done.stderr
    assert "Traceback" not in done.stderr


def test_bin_offline_passes_the_exit_code_and_message_through(tmp_path: Path):
    project = edit_stack(copy_project(tmp_path), "mwaa", "environmentClass", "mw1.huge")
    done = subprocess.run([str(PROJECT_DIR / "bin" / "offline"), "plan", "dev", "--project", str(project)], capture_output=True, text=True)
    assert_bad_input(done, "mwaa-platform:mwaa.environmentClass: Input should be")


def test_a_bug_keeps_its_traceback_and_exit_code_3(tmp_path: Path):
    project = copy_project(tmp_path)
    network = project / "components" / "network.py"
    network.write_text(network.read_text().replace("        self.vpc_id = vpc.id", "        self.vpc_id = {}['vpc']"))
    done = offline("plan", "dev", "--project", str(project))
    assert done.returncode == 3 and "Traceback" in done.stderr and "KeyError: 'vpc'" in done.stderr
    assert "that is a bug in the offline tools, not in your input" in done.stderr


@pytest.mark.parametrize(
    "config",
    [with_setting("mwaa", "maxWorkers", 30), with_setting("dutyCycle", "windows", [{"days": ["MON"], "start": "8", "end": "9"}])],
    ids=["setting", "duty-cycle-window"],
)
def test_the_program_itself_fails_with_a_run_error(config: dict):
    # pulumi.RunError is what `pulumi up` prints as a message without a stack trace.
    with pytest.raises(pulumi.RunError):
        run_stack("dev", config=config)
