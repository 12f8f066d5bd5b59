"""dags/load_yaml_workflows.py as MWAA's scheduler runs it: the team's YAML files built by dag-factory, with this
stack's names from pipeline_config.json (yaml_workflows.py in the project has the rules)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from offline.airflow_side.compat import dag_bag
from tests.airflow.test_dag import dag_folder, rendered_config  # noqa: F401 (a fixture)
from tests.fork.apply import TEAM_WORKFLOWS

LOADER = "load_yaml_workflows.py"
WORKFLOW = TEAM_WORKFLOWS["late_input_retry.yaml"]  # the fork-like copy's: a YAML workflow lite can run too


def only_the_loader(tmp_path: Path, config: str) -> Path:
    folder = dag_folder(tmp_path, config)
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in (LOADER, "pipeline_config.json"):
            path.unlink()
    return folder


def with_the_workflow(tmp_path: Path, config: str) -> Path:
    """The loader, the config and the fork-like copy's workflow; dag-factory must be installed (the copy pins it)."""
    pytest.importorskip(
        "dagfactory", reason="dag-factory is not in dev's requirements here; tests/fork's copy pins it and .ci/run runs these there"
    )
    folder = only_the_loader(tmp_path, config)
    (folder / "workflows").mkdir(exist_ok=True)
    (folder / "workflows" / "late_input_retry.yaml").write_text(WORKFLOW)
    return folder


def test_without_yaml_files_the_loader_needs_nothing_more(tmp_path: Path, rendered_config: str):  # noqa: F811
    bag = dag_bag(only_the_loader(tmp_path, rendered_config))
    assert bag.import_errors == {} and bag.dags == {}


def test_without_the_config_the_loader_says_what_renders_it(tmp_path: Path):
    folder = only_the_loader(tmp_path, "{}")
    (folder / "pipeline_config.json").unlink()
    (folder / "workflows").mkdir(exist_ok=True)
    (folder / "workflows" / "late_input_retry.yaml").write_text(WORKFLOW)
    (error,) = dag_bag(folder).import_errors.values()
    assert "pipeline_config.json can't be read for the YAML workflows" in error and "`pulumi up` renders it into dags/" in error


def test_a_yaml_workflow_runs_with_this_stacks_names(tmp_path: Path, rendered_config: str):  # noqa: F811
    bag = dag_bag(with_the_workflow(tmp_path, rendered_config))
    assert bag.import_errors == {}
    config, dag = json.loads(rendered_config), bag.dags["late_input_retry"]
    check, transform = dag.get_task("check_input"), dag.get_task("transform")
    assert check.function_name == config["lambda_function_name"] and transform.job_name == config["glue_job_name"]
    assert transform.script_args["--INPUT_KEY"] == config["input_prefix"] + "{{ macros.ds_add(ds, -1) }}.csv"
    assert transform.upstream_task_ids == {"check_input"} and check.execution_timeout == timedelta(seconds=300)
    assert (check.retries, check.retry_delay) == (2, timedelta(seconds=120))


def test_a_failed_task_of_a_yaml_workflow_alerts_the_stacks_topic(tmp_path: Path, rendered_config: str):  # noqa: F811
    """MWAA has no MWAA Serverless events: the loader gives each task the pipeline DAG's failure alert."""
    dag = dag_bag(with_the_workflow(tmp_path, rendered_config)).dags["late_input_retry"]
    callbacks = [task.on_failure_callback for task in dag.tasks]
    # One alert on every task, as a list: Airflow 3.3's task runner iterates the callbacks (a bare function failed there).
    assert len(callbacks) == 2 and all(isinstance(c, list) and len(c) == 1 and c[0] is callbacks[0][0] for c in callbacks)
    callbacks = [c[0] for c in callbacks]
    sent = []

    class Topic:  # the SNS hook, as the callback calls it
        def __init__(self, **_: object) -> None: ...

        def publish_to_target(self, target: str, message: str, subject: str) -> None:
            sent.append((target, message, subject))

    ti = type("TI", (), {"dag_id": "late_input_retry", "task_id": "transform", "try_number": 3})()
    hook, callbacks[0].__globals__["SnsHook"] = callbacks[0].__globals__["SnsHook"], Topic
    try:
        callbacks[0]({"task_instance": ti, "run_id": "manual__2026-12-08", "exception": RuntimeError("Glue run FAILED")})
    finally:
        callbacks[0].__globals__["SnsHook"] = hook
    ((topic, message, subject),) = sent
    assert topic == json.loads(rendered_config)["alert_topic_arn"] and subject == "[airflow] late_input_retry.transform failed"
    assert (
        message == "Task transform of DAG late_input_retry failed on try 3 for run manual__2026-12-08 (no logical date).\n"
        "Error: RuntimeError('Glue run FAILED')"
    )
