"""The DAG integrity check before deploy (`python -m offline dags`): the folder MWAA would get, parsed by its Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from offline.dags import render_dag_folder
from offline.harness import PROJECT_DIR, StackRun
from tests.test_config import copy_project


def dags(project: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "offline", "dags", "dev", "--project", str(project), *args]
    return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600)


def test_the_folder_is_what_pulumi_up_uploads_under_dags(dev: StackRun, tmp_path: Path):
    folder = render_dag_folder(dev, tmp_path / "dags")
    assert sorted(p.name for p in folder.iterdir()) == ["lambda_glue_pipeline.py", "pipeline_config.json"]
    assert json.loads((folder / "pipeline_config.json").read_text()) == json.loads(dev.by_name("pipeline-dag-config").inputs["content"])


def test_the_real_dags_pass_with_parse_times_against_the_timeout():
    done = dags(PROJECT_DIR, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["dev"]["dags"]
    assert report["airflow"] == "3.3.1" and report["problems"] == [] and report["timeout_seconds"] == 30
    (parsed,) = report["files"]
    assert parsed["file"] == "lambda_glue_pipeline.py" and 0 < parsed["seconds"] < 30
    (dag,) = report["dags"]
    assert dag["dag_id"] == "lambda_glue_pipeline" and dag["first_run"].endswith("04:30:00+00:00")


def test_a_syntax_error_fails_with_its_file_and_line(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "broken.py").write_text("from airflow.sdk import DAG\n\nwith DAG('broken') as dag:\n    pass\ndef oops(:\n")
    done = dags(project)
    assert done.returncode == 1
    assert "problem: broken.py:5: SyntaxError: invalid syntax" in done.stdout
    assert "dev: DAGs FAILED: 1 DAGs, 1 problems" in done.stdout


def test_a_cycle_and_a_dag_that_never_runs_are_problems(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "cycle.py").write_text(
        "from airflow.providers.standard.operators.empty import EmptyOperator\nfrom airflow.sdk import DAG\n\n"
        "with DAG('cycle', schedule=None) as dag:\n    a, b = EmptyOperator(task_id='a'), EmptyOperator(task_id='b')\n    a >> b >> a\n"
    )
    (project / "dags" / "ended.py").write_text(
        "from datetime import datetime, timezone\nfrom airflow.sdk import DAG\n\n"
        "with DAG('ended', schedule='@daily', start_date=datetime(2020, 1, 1, tzinfo=timezone.utc),\n"
        "         end_date=datetime(2020, 1, 2, tzinfo=timezone.utc), catchup=False) as dag:\n    pass\n"
    )
    # A problem elsewhere that merely mentions the DAG's id must not hide the DAG's own problem.
    (project / "dags" / "ended_draft.py").write_text("from airflow.sdk import DAG\n\ndef draft(:\n")
    done = dags(project)
    assert done.returncode == 1, done.stdout
    assert "problem: cycle.py: AirflowDagCycleException: Cycle detected in Dag: cycle" in done.stdout
    assert "problem: ended.py: DAG ended has a schedule but no next run" in done.stdout
    assert "problem: ended_draft.py:3: SyntaxError" in done.stdout
