"""bin/test's type check (offline/typecheck.py) keeps a pass only while the files basedpyright reads stay the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from offline import cache
from offline import typecheck as typecheck_module
from offline.stacks import PROJECT_DIR
from offline.typecheck import checked_files
from tests.stackkit import copy_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, with its own cache, whose checker only counts its runs (in tmp_path/runs) and exits with
    $CHECKER_EXIT: basedpyright itself runs in bin/test on every change; here the question is only when it runs."""
    project = copy_project(tmp_path)
    checker = project / ".venv" / "bin" / "basedpyright"
    checker.parent.mkdir(parents=True)
    checker.write_text(f'#!/bin/sh\necho run >> {tmp_path / "runs"}\necho "checker says $CHECKER_EXIT"\nexit "$CHECKER_EXIT"\n')
    checker.chmod(0o755)
    monkeypatch.setattr(typecheck_module, "PROJECT_DIR", project)
    monkeypatch.setattr(cache, "CACHE_DIR", project / ".cache")
    return project


@pytest.fixture
def typecheck(project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str, int]]:
    """`python -m offline.typecheck` on `project`: (exit code, output, how often the checker has run so far)."""

    def run(exit_code: int = 0) -> tuple[int, str, int]:
        monkeypatch.setenv("CHECKER_EXIT", str(exit_code))
        code = typecheck_module.main([])
        runs = project.parent / "runs"
        return code, capsys.readouterr().out, len(runs.read_text().splitlines()) if runs.exists() else 0

    return run


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_a_pass_is_served_until_a_file_the_checker_reads_changes(project: Path, typecheck):
    assert typecheck() == (0, "checker says 0\n", 1)
    append(project / "dags" / "lambda_glue_pipeline.py", "\n# a DAG edit\n")
    append(project / "Pulumi.dev.yaml", "# a stack edit\n")
    append(project / "dags" / "requirements.txt", "apache-airflow-providers-slack\n")
    code, output, runs = typecheck()
    assert (code, runs) == (0, 1) and output.startswith("checker says 0 (the same sources passed at ")
    append(project / "duty_cycle.py", "\n# imported by settings.py, which the checker's include names\n")
    assert typecheck()[2] == 2


def test_a_failure_is_reported_and_checked_again(typecheck):
    assert typecheck(1) == (1, "checker says 1\nbasedpyright found type errors (above)\n", 1)
    assert typecheck(1)[2] == 2


def test_the_checked_files_follow_the_imports_of_the_included_ones():
    checked = {f.relative_to(PROJECT_DIR).as_posix() for f in checked_files(PROJECT_DIR)}
    assert {"settings.py", "duty_cycle.py", "__main__.py", "components/network.py", "policies/rules/library/cost_model.py"} <= checked
    assert not any(name.startswith(("dags/", "tests/", "offline/", "functions/", "glue/")) for name in checked)
