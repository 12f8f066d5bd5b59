"""Run exactly what MWAA runs: the version matrix, its vendored files, and the requirements check before deploy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import empty_pb2, json_format

from offline import airflow_env
from offline.airflow_env import MATRIX, constraint_files, pins
from offline.gate import PolicyPackProcess
from offline.harness import run_stack
from offline.requirements_check import check_requirements
from offline.stacks import PROJECT_DIR, stack_settings
from settings import ConfigError
from tests.clikit import cli
from tests.stackkit import copy_project, with_setting

CONSTRAINT_LINE = '--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-{}/constraints-3.12.txt"'


# --- the matrix and its files ----------------------------------------------------------


@pytest.mark.parametrize("version", list(MATRIX["versions"]))
def test_every_supported_version_has_mwaas_files_with_provenance(version: str):
    airflow, essential = constraint_files(version)
    assert f"constraints-{version}/constraints-3.12.txt" in airflow.read_text()  # Airflow's own file for that release
    assert pins(essential)["apache-airflow"] == version and pins(airflow)["apache-airflow-providers-amazon"]
    provenance = (PROJECT_DIR / "mwaa-images" / "README.md").read_text()
    assert "aws/amazon-mwaa-docker-images" in provenance and f"| {version} | {MATRIX['versions'][version]['python']} |" in provenance
    assert f"| {version} | {MATRIX['versions'][version]['python']} | {pins(airflow)['apache-airflow-providers-amazon']} |" in provenance


def test_vendored_files_are_the_shared_copies_verbatim():
    shared = PROJECT_DIR.parent / "shared" / "mwaa-images"
    if not shared.is_dir():
        pytest.skip("../shared/mwaa-images is not beside this checkout")
    for version in MATRIX["versions"]:
        for path in constraint_files(version):
            assert path.read_bytes() == (shared / version / path.name).read_bytes(), path


@pytest.mark.reference
def test_both_stacks_run_the_default_version_and_the_requirements_match_it():
    assert MATRIX["default"] == "3.3.1"
    for stack in ("dev", "prod"):
        assert stack_settings(stack).mwaa.airflow_version == "3.3.1"
    lines = [line.strip() for line in (PROJECT_DIR / "dags" / "requirements.txt").read_text().splitlines() if line.strip()]
    assert lines == [CONSTRAINT_LINE.format("3.3.1"), "apache-airflow-providers-amazon"]  # the constraints pick its version


def test_an_unsupported_version_lists_the_supported_ones():
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=with_setting("mwaa", "airflowVersion", "9.9.9"))
    assert "mwaa-platform:mwaa.airflowVersion: airflowVersion '9.9.9' is not supported here; supported: 3.0.6, 3.2.1, 3.3.1" in str(
        caught.value
    )
    assert caught.value.recorded == []


@pytest.mark.tools  # bin/test's own machinery
def test_the_dag_tests_of_every_version_fail_bin_test_if_any_fails():
    """`pytest all` runs the versions side by side; its exit code and output must still say which one failed."""
    command = [sys.executable, "-m", "offline.airflow_env", "pytest", "all", "tests/airflow/no_such_test.py", "-p", "no:cacheprovider"]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    headers = [line for line in done.stdout.splitlines() if line.startswith("DAG tests on Airflow ")]
    assert headers == [f"DAG tests on Airflow {version}:" for version in MATRIX["versions"]]
    assert done.stderr.strip().splitlines()[-1] == f"pytest failed on Airflow {', '.join(MATRIX['versions'])} (above)"


def test_the_packs_supported_versions_come_from_the_same_matrix():
    with PolicyPackProcess() as analyzer:
        info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    (policy,) = [p for p in info.policies if p.name == "mwaa-airflow-version"]
    schema = json_format.MessageToDict(policy.configSchema)
    assert schema["properties"]["supportedVersions"]["default"] == list(MATRIX["versions"])


# --- the requirements check (resolves against PyPI, as MWAA does) ----------------------------


def project_with_requirements(tmp_path: Path, *lines: str) -> Path:
    project = copy_project(tmp_path)
    (project / "dags" / "requirements.txt").write_text("\n".join([CONSTRAINT_LINE.format("3.3.1"), *lines]) + "\n")
    return project


def requirements(*args: str, project: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    return cli("offline", "requirements", *args, "--project", str(project))


def test_bytecode_is_kept_after_the_first_import_even_where_writing_it_is_turned_off(tmp_path: Path):
    # Importing `offline` turns PYTHONDONTWRITEBYTECODE off for its process and the processes it starts (the Airflow
    # side, the pack, the CLI), so the next process doesn't compile what the last one imported.
    for name in ("mine", "childs"):
        (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    child = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import childs'], check=True)"
    environ = os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(PROJECT_DIR)}
    subprocess.run([sys.executable, "-c", f"import offline, mine; {child}"], cwd=tmp_path, env=environ, check=True)
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "__pycache__").glob("*.pyc")) == ["childs", "mine"]


@pytest.mark.reference
def test_todays_requirements_resolve_to_what_mwaa_installs():
    done = requirements("dev", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["dev"]["requirements"]
    assert report["passed"] and report["resolved"] == {"apache-airflow-providers-amazon": "9.34.0"}


@pytest.mark.long
@pytest.mark.tools  # the resolver's handling of MWAA's Python (its own fixture requirements): no config changes it
def test_ordinary_packages_that_pull_numpy_and_a_provider_resolve(tmp_path: Path):
    # A pip that ignores --python-version for Requires-Python rejects numpy (>=3.12 only) for the toolchain's 3.11.
    project = project_with_requirements(tmp_path, "apache-airflow-providers-amazon", "pandas", "apache-airflow-providers-snowflake")
    report = check_requirements(stack_settings("dev", project), project)
    assert report.passed, report.problems
    assert set(report.resolved) == {"apache-airflow-providers-amazon", "pandas", "apache-airflow-providers-snowflake"}


@pytest.mark.long  # PyPI resolutions: network-bound, so begun early, beside the work that needs the cores
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("boto3==1.30.0", "requirements.txt:3: boto3==1.30.0 conflicts with Airflow 3.3.1's constraint boto3==1.43.56"),
        ("celery==5.4.0", "requirements.txt:3: celery==5.4.0 conflicts with MWAA's essential pin celery==5.6.3, which MWAA does not let"),
        (
            "docopt==0.6.2",
            "requirements.txt:3: docopt==0.6.2: no wheel of docopt==0.6.2 (pinned by Airflow 3.3.1's constraints) for MWAA's",
        ),
        ("apache-airflow-providers-no-such-thing", "requirements.txt:3: apache-airflow-providers-no-such-thing: no package"),
        ("--index-url https://example.invalid/simple", "requirements.txt:3: option --index-url can't be checked here"),
    ],
    ids=["constraint-conflict", "essential-override", "no-wheel", "no-such-package", "unsupported-option"],
)
def test_a_bad_requirement_fails_naming_the_line(tmp_path: Path, line: str, problem: str):
    project = project_with_requirements(tmp_path, "apache-airflow-providers-amazon", line)
    report = check_requirements(stack_settings("dev", project), project)
    assert not report.passed
    assert len(report.problems) == 1 and report.problems[0].startswith(f"dags/{problem}"), report.problems


def test_the_requirements_command_fails_with_the_reason(tmp_path: Path):
    done = requirements("dev", project=project_with_requirements(tmp_path, "boto3==1.30.0"))
    assert done.returncode == 1
    assert "problem: dags/requirements.txt:2: boto3==1.30.0 conflicts with Airflow 3.3.1's constraint" in done.stdout
    assert "dev: requirements FAILED" in done.stdout


def test_requirements_the_base_already_satisfies_reuse_its_environment(tmp_path: Path):
    """The shipped file names only the Amazon provider, which MWAA's set has: no second environment is built for it;
    anything the base lacks or pins otherwise gets one (offline/airflow_env.py `with_requirements`)."""
    version = airflow_env.default_version()
    installed = airflow_env._installed(airflow_env.VENVS / version)
    provider = installed["apache-airflow-providers-amazon"]
    assert airflow_env._satisfied("apache-airflow-providers-amazon", installed)
    assert airflow_env._satisfied(f"apache-airflow-providers-amazon=={provider}", installed)
    assert not airflow_env._satisfied("apache-airflow-providers-amazon==0.0.1", installed)
    assert not airflow_env._satisfied("apache-airflow-providers-slack", installed)
    assert not airflow_env._satisfied("apache-airflow-providers-amazon[pandas]", installed)  # extras may add packages
    requirements = tmp_path / "requirements.txt"
    requirements.write_text('--constraint "https://example.invalid/constraints.txt"\napache-airflow-providers-amazon\n')
    assert airflow_env.with_requirements(version, requirements) == airflow_env.ensure(version)
