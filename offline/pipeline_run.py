"""Run the pipeline DAG end to end on this machine: no Docker, no AWS account.

The stack's mocked Pulumi run says what `pulumi up` would create; this module
creates the same buckets, objects, roles, Lambda function, Glue job and SNS
topic (same names, same code assets, same rendered pipeline_config.json) in an
embedded moto server, syncs the bucket's dags/ prefix into a DAG folder as MWAA
does, and runs the DAG with `dag.test()` in the stack's Airflow version, installed
from MWAA's own constraints (offline/airflow_env.py), which reaches moto over HTTP
as MWAA's workers reach AWS.

Scenarios differ only in the day's input object, so every outcome comes from
the real code: `success` (a valid CSV), `missing-input` (no object: the Lambda
raises, a FunctionError) and `bad-input` (a CSV without the amount column: the
Glue script raises, the run FAILS). A scenario passes when it ends as it must:
a success with its result and no alert; a failure with one alert from the DAG
(or the workflow's event) and one from the missed-run check; a day without a run
with neither.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from components.serverless_workflow import EVENT_SOURCE, FAILURE_EVENTS
from names import PIPELINE_DAG_ID
from offline import airflow_env, cache, state_round_trip
from offline.exits import FAILED, PASSED, run_main
from offline.harness import (
    StackRun,
    object_body,
    pipeline_workflow,
    preload_providers,
    render_workflow_folder,
    run_stack,
    uploaded_definitions,
)
from offline.stacks import PROJECT_DIR, stack_settings
from offline.state_round_trip import StateRoundTrip
from settings import WEEKDAYS, PipelineSettings, Settings

DAG_ID = PIPELINE_DAG_ID
SCENARIOS = {
    "success": "order_id,category,amount\n1,books,12.50\n2,games,30.00\n3,books,7.25\n3,books,7.25\n",
    "missing-input": None,
    "bad-input": "order_id,category,price\n1,books,12.50\n",
}
#: What a pipeline run never creates in moto or reads (the DAG runs here, not on an environment in a VPC), left out of
#: its cache key: a paused and a running stack run the same pipeline.
NOT_DEPLOYED = ("aws:ec2/", "aws:mwaa/", "mwaa:network:", "mwaa:airflow:")
#: Scenarios whose run must fail, alert once, and be reported by the missed-run check.
FAILING = ("missing-input", "bad-input")
#: The week the scenarios run in (the windows and schedules repeat weekly).
WEEK_OF = date(2026, 11, 23)


def scenario_days(pipeline: PipelineSettings) -> tuple[dict[str, date], date | None]:
    """One run day of the schedule per scenario, so their runs and objects never collide, and a day without a run
    (None when the pipeline runs every day), on which the missed-run check must stay quiet."""
    days = [WEEK_OF + timedelta(days=n) for n in range(14)]
    run_days = [day for day in days if WEEKDAYS[day.weekday()] in pipeline.run_days]
    idle = next((day for day in days if WEEKDAYS[day.weekday()] not in pipeline.run_days), None)
    return dict(zip(SCENARIOS, run_days, strict=False)), idle


def day_start(day: date, zone: str) -> str:
    """The start of `day` in the pipeline's time zone, as a UTC instant: a morning run east of UTC (07:15 in Tokyo) has
    the day before as its logical date, so the run of a local day is found from here, not from UTC midnight."""
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC).isoformat()


@dataclass
class PipelineReport:
    scenario: str
    logical_date: str
    dag_run_state: str
    task_states: dict[str, str]
    glue_runs: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    #: What the missed-run check (functions/missed_run_check) answered at the run's deadline, and what it published.
    missed_run_check: dict[str, Any] = field(default_factory=dict)
    missed_run_alerts: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """How the run differs from what its scenario must end as (empty: as expected)."""
        wanted = {"no-run-day": ("not scheduled", 0, "no run scheduled", 0)}.get(
            self.scenario, ("failed", 1, "alerted", 1) if self.scenario in FAILING else ("success", 0, "ran", 0)
        )
        found = (self.dag_run_state, len(self.alerts), self.missed_run_check.get("status"), len(self.missed_run_alerts))
        labels = ("DAG run", "failure alerts", "missed-run check", "missed-run alerts")
        return [f"{label}: {got!r}, expected {want!r}" for label, want, got in zip(labels, wanted, found, strict=True) if got != want]

    @property
    def as_expected(self) -> bool:
        return not self.problems


def deploy(run: StackRun, aws: Any) -> None:
    """Create in moto what the recorded program would create in AWS."""
    s3, iam = aws.client("s3"), aws.client("iam")
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        s3.create_bucket(Bucket=bucket.outputs["bucket"], **aws.bucket_location())
        s3.put_bucket_versioning(Bucket=bucket.outputs["bucket"], VersioningConfiguration={"Status": "Enabled"})
    for obj in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2"):
        s3.put_object(Bucket=obj.inputs["bucket"], Key=obj.inputs["key"], Body=object_body(obj))
    for role in run.of_type("aws:iam/role:Role"):
        iam.create_role(RoleName=role.outputs["name"], AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])

    for function in (f.inputs for f in run.of_type("aws:lambda/function:Function")):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            for name, asset in function["code"].assets.items():
                archive.write(Path(asset.path), name)
        aws.client("lambda").create_function(
            FunctionName=function["name"],
            Runtime=function["runtime"],
            Handler=function["handler"],
            Role=function["role"],
            Code={"ZipFile": package.getvalue()},
            Timeout=int(function["timeout"]),
            MemorySize=int(function["memorySize"]),
            Environment={"Variables": function["environment"]["variables"]},
        )
    job = run.one("aws:glue/job:Job").inputs
    command = job["command"]
    aws.client("glue").create_job(
        Name=job["name"],
        Role=job["roleArn"],
        GlueVersion=job["glueVersion"],
        Command={"Name": command["name"], "ScriptLocation": command["scriptLocation"], "PythonVersion": command["pythonVersion"]},
        DefaultArguments=job["defaultArguments"],
        MaxCapacity=job["maxCapacity"],
        Timeout=int(job["timeout"]),
        MaxRetries=int(job["maxRetries"]),
        ExecutionProperty={"MaxConcurrentRuns": int(job["executionProperty"]["maxConcurrentRuns"])},
    )
    aws.client("sns").create_topic(Name=run.one("aws:sns/topic:Topic").inputs["name"])
    events = aws.client("events")
    for rule in run.of_type("aws:cloudwatch/eventRule:EventRule"):
        events.put_rule(Name=rule.inputs["name"], EventPattern=rule.inputs["eventPattern"])
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        events.put_targets(Rule=target.inputs["rule"], Targets=[{"Id": target.name, "Arn": target.inputs["arn"]}])


def pipeline_config(run: StackRun, settings: Settings) -> dict[str, Any]:
    """The names the run needs: the provisioned DAG's rendered pipeline_config.json, or (serverless, whose definition
    holds the names itself) the same keys from the recorded resources."""
    if config := next((r for r in run.resources if r.name == "dags-pipeline-config"), None):
        return json.loads(config.inputs["content"])
    return {
        "glue_job_name": run.one("aws:glue/job:Job").inputs["name"],
        "alert_topic_arn": run.one("aws:sns/topic:Topic").outputs["arn"],
        "data_bucket": run.by_name("pipeline-data-bucket").outputs["bucket"],
        "input_prefix": settings.pipeline.input_prefix,
        "output_prefix": settings.pipeline.output_prefix,
    }


def workflow_events(aws: Any, workflow_arn: str, outcomes: list[dict[str, Any]]) -> None:
    """What MWAA Serverless sends EventBridge when a run fails (source and detail-type per the event reference; the
    reference doesn't document the detail's fields, so these are stand-ins that carry the run's date)."""
    for outcome in outcomes:
        if outcome["dag_run_state"] == "failed":
            run_id = outcome.get("run_id") or f"scheduled__{outcome['logical_date']}"  # the UI's runs have their own
            detail = {"workflowArn": workflow_arn, "runId": run_id, "status": "FAILED"}
            entry = {"Source": EVENT_SOURCE, "DetailType": FAILURE_EVENTS[0], "Detail": json.dumps(detail), "Resources": [workflow_arn]}
            aws.client("events").put_events(Entries=[entry])


def subscribe_alert_queue(aws: Any, topic_arn: str) -> str:
    """An SQS queue on the alert topic, standing in for the email subscribers."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return url


def read_alerts(aws: Any, queue_url: str) -> list[str]:
    sqs, alerts = aws.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in messages:
            alerts.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return alerts


def sync_dags(aws: Any, dag_bucket: str, folder: Path) -> Path:
    """Copy s3://<dag bucket>/dags/ into `folder`, as MWAA's workers do."""
    s3 = aws.client("s3")
    for item in s3.list_objects_v2(Bucket=dag_bucket, Prefix="dags/").get("Contents", []):
        target = folder / item["Key"].removeprefix("dags/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=dag_bucket, Key=item["Key"])["Body"].read())
    return folder


def aws_connection(aws: Any) -> dict[str, str]:
    """Airflow's aws_default pointed at moto (on MWAA it is the execution role)."""
    connection = {
        "conn_type": "aws",
        "login": aws.environment["AWS_ACCESS_KEY_ID"],
        "password": aws.environment["AWS_SECRET_ACCESS_KEY"],
        "extra": {"region_name": aws.region, "endpoint_url": aws.url},
    }
    return {**aws.environment, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection)}


def run_scenarios(
    stack: str, scenarios: list[str], version: str | None = None, project: Path = PROJECT_DIR, use_cache: bool = True
) -> tuple[list[PipelineReport], StateRoundTrip | None, str | None]:
    """The DAG run once per scenario in Airflow `version` (default: the stack's) against the stack's pipeline deployed
    into moto, and, for a duty-cycled stack, its Airflow state carried across a pause (offline/state_round_trip.py);
    with the time the result was cached when nothing it depends on changed since (offline/cache.py)."""
    run, settings = run_stack(stack, project_dir=project), stack_settings(stack, project)
    digest = run_key(run, scenarios, version or settings.airflow_version)

    def compute() -> dict[str, Any]:
        carry_state = settings.duty_cycle.enabled and not settings.serverless and len(scenarios) == len(SCENARIOS)
        reports, state = _run(run, settings, scenarios, version, project, carry_state)
        return {"scenarios": [asdict(report) for report in reports], "state": asdict(state) if state else None}

    value, stored = cache.remembered("pipeline-runs", digest, compute, use_cache)
    state = StateRoundTrip.from_json(value["state"]) if value["state"] else None
    return [PipelineReport(**report) for report in value["scenarios"]], state, stored


def run_key(run: StackRun, scenarios: list[str], version: str) -> str:
    """The cache key of these scenarios' runs on `version`: everything the run deploys, the tools, the request."""
    return cache.key("pipeline-runs", run, NOT_DEPLOYED, scenarios=scenarios, version=version)


def _run(
    run: StackRun, settings: Settings, scenarios: list[str], version: str | None, project: Path, carry_state: bool = False
) -> tuple[list[PipelineReport], StateRoundTrip | None]:
    """The scenarios' runs; with `carry_state` (a duty-cycled stack's main-job run: days of history), then the Airflow
    state they left carried across a pause (offline/state_round_trip.py)."""
    from offline.local_aws import LocalAws  # moto: imported only when a run starts, so the CLI starts fast

    dates, idle = scenario_days(settings.pipeline)
    serverless = settings.serverless
    with tempfile.TemporaryDirectory() as tmp, LocalAws(settings.region) as aws:
        deploy(run, aws)
        config = pipeline_config(run, settings)
        alert_queue = subscribe_alert_queue(aws, config["alert_topic_arn"])
        dag_bucket = run.by_name("dags-storage-bucket").outputs["bucket"]
        if serverless:  # the definitions as uploaded, read as the service reads them
            dags = render_workflow_folder(run, Path(tmp) / "dags", uploaded_definitions(aws, run))
        else:
            dags = sync_dags(aws, dag_bucket, Path(tmp) / "dags")
        request = {
            "folder": str(dags),
            "dag_id": DAG_ID,
            "scenarios": [
                {"name": name, "after": day_start(dates[name], settings.pipeline.timezone), "body": SCENARIOS[name]}
                | {key: config[key] for key in ("input_prefix", "data_bucket")}
                for name in scenarios
            ],
        }
        runs = airflow_env.run(
            version or settings.airflow_version,
            "offline.airflow_side.run_dag",
            [],
            Path(tmp) / "airflow",
            stdin=json.dumps(request),
            requirements=airflow_env.stack_requirements(settings, project),  # the DAG check's: MWAA's set plus the stack's file
            AIRFLOW__CORE__DAGS_FOLDER=str(dags),  # Airflow 3.3's dag.test() syncs the DAG through this bundle
            **aws_connection(aws),
        )
        state = None
        if carry_state:
            state = state_round_trip.carry(
                Path(tmp) / "airflow",
                dags,
                DAG_ID,
                version or settings.airflow_version,
                airflow_env.stack_requirements(settings, project),
                settings.mwaa.pools,
                AIRFLOW__CORE__DAGS_FOLDER=str(dags),
            )
        if serverless:
            workflow_events(aws, pipeline_workflow(run).outputs["workflowArn"], runs)
        checks = {day: check_missed_run(aws, run, settings, day) for day in [*(dates[name] for name in scenarios), idle] if day}
        alerts = read_alerts(aws, alert_queue)
        reports = [_collect(aws, config, outcome, alerts) for outcome in runs]
        for report in reports:
            report.missed_run_check = checks[dates[report.scenario]]  # by its local day: its logical date may be the UTC day before
            report.missed_run_alerts = [alert for alert in alerts if f"run of {report.logical_date} " in alert]
        if idle:
            reports.append(
                PipelineReport(
                    scenario="no-run-day",
                    logical_date=idle.isoformat(),
                    dag_run_state="not scheduled",
                    task_states={},
                    missed_run_check=checks[idle],
                    missed_run_alerts=[alert for alert in alerts if f"run of {idle} " in alert],
                )
            )
        return reports, state


def check_missed_run(aws: Any, run: StackRun, settings: Settings, day: date) -> dict[str, Any]:
    """Invoke the deployed missed-run check as EventBridge Scheduler would at `day`'s deadline (its cron, its zone)."""
    pipeline = settings.pipeline
    hour, minute = map(int, pipeline.run_time.split(":"))
    scheduled = datetime.combine(day, time(hour, minute), ZoneInfo(pipeline.timezone)) + timedelta(minutes=pipeline.deadline_minutes)
    function = run.by_name("missed-run-function").inputs["name"]
    payload = json.dumps({"scheduled_time": scheduled.astimezone(UTC).isoformat().replace("+00:00", "Z")})
    answer = aws.client("lambda").invoke(FunctionName=function, Payload=payload)
    result = json.loads(answer["Payload"].read())
    return result if "FunctionError" not in answer else {"status": "error", **result}


def _collect(aws: Any, config: dict[str, str], outcome: dict[str, Any], alerts: list[str]) -> PipelineReport:
    """What one scenario's run left in AWS: its Glue runs, its alerts, its output objects."""
    ds, s3 = outcome["logical_date"], aws.client("s3")
    glue_runs = aws.client("glue").get_job_runs(JobName=config["glue_job_name"])["JobRuns"]
    output_prefix = f"{config['output_prefix']}{ds}/"
    return PipelineReport(
        scenario=outcome["name"],
        logical_date=ds,
        dag_run_state=outcome["dag_run_state"],
        task_states=outcome["task_states"],
        glue_runs=[
            {"state": r["JobRunState"], "arguments": r.get("Arguments", {})}
            for r in glue_runs
            if r.get("Arguments", {}).get("--RUN_DATE") == ds
        ],
        # The provisioned DAG's failure callback names the logical date; a serverless run's event carries its run id.
        alerts=[alert for alert in alerts if f"for logical date {ds}" in alert or f"scheduled__{ds}" in alert],
        outputs={
            item["Key"]: s3.get_object(Bucket=config["data_bucket"], Key=item["Key"])["Body"].read().decode()
            for item in s3.list_objects_v2(Bucket=config["data_bucket"], Prefix=output_prefix).get("Contents", [])
        },
    )


def render_pipeline_runs(reports: list[PipelineReport]) -> str:
    lines = []
    for report in reports:
        verdict = "as expected" if report.as_expected else "NOT as expected: " + "; ".join(report.problems)
        lines.append(f"Pipeline run {report.scenario} ({DAG_ID}, logical date {report.logical_date}): {report.dag_run_state} ({verdict})")
        lines += [f"    {task:<16} {state}" for task, state in report.task_states.items()]
        lines += [f"    glue run        {r['state']}  args --RUN_DATE={r['arguments'].get('--RUN_DATE')}" for r in report.glue_runs]
        lines += [f"    alert           {alert.splitlines()[0]}" for alert in report.alerts]
        lines += [f"    output          {key} ({len(body.splitlines()) - 1} rows)" for key, body in report.outputs.items()]
        check = report.missed_run_check
        lines.append(f"    missed-run check at the deadline: {check.get('status')}" + (f" ({check['key']})" if "key" in check else ""))
        lines += [f"    missed-run alert {alert.splitlines()[0][:110]}" for alert in report.missed_run_alerts]
    return "\n".join(lines)


def as_json(reports: list[PipelineReport], state: StateRoundTrip | None, cached: str | None) -> dict[str, Any]:
    return {
        "scenarios": [asdict(r) | {"as_expected": r.as_expected, "problems": r.problems} for r in reports],
        "state_round_trip": asdict(state) | {"passed": state.passed} if state else None,
        "cached": cached,
    }


def render_output(output: dict[str, Any]) -> str:
    """The text of a run from its JSON document (as_json), for a command that asked the run for JSON."""
    fields = {f.name for f in dataclasses.fields(PipelineReport)}
    reports = [PipelineReport(**{k: v for k, v in report.items() if k in fields}) for report in output["scenarios"]]
    state = output["state_round_trip"]
    return render(reports, StateRoundTrip.from_json(state) if state else None, output["cached"])


def render(reports: list[PipelineReport], state: StateRoundTrip | None, cached: str | None) -> str:
    note = f"\n(cached {cached}: the stack's plan, its code and these tools are unchanged since; --no-cache runs it again)"
    return render_pipeline_runs(reports) + (f"\n{state_round_trip.render(state)}" if state else "") + (note if cached else "")


def preload() -> None:
    """For the fork server (offline/forkserver.py): the program's provider modules and the embedded AWS's services."""
    from moto.backends import get_backend

    preload_providers()
    for service in ("events", "glue", "iam", "lambda", "s3", "sns", "sqs", "sts"):
        get_backend(service)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The pipeline run's own options, for this module's command line and `bin/offline pipeline` (and `all`) alike."""
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "all"],
        default="all",
        help="pipeline: which day to run (default: all, each of which must end as it should: a success without an alert, "
        "a failure with its alerts)",
    )
    parser.add_argument("--airflow-version", choices=airflow_env.versions(), help="pipeline: run on this Airflow (default: the stack's)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.pipeline_run", description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="dev")
    add_options(parser)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="run even when an identical run's result is cached")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR, help="the Pulumi program's folder (default: this repository)")
    args = parser.parse_args(argv)
    scenarios = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    with contextlib.redirect_stdout(sys.stderr):  # the code runtimes print (the Glue script's log); the report owns stdout
        reports, state, cached = run_scenarios(args.stack, scenarios, args.airflow_version, args.project, use_cache=not args.no_cache)
    print(json.dumps(as_json(reports, state, cached), indent=2) if args.json else render(reports, state, cached))
    return PASSED if all(r.as_expected for r in reports) and (state is None or state.passed) else FAILED


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
