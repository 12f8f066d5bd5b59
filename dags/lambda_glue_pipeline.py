"""Daily input check (Lambda) then transform (Glue), on the stack's schedule (shipped: weekdays 10:00 IST).

Names and ARNs come from pipeline_config.json, which the Pulumi program renders
next to this file; parsing reads only that local file (no AWS calls), so the
scheduler's parse loop stays fast.

The DAG needs nothing from Airflow's metadata DB, which a duty-cycled stack loses
at every pause: no Variables, no Connections beyond MWAA's aws_default (the
execution role), unpaused at creation, and a timetable that runs today's
interval once when the scheduler comes up late, but never a missed day.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk import DAG
from airflow.timetables.trigger import CronTriggerTimetable

#: Owner and retry policy. A literal: the MWAA Serverless definition reads it from this file (serverless/definition.py).
TASK_DEFAULTS = {"owner": "data-platform", "retries": 3, "retry_delay_minutes": 2}
CONFIG_PATH = Path(__file__).with_name("pipeline_config.json")
CONFIG_KEYS = (
    "lambda_function_name", "glue_job_name", "alert_topic_arn", "data_bucket",
    "input_prefix", "output_prefix", "region", "schedule_cron", "schedule_timezone",
    "late_start_minutes", "run_timeout_minutes",
)  # fmt: skip


def load_config(path: Path = CONFIG_PATH) -> dict[str, str]:
    """The pipeline's names, or an import error that says how to fix it."""
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise RuntimeError(f"{path.name} is missing beside the DAG; `pulumi up` renders it into s3://<dag bucket>/dags/") from None
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"{path.name} is not valid JSON ({exc}); re-run `pulumi up` to render it again") from None
    missing = [key for key in CONFIG_KEYS if not isinstance(config, dict) or config.get(key) in (None, "")]
    if missing:
        raise RuntimeError(f"{path.name} lacks {', '.join(missing)}; re-run `pulumi up` to render it again")
    return config


def publish_failure(context: dict[str, Any]) -> None:
    """Alert the pipeline's SNS topic; never masks the task's own failure."""
    ti = context["task_instance"]
    error = context.get("exception")  # set by the task runner; dag.test() in Airflow 3.0 leaves it out
    subject = f"[airflow] {ti.dag_id}.{ti.task_id} failed"[:100]
    detail = repr(error) if error else "see the task log"
    # Airflow 3 runs a manual trigger without a logical date when none is given (the API's null): the alert still goes.
    logical_date = context.get("logical_date")
    which = f"logical date {logical_date}" if logical_date else f"run {context.get('run_id')} (no logical date)"
    message = f"Task {ti.task_id} of DAG {ti.dag_id} failed on try {ti.try_number} for {which}.\nError: {detail}"
    SnsHook(aws_conn_id="aws_default", region_name=CONFIG["region"]).publish_to_target(CONFIG["alert_topic_arn"], message, subject=subject)


CONFIG = load_config()
#: From the stack's pipeline settings; the default, weekdays 10:00 Asia/Kolkata (no DST), is 04:30 UTC. A scheduler
#: that first sees the DAG up to late_start_minutes after a scheduled time runs that interval once (an environment the
#: duty cycle resumed late); later than that, or a day later, it waits for the next one: no backfill.
SCHEDULE = CronTriggerTimetable(
    CONFIG["schedule_cron"],
    timezone=CONFIG["schedule_timezone"],
    run_immediately=timedelta(minutes=CONFIG["late_start_minutes"]),
)

with DAG(
    dag_id="lambda_glue_pipeline",
    # Follows the configured schedule (a fork that runs at 09:00 Berlin must not read "10:00 IST").
    description=f"Input check (Lambda), then transform (Glue); cron {CONFIG['schedule_cron']} in {CONFIG['schedule_timezone']}",
    schedule=SCHEDULE,
    # No start_date: with one, Airflow ignores run_immediately and a fresh scheduler re-runs the previous interval.
    catchup=False,
    is_paused_upon_creation=False,  # a resumed environment has a new metadata DB: nobody is there to unpause it
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=CONFIG["run_timeout_minutes"]),
    user_defined_filters={"fromjson": json.loads},
    default_args={
        "owner": TASK_DEFAULTS["owner"],
        "retries": TASK_DEFAULTS["retries"],
        "retry_delay": timedelta(minutes=TASK_DEFAULTS["retry_delay_minutes"]),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=20),
        "on_failure_callback": publish_failure,
    },
    tags=["mwaa-platform"],
) as dag:
    validate_input = LambdaInvokeFunctionOperator(
        task_id="validate_input",
        function_name=CONFIG["lambda_function_name"],
        region_name=CONFIG["region"],
        payload=json.dumps({"run_date": "{{ ds }}"}),
        execution_timeout=timedelta(minutes=5),
    )
    transform = GlueJobOperator(
        task_id="transform",
        job_name=CONFIG["glue_job_name"],
        region_name=CONFIG["region"],
        script_args={
            "--RUN_DATE": "{{ ds }}",
            "--INPUT_KEY": "{{ (ti.xcom_pull(task_ids='validate_input') | fromjson)['key'] }}",
            "--DATA_BUCKET": CONFIG["data_bucket"],
            "--OUTPUT_PREFIX": CONFIG["output_prefix"],
        },
        wait_for_completion=True,
        job_poll_interval=15,
        execution_timeout=timedelta(minutes=60),
    )
    validate_input >> transform
