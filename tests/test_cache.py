"""The result cache (offline/cache.py) never serves a result for inputs it wasn't computed from."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from offline import cache
from offline.harness import run_stack
from offline.pipeline_run import run_key
from offline.stacks import PROJECT_DIR
from tests.clikit import cli
from tests.stackkit import PAUSED_AT, RUNNING_AT, copy_project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def pipeline_key(project: Path, scenario: str = "success") -> str:
    return run_key(run_stack("lite", project_dir=project), [scenario], "3.0.6")


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return copy_project(tmp_path_factory.mktemp("same")), copy_project(tmp_path_factory.mktemp("edited"))


def test_the_same_inputs_give_the_same_key_wherever_the_project_lives(copies):
    same, _ = copies
    assert pipeline_key(same) == pipeline_key(PROJECT_DIR)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: (p / "glue" / "transform.py").write_text((p / "glue" / "transform.py").read_text() + "\n# edited\n"),
        lambda p: (p / "functions" / "validate_input" / "handler.py").write_text(
            (p / "functions" / "validate_input" / "handler.py").read_text() + "\n# edited\n"
        ),
        pytest.param(lambda p: edit(p / "Pulumi.lite.yaml", "logRetentionDays: 7", "logRetentionDays: 14"), marks=pytest.mark.reference),
    ],
    ids=["glue script", "lambda code", "stack setting"],
)
def test_a_changed_input_of_the_stack_is_a_new_key(tmp_path: Path, change):
    project = copy_project(tmp_path)
    before = pipeline_key(project)
    change(project)
    assert pipeline_key(project) != before


def test_a_paused_and_a_running_stack_share_a_run_but_not_with_another_dag(tmp_path: Path):
    # The run deploys buckets, objects, roles, the Lambda, Glue, SNS and the schedules, never the VPC or the environment.
    project = copy_project(tmp_path)
    running, paused = (run_stack("dev", project_dir=project, at=at) for at in (RUNNING_AT, PAUSED_AT))
    assert running.of_type("aws:mwaa/environment:Environment") and not paused.of_type("aws:mwaa/environment:Environment")
    assert run_key(running, ["success"], "3.3.1") == run_key(paused, ["success"], "3.3.1")
    edit(project / "dags" / "lambda_glue_pipeline.py", '"""', '"""Edited. ')
    assert run_key(run_stack("dev", project_dir=project, at=RUNNING_AT), ["success"], "3.3.1") != run_key(running, ["success"], "3.3.1")


def test_a_changed_tool_scenario_or_version_is_a_new_key(monkeypatch, copies):
    same, _ = copies
    run = run_stack("lite", project_dir=same)
    base = cache.key("pipeline-runs", run, scenarios=["success"], version="3.0.6")
    assert cache.key("pipeline-runs", run, scenarios=["bad-input"], version="3.0.6") != base
    assert cache.key("pipeline-runs", run, scenarios=["success"], version="3.3.1") != base
    monkeypatch.setattr(cache, "PROJECT_DIR", same)  # the tools' sources, read from the copy
    assert cache.key("pipeline-runs", run, scenarios=["success"], version="3.0.6") == base
    (same / "offline" / "pipeline_run.py").write_text((same / "offline" / "pipeline_run.py").read_text() + "\n# edited\n")
    assert cache.key("pipeline-runs", run, scenarios=["success"], version="3.0.6") != base


@pytest.mark.long
@pytest.mark.tools  # the cache's own keying: tests/fork's copy leaves it out
def test_a_broken_glue_script_is_run_not_served_from_the_cache(copies):
    _, project = copies

    def run() -> subprocess.CompletedProcess:
        return cli("offline.pipeline_run", "lite", "--project", str(project), "--json")

    first = run()
    assert first.returncode == 0, first.stderr[-2000:]
    again = run()  # now cached: same answer
    answer, served = json.loads(first.stdout), json.loads(again.stdout)
    assert again.returncode == 0 and served.pop("cached") is not None  # from the cache, and it says when it was stored
    assert served == {key: value for key, value in answer.items() if key != "cached"}
    signature = "def summarize(csv_text: str) -> str:"
    edit(project / "glue" / "transform.py", signature, f"{signature}\n    raise ValueError('broken')")
    broken = run()
    assert broken.returncode == 1, broken.stdout[-2000:]
    success = next(r for r in json.loads(broken.stdout)["scenarios"] if r["scenario"] == "success")
    assert success["task_states"]["transform"] == "failed" and not success["as_expected"]
