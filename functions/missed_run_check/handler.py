"""Missed-run check: at each scheduled run's deadline, is the day's output there? If not, alert.

EventBridge Scheduler invokes this at the deadline of every pipeline run (the run's time plus its late start and run
timeout, in the pipeline's time zone), whether or not the MWAA environment exists. So a resume that failed, a
scheduler that never started the run, or a Glue job that never finished is reported, which the DAG's own failure
callback can't do when Airflow isn't up. A day that is not a run day never alerts.

A serverless stack's team workflows (yaml_workflows.py) have no output this code knows, so their schedules send the
workflow in the event, and the check asks MWAA Serverless for a run that succeeded between the scheduled time and the
deadline (ListWorkflowRuns).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

# The MWAA Serverless API's model, vendored from botocore 1.44.5 (NOTICE): Lambda's runtimes update their SDK on their
# own schedule, and botocore reads models from AWS_DATA_PATH before its own, so the client exists on any of them (a
# session reads the variable when boto3 creates it, at the first client).
os.environ.setdefault("AWS_DATA_PATH", str(Path(__file__).with_name("data")))

WEEK_MINUTES = 7 * 24 * 60


def minute_of_week(moment: datetime) -> int:
    """Minutes since Monday 00:00 UTC (schedule.py counts the same way; this code is deployed alone)."""
    utc = moment.astimezone(UTC)
    return utc.weekday() * 1440 + utc.hour * 60 + utc.minute


def output_key(prefix: str, run_date: str) -> str:
    """Where the Glue job writes a run's result (glue/transform.py: output_key)."""
    return f"{prefix}{run_date}/summary.csv"


def result_exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether `key` exists, asked as ListObjectsV2 with the key as prefix. The role may list the bucket only under the
    output prefix (an `s3:prefix` condition), which a listing carries; HeadObject carries no prefix, so for a missing
    key S3 answers 403, not 404 (S3 returns 404 only to a caller allowed s3:ListBucket: HeadObject's reference), and
    the check would fail instead of alerting. The key itself sorts first among the keys it prefixes."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    return any(item["Key"] == key for item in listed)


def the_run(scheduled_time: str, deadline_minutes: int, run_minutes: set[int]) -> datetime | None:
    """The pipeline run whose deadline this is, or None when no run was scheduled then (never alert for those)."""
    fired = datetime.fromisoformat(scheduled_time.replace("Z", "+00:00")).astimezone(UTC)
    run = fired - timedelta(minutes=deadline_minutes)
    return run if minute_of_week(run) in run_minutes else None


def workflow_succeeded(client: Any, arn: str, since: datetime, deadline: datetime) -> bool:
    """Whether a run of the workflow created between its scheduled time (a minute's leeway) and its deadline succeeded:
    the scheduled run, or one started by hand after it failed. ListWorkflowRuns documents no order, so every page is read."""
    for page in client.get_paginator("list_workflow_runs").paginate(WorkflowArn=arn):
        for run in page.get("WorkflowRuns", []):
            summary = run.get("RunDetailSummary", {})
            created = summary.get("CreatedOn")
            if summary.get("Status") == "SUCCESS" and created and since - timedelta(minutes=1) <= created <= deadline:
                return True
    return False


def check_workflow(event: dict[str, Any]) -> dict[str, Any]:
    """A team workflow's run at its deadline (the event names the workflow, its run times and its deadline)."""
    workflow, topic = event["workflow"], os.environ["TOPIC_ARN"]
    minutes = int(workflow["deadline_minutes"])
    run = the_run(str(event["scheduled_time"]), minutes, set(workflow["run_minutes_of_week"]))
    if run is None:
        return {"status": "no run scheduled", "scheduled_time": event["scheduled_time"], "workflow": workflow["name"]}
    deadline = run + timedelta(minutes=minutes)
    if workflow_succeeded(boto3.client("mwaa-serverless"), workflow["arn"], run, deadline):
        return {"status": "ran", "workflow": workflow["name"], "run": run.isoformat()}
    message = (
        f"The {workflow['name']} workflow's run of {run:%Y-%m-%d %H:%M} UTC has not succeeded by its deadline "
        f"({deadline:%Y-%m-%d %H:%M} UTC): no run created since then succeeded. It may have failed (its failure alert says "
        f"why), still be running, or never have started. Its runs: aws mwaa-serverless list-workflow-runs --workflow-arn "
        f"{workflow['arn']}"
    )
    subject = f"Missed run: {workflow['name']} {run:%Y-%m-%d %H:%M}"[:100]
    boto3.client("sns").publish(TopicArn=topic, Subject=subject, Message=message)
    return {"status": "alerted", "workflow": workflow["name"], "run": run.isoformat()}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    if "workflow" in event:
        return check_workflow(event)
    env = os.environ
    run_minutes = {int(m) for m in env["RUN_MINUTES_OF_WEEK"].split(",")}
    run = the_run(str(event["scheduled_time"]), int(env["DEADLINE_MINUTES"]), run_minutes)
    if run is None:
        return {"status": "no run scheduled", "scheduled_time": event["scheduled_time"]}
    run_date = run.date().isoformat()  # the DAG's {{ ds }}: its logical date, in UTC
    bucket, key = env["DATA_BUCKET"], output_key(env["OUTPUT_PREFIX"], run_date)
    if result_exists(boto3.client("s3"), bucket, key):
        return {"status": "ran", "run_date": run_date, "key": key}
    message = (
        f"The {env['PIPELINE_NAME']} run of {run_date} ({run:%Y-%m-%d %H:%M} UTC) has no result at its deadline: "
        f"s3://{bucket}/{key} does not exist. The environment may not have resumed, the run may not have started, or "
        f"the Glue job may not have finished. Check the MWAA environment and the DAG's runs."
    )
    boto3.client("sns").publish(TopicArn=env["TOPIC_ARN"], Subject=f"Missed run: {env['PIPELINE_NAME']} {run_date}"[:100], Message=message)
    return {"status": "alerted", "run_date": run_date, "key": key}
