"""Airflow DAG loader for the team's YAML workflows (dags/workflows/*.yaml): dag-factory builds each DAG, as MWAA
Serverless does for a serverless stack, so one file runs in both modes (yaml_workflows.py in the project has the rules).

A file names this stack's resources as ${PIPELINE_<KEY>}; dag-factory expands environment variables in a file it loads,
so they are set here from pipeline_config.json (rendered by `pulumi up`). A failed task alerts the stack's topic, as the
pipeline DAG's do: MWAA Serverless alerts through the service's events, which MWAA has not, and the service ignores a
callback in a file, so the loader adds it. Without YAML files this imports nothing more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
#: The same keys as PLACEHOLDER_KEYS in yaml_workflows.py (this file reaches MWAA alone; a test keeps the two equal).
PLACEHOLDER_KEYS = ("lambda_function_name", "glue_job_name", "input_prefix", "output_prefix", "region")
WORKFLOWS = sorted([*(HERE / "workflows").glob("*.yaml"), *(HERE / "workflows").glob("*.yml")])


def read_config(path: Path = HERE / "pipeline_config.json") -> dict[str, Any]:
    """The stack's names, or an import error that says how to fix it."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path.name} can't be read for the YAML workflows ({exc}); `pulumi up` renders it into dags/") from None
    missing = [key for key in (*PLACEHOLDER_KEYS, "alert_topic_arn") if not isinstance(config, dict) or key not in config]
    if missing:
        raise RuntimeError(f"{path.name} lacks {', '.join(missing)}; re-run `pulumi up` to render it again")
    return config


def failure_alert(topic_arn: str, region: str) -> Callable[[dict[str, Any]], None]:
    """The pipeline DAG's alert (dags/lambda_glue_pipeline.py `publish_failure`), for a YAML workflow's task."""

    def publish_failure(context: dict[str, Any]) -> None:
        ti, error, logical_date = context["task_instance"], context.get("exception"), context.get("logical_date")
        which = f"logical date {logical_date}" if logical_date else f"run {context.get('run_id')} (no logical date)"
        message = f"Task {ti.task_id} of DAG {ti.dag_id} failed on try {ti.try_number} for {which}.\nError: {error!r}"
        subject = f"[airflow] {ti.dag_id}.{ti.task_id} failed"[:100]
        SnsHook(aws_conn_id="aws_default", region_name=region).publish_to_target(topic_arn, message, subject=subject)

    return publish_failure


if WORKFLOWS:
    CONFIG = read_config()
    os.environ.update({f"PIPELINE_{key.upper()}": str(CONFIG[key]) for key in PLACEHOLDER_KEYS})
    from airflow.providers.amazon.aws.hooks.sns import SnsHook
    from dagfactory import load_yaml_dags

    before = set(globals())
    for path in WORKFLOWS:
        load_yaml_dags(globals_dict=globals(), config_filepath=str(path))
    alert = failure_alert(CONFIG["alert_topic_arn"], CONFIG["region"])
    for name in set(globals()) - before:  # the DAGs dag-factory added: each task alerts unless its file says otherwise
        for task in getattr(globals()[name], "tasks", []):
            if not task.on_failure_callback:  # a list, as BaseOperator keeps it (3.3's task runner iterates it)
                task.on_failure_callback = [alert]
