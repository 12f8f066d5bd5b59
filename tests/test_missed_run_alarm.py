"""The missed-run alarm as deployed: one schedule at every run's deadline in the pipeline's zone, least privilege,
present whether the environment runs or not, priced; and its handler's idea of "the run" and "the result"."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
from datetime import UTC, datetime

import botocore.loaders
import botocore.session
import pytest
from botocore.stub import ANY, Stubber

import names
from duty_cycle import pipeline_run_minutes
from offline.harness import StackRun, run_stack
from offline.stacks import PROJECT_DIR, stack_settings
from tests.stackkit import PAUSED_AT, fixture_settings, in_priced_region, priced

SCHEDULE = "aws:scheduler/schedule:Schedule"


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, PROJECT_DIR / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler = load("functions/missed_run_check/handler.py", "missed_run_check")
transform = load("glue/transform.py", "glue_transform")


def test_the_schedule_fires_at_each_runs_deadline_in_the_pipelines_zone(each_stack: StackRun):
    schedule = each_stack.one(SCHEDULE).inputs
    pipeline = stack_settings(each_stack.stack).pipeline
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == (pipeline.deadline_cron, pipeline.timezone)
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    assert json.loads(schedule["target"]["input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}


@pytest.mark.reference
def test_the_reference_deadline_is_13_00_ist(each_stack: StackRun):
    schedule = each_stack.one(SCHEDULE).inputs
    # 10:00 IST + 60 min late start + 120 min run timeout = 13:00 IST (07:30 UTC, inside dev's window that ends 07:45).
    assert schedule["scheduleExpression"] == "cron(0 13 ? * MON,TUE,WED,THU,FRI *)"
    assert schedule["scheduleExpressionTimezone"] == "Asia/Kolkata"


def test_a_deadline_past_midnight_moves_to_the_next_day():
    settings = fixture_settings(pipeline={"runTime": "23:00"}).pipeline
    assert settings.deadline_cron == "cron(0 2 ? * TUE,WED,THU,FRI,SAT *)"


def test_it_exists_while_dev_is_paused_too():
    paused = run_stack("dev", at=PAUSED_AT)
    assert paused.one(SCHEDULE) and paused.by_name("missed-run-function")
    assert not paused.of_type("aws:mwaa/environment:Environment")


def test_least_privilege(dev: StackRun):
    policy = json.loads(dev.by_name("missed-run-function-access").inputs["policy"])
    assert {tuple(s["Action"]) for s in policy["Statement"]} == {("s3:GetObject",), ("s3:ListBucket",), ("sns:Publish",)}
    read = next(s for s in policy["Statement"] if s["Action"] == ["s3:GetObject"])
    assert read["Resource"] == [f"arn:aws:s3:::{dev.by_name('pipeline-data-bucket').outputs['bucket']}/curated/*"]
    publish = next(s for s in policy["Statement"] if s["Action"] == ["sns:Publish"])
    assert publish["Resource"] == [dev.outputs["alert_topic_arn"]]
    invoke = json.loads(dev.by_name("missed-run-scheduler-invoke").inputs["policy"])
    (statement,) = invoke["Statement"]
    assert statement["Action"] == ["lambda:InvokeFunction"] and statement["Resource"][0].endswith(
        ":function:mwaa-platform-dev-missed-run-check"
    )
    trust = json.loads(dev.by_name("missed-run-scheduler-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_it_costs_cents(dev: StackRun):
    items = {item.name: item for item in priced(dev).items}
    check = items["Lambda mwaa-platform-dev-missed-run-check"]
    scheduler = items["EventBridge Scheduler invocations"]
    runs = stack_settings("dev").pipeline.runs_per_month
    assert check.quantity == scheduler.quantity == runs and check.monthly_usd + scheduler.monthly_usd < 0.01


def test_the_handler_finds_the_run_of_its_deadline_and_only_that():
    runs = pipeline_run_minutes(fixture_settings(pipeline={"timezone": "Europe/Berlin"}).pipeline)
    # 10:00 Berlin is 09:00 UTC in winter and 08:00 UTC in summer; the deadline fires at 13:00 local either way.
    assert handler.the_run("2026-01-12T12:00:00Z", 180, runs) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert handler.the_run("2026-07-13T11:00:00Z", 180, runs) == datetime(2026, 7, 13, 8, 0, tzinfo=UTC)
    assert handler.the_run("2026-01-17T12:00:00Z", 180, runs) is None  # a Saturday
    assert handler.the_run("2026-01-12T12:05:00Z", 180, runs) is None  # no run at 09:05


@pytest.mark.parametrize("day", ["2026-11-23", "2027-01-01"])
def test_the_handler_looks_where_the_glue_job_writes(day: str):
    assert handler.output_key("curated/", day) == transform.output_key("curated/", day)


def _prefix_allowed(policy: dict, prefix: str) -> bool:
    """Whether the role's s3:ListBucket grant admits a listing with this prefix (its StringLike s3:prefix condition)."""
    listing = next(s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"])
    return any(fnmatch.fnmatchcase(prefix, pattern) for pattern in listing["Condition"]["StringLike"]["s3:prefix"])


def test_the_handler_asks_s3_a_question_its_role_may_answer(dev: StackRun):
    """The role lists the bucket only under the output prefix. A HeadObject carries no prefix, so S3 would answer 403
    for a missing result and the check would raise instead of alerting; a listing with the key as prefix is allowed."""
    policy = json.loads(dev.by_name("missed-run-function-access").inputs["policy"])
    key = handler.output_key(stack_settings("dev").pipeline.output_prefix, "2026-11-23")
    assert _prefix_allowed(policy, key) and not _prefix_allowed(policy, "")  # what HeadObject's 404 would need
    s3 = botocore.session.get_session().create_client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:  # any other call (HeadObject) fails the test: the stubber has no answer for it
        stub.add_response("list_objects_v2", {"Contents": []}, {"Bucket": "data", "Prefix": key, "MaxKeys": 1})
        stub.add_response("list_objects_v2", {"Contents": [{"Key": key}]}, {"Bucket": "data", "Prefix": key, "MaxKeys": 1})
        stub.add_response("list_objects_v2", {"Contents": [{"Key": key + ".bak"}]}, {"Bucket": "data", "Prefix": key, "MaxKeys": 1})
        assert [handler.result_exists(s3, "data", key) for _ in range(3)] == [False, True, False]
        stub.assert_no_pending_responses()


def test_the_alarm_has_alarms_of_its_own(each_stack: StackRun):
    """A check that fails after Lambda's retries goes to the topic as its on-failure destination, and an alarm on its
    Errors metric notifies the same topic: the missed-run alarm can't fail silently."""
    function, topic = each_stack.by_name("missed-run-function"), each_stack.outputs["alert_topic_arn"]
    invoke = each_stack.by_name("missed-run-on-failure")
    assert invoke.inputs["functionName"] == function.outputs["name"] and invoke.inputs["maximumRetryAttempts"] == 2
    assert invoke.inputs["destinationConfig"] == {"onFailure": {"destination": topic}}
    alarm = each_stack.by_name("missed-run-errors").inputs
    measured = (alarm["namespace"], alarm["metricName"], alarm["dimensions"])
    assert measured == ("AWS/Lambda", "Errors", {"FunctionName": function.outputs["name"]})
    assert (alarm["threshold"], alarm["comparisonOperator"], alarm["alarmActions"]) == (1, "GreaterThanOrEqualToThreshold", [topic])
    assert alarm["name"] == names.missed_run_errors_alarm(each_stack.outputs["environment_name"])
    # The topic's policy lets CloudWatch publish from this pipeline's alarms only, this one among them.
    statements = json.loads(each_stack.by_name("pipeline-alerts-publishers").inputs["policy"])["Statement"]
    (cloudwatch,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    region = each_stack.config["aws:region"]
    allowed = cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"]
    assert fnmatch.fnmatchcase(f"arn:aws:cloudwatch:{region}:123456789012:alarm:{alarm['name']}", allowed)
    assert not fnmatch.fnmatchcase(f"arn:aws:cloudwatch:{region}:123456789012:alarm:someone-elses", allowed)
    assert cloudwatch["Action"] == ["sns:Publish"] and cloudwatch["Resource"] == [topic]


def test_the_alarms_alarm_is_priced(dev: StackRun):
    item = next(i for i in priced(run_stack("dev", config=in_priced_region("dev"))).items if i.name == "CloudWatch alarms")
    assert item.quantity == 1 and item.unit == "alarm-month" and item.monthly_usd == item.unit_usd > 0


#: A team workflow's event as its schedule sends it (components/missed_run_alarm.py): runs weekdays at 12:00 UTC.
WORKFLOW_EVENT = {
    "workflow": {
        "name": "mwaa-platform-lite-late_input_retry",
        "arn": "arn:aws:airflow-serverless:us-east-1:123456789012:workflow/mwaa-platform-lite-late_input_retry",
        "deadline_minutes": 158,
        "run_minutes_of_week": [720, 2160, 3600, 5040, 6480],
    }
}
ARN = WORKFLOW_EVENT["workflow"]["arn"]


def workflow_run(status: str, created: str, run_type: str = "SCHEDULED") -> dict:
    summary = {"Status": status, "CreatedOn": datetime.fromisoformat(created)}
    return {"RunId": created, "WorkflowArn": ARN, "RunType": run_type, "RunDetailSummary": summary}


def check_at(monkeypatch: pytest.MonkeyPatch, scheduled: str, pages: list[list[dict]], alert: str | None = None) -> dict:
    """Run the handler for a team workflow's deadline against stubbed MWAA Serverless and SNS clients (moto has no MWAA
    Serverless): the runs listed page by page, and a publish only where the check must alert."""
    session = botocore.session.get_session()
    runs = session.create_client("mwaa-serverless", region_name="us-east-1")
    sns = session.create_client("sns", region_name="us-east-1")
    with Stubber(runs) as runs_stub, Stubber(sns) as sns_stub:
        for i, page in enumerate(pages):
            request = {"WorkflowArn": ARN} | ({"NextToken": f"page-{i}"} if i else {})
            more = {"NextToken": f"page-{i + 1}"} if i + 1 < len(pages) else {}
            runs_stub.add_response("list_workflow_runs", {"WorkflowRuns": page} | more, request)
        if alert:  # the subject, exactly; any other call fails the test (the stubbers have no answer for it)
            sns_stub.add_response("publish", {"MessageId": "1"}, {"TopicArn": "arn:topic", "Subject": alert, "Message": ANY})
        monkeypatch.setenv("TOPIC_ARN", "arn:topic")
        monkeypatch.setattr(handler.boto3, "client", lambda service, **_: {"mwaa-serverless": runs, "sns": sns}[service])
        result = handler.handler(WORKFLOW_EVENT | {"scheduled_time": scheduled})
        runs_stub.assert_no_pending_responses()
        sns_stub.assert_no_pending_responses()
    return result


def test_a_team_workflow_whose_run_succeeded_in_time_is_not_alerted(monkeypatch: pytest.MonkeyPatch):
    """The scheduled run failed, a run started by hand succeeded before the deadline, on the second page."""
    pages = [[workflow_run("FAILED", "2026-12-08T12:00:04+00:00")], [workflow_run("SUCCESS", "2026-12-08T12:40:00+00:00", "ON_DEMAND")]]
    assert check_at(monkeypatch, "2026-12-08T14:38:00Z", pages) == {
        "status": "ran", "workflow": "mwaa-platform-lite-late_input_retry", "run": "2026-12-08T12:00:00+00:00"
    }  # fmt: skip


@pytest.mark.parametrize(
    "runs",
    [
        [],  # never started
        [workflow_run("FAILED", "2026-12-08T12:00:04+00:00"), workflow_run("RUNNING", "2026-12-08T13:00:00+00:00")],
        [workflow_run("SUCCESS", "2026-12-07T12:00:03+00:00")],  # yesterday's success is not today's
        [workflow_run("SUCCESS", "2026-12-08T14:40:00+00:00", "ON_DEMAND")],  # after the deadline
    ],
)
def test_a_team_workflow_without_a_success_in_time_alerts_the_topic(monkeypatch: pytest.MonkeyPatch, runs: list[dict]):
    result = check_at(monkeypatch, "2026-12-08T14:38:00Z", [runs], alert="Missed run: mwaa-platform-lite-late_input_retry 2026-12-08 12:00")
    assert result["status"] == "alerted"


def test_a_team_workflows_deadline_without_a_run_asks_nothing(monkeypatch: pytest.MonkeyPatch):
    assert check_at(monkeypatch, "2026-12-12T14:38:00Z", [])["status"] == "no run scheduled"  # a Saturday


def test_the_service_model_ships_with_the_function_as_botocore_has_it():
    """The runtime's SDK may predate MWAA Serverless: the function carries the model (NOTICE) and reads it first."""
    vendored = PROJECT_DIR / "functions" / "missed_run_check" / "data"
    loader = botocore.loaders.Loader(extra_search_paths=[str(vendored)], include_default_search_paths=False)
    own = botocore.session.get_session().get_component("data_loader")
    for kind in ("service-2", "endpoint-rule-set-1", "paginators-1"):
        assert loader.load_service_model("mwaa-serverless", kind) == own.load_service_model("mwaa-serverless", kind)
    assert handler.os.environ["AWS_DATA_PATH"] == str(vendored)
