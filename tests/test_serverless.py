"""MWAA Serverless mode: the generated definition, the service's rules, the settings model, the lite stack's plan,
cost and DAG check. The pack's rules are in test_policy_serverless.py; the end-to-end runs in test_pipeline_run.py."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

from functions.validate_input.handler import input_key
from offline.commands.cost import render_estimate
from offline.dags import check_workflow
from offline.harness import StackRun, object_body, pipeline_workflow, plan_fingerprint, run_stack, workflow_definition
from offline.stacks import stack_config, stack_settings
from policies.rules.library.cost_model import estimate
from serverless import definition as sd
from settings import ConfigError
from tests.stackkit import FIXTURE_CONFIG, WEEK_OF, fixture_settings

SERVERLESS = {"mode": "serverless"}
WORKFLOW = "aws-native:mwaaserverless:Workflow"


@pytest.fixture(scope="module")
def lite() -> StackRun:
    return run_stack("lite")


def generated(**pipeline) -> dict:
    settings = fixture_settings(mwaa=SERVERLESS, pipeline=pipeline) if pipeline else fixture_settings(mwaa=SERVERLESS)
    return sd.definition(settings.pipeline, function_name="f", job_name="j")


# --- the definition ------------------------------------------------------------------------------------------------


def test_the_reference_schedule_is_the_provisioned_dags_instant_in_utc():
    assert generated()[sd.DAG_ID]["schedule"] == "30 4 * * 1-5"  # 10:00 IST on weekdays


@pytest.mark.parametrize(
    ("pipeline", "cron"),
    [
        ({"timezone": "Asia/Kolkata", "runTime": "03:00", "runDays": ["MON"]}, "30 21 * * 0"),  # the day before in UTC
        ({"timezone": "UTC", "runTime": "23:30", "runDays": ["SUN", "MON", "SAT"]}, "30 23 * * 0-1,6"),
        ({"timezone": "Asia/Tokyo", "runTime": "08:00", "runDays": ["MON", "TUE", "WED", "THU", "FRI"]}, "0 23 * * 0-4"),
        ({"timezone": "America/Phoenix", "runTime": "17:30", "runDays": ["FRI"]}, "30 0 * * 6"),  # UTC-7 all year
    ],
)
def test_the_schedule_is_shifted_to_utc_with_its_days(pipeline: dict, cron: str):
    assert generated(**pipeline)[sd.DAG_ID]["schedule"] == cron


def test_a_zone_with_daylight_saving_is_refused_for_a_serverless_stack():
    with pytest.raises(ConfigError) as caught:
        fixture_settings(mwaa=SERVERLESS, pipeline={"timezone": "Europe/Berlin"})
    assert "pipeline.timezone Europe/Berlin changes its UTC offset" in str(caught.value)
    assert "mwaa.mode provisioned" in str(caught.value)
    assert fixture_settings(pipeline={"timezone": "Europe/Berlin"}).mwaa.mode == "provisioned"  # the provisioned DAG is fine


def test_glue_gets_the_key_the_lambda_checks_without_a_jinja_filter():
    transform = generated(inputPrefix="landing/orders/")[sd.DAG_ID]["tasks"]["transform"]
    assert transform["script_args"]["--INPUT_KEY"] == input_key("landing/orders/", "{{ ds }}")
    assert transform["dependencies"] == ["validate_input"] and "trigger_rule" not in transform  # all_success: never after a failure


def test_retries_follow_the_provisioned_dag(tmp_path: Path):
    """The definition keeps the DAG's owner and retry policy (seconds for the service), and a DAG file that no longer
    has the literal stops with its path and the fix."""
    dag_file = tmp_path / "dag.py"
    dag_file.write_text('TASK_DEFAULTS = {"owner": "team-x", "retries": 1, "retry_delay_minutes": 4}\n')
    assert sd.task_defaults(dag_file) == {"owner": "team-x", "retries": 1, "retry_delay": 240}
    shipped = generated()[sd.DAG_ID]["default_args"]
    assert shipped == sd.task_defaults() and shipped["retry_delay"] % 60 == 0
    dag_file.write_text("TASK_DEFAULTS = dict(owner=OWNER)\n")
    with pytest.raises(ConfigError, match=f"{dag_file}: TASK_DEFAULTS must be a literal dict"):
        sd.task_defaults(dag_file)


def test_task_timeouts_come_from_the_lambda_and_glue_settings():
    tasks = generated(**{"lambda": {"timeoutSeconds": 300}, "glue": {"timeoutMinutes": 45}})[sd.DAG_ID]["tasks"]
    # As AWS's converter writes a timedelta (cleanup.py) and dag-factory 1.0.1 casts it: a plain number fails in Airflow.
    assert tasks["validate_input"]["execution_timeout"] == {"__type__": "datetime.timedelta", "seconds": 300 + 60}
    assert tasks["transform"]["execution_timeout"] == {"__type__": "datetime.timedelta", "seconds": 45 * 60 + 300}


def test_a_glue_timeout_beyond_the_services_hour_names_the_setting():
    settings = fixture_settings(mwaa=SERVERLESS, pipeline={"glue": {"timeoutMinutes": 56}})
    with pytest.raises(ConfigError) as caught:
        sd.checked_definition(settings.pipeline, function_name="f", job_name="j")
    assert "task transform: execution_timeout of 3660 s must be at most 3600 s" in str(caught.value)
    assert "it is pipeline.glue.timeoutMinutes plus 300 s, so lower that setting" in str(caught.value)


def test_the_generated_definition_keeps_every_rule():
    assert sd.problems(generated()) == []
    assert sd.problems(generated(timezone="UTC", runTime="23:59", runDays=["SAT", "SUN"])) == []


def _set(path: tuple, value):
    def edit(document):
        target = document[sd.DAG_ID]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _two_dags(document):
    document["second"] = copy.deepcopy(document[sd.DAG_ID])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_two_dags, "a definition holds exactly one DAG (the service runs one DAG per file); this one holds 2"),
        (_set(("tasks", "transform", "operator"), "airflow.providers.standard.operators.python.PythonOperator"),
         "task transform: operator 'airflow.providers.standard.operators.python.PythonOperator' is not on the service's allowlist"),
        (_set(("default_args", "retries"), 4), "DAG lambda_glue_pipeline default_args: retries 4 is outside the service's 0-3"),
        (_set(("tasks", "validate_input", "retries"), 5), "task validate_input: retries 5 is outside the service's 0-3"),
        (_set(("default_args", "retry_delay"), 301), "retry_delay 301 must be whole seconds from 0 to 300"),
        (_set(("default_args", "retry_delay"), 2.5), "retry_delay 2.5 must be whole seconds from 0 to 300"),
        (_set(("tasks", "transform", "execution_timeout"), sd.duration(3601)), "execution_timeout of 3601 s must be at most 3600 s"),
        (_set(("tasks", "transform", "execution_timeout"), {"__type__": "datetime.timedelta", "hours": 2}),
         "execution_timeout of 7200 s must be at most 3600 s"),
        (_set(("tasks", "transform", "execution_timeout"), 600), "execution_timeout 600 is not a timedelta as dag-factory 1.0.1"),
        (_set(("tasks", "transform", "execution_timeout"), "2h"), "execution_timeout '2h' is not a timedelta as dag-factory 1.0.1"),
        (_set(("default_args", "retry_delay"), "5m"), "retry_delay '5m' must be whole seconds from 0 to 300"),
        (_set(("schedule",), "@daily"), "schedule '@daily' is not a 5-field cron expression"),
        (_set(("schedule",), {"datasets": ["s3://x"]}), "is not supported: use a cron string in UTC"),
        (_set(("tasks", "validate_input", "payload"), "{{ ti.xcom_pull('a') | fromjson }}"), "Jinja filter in {{ ti.xcom_pull('a') |"),
        (_set(("tasks", "validate_input", "payload"), "{{ var.value.key }}"), "Jinja variable 'var' is not available"),
        (_set(("default_args", "on_failure_callback"), "x"), "default_args: on_failure_callback is ignored by MWAA Serverless"),
        (_set(("dagrun_timeout",), 3600), "DAG lambda_glue_pipeline: dagrun_timeout is ignored by MWAA Serverless; remove it"),
        (_set(("start_date",), "2024-01-01"), "start_date must be in the future for the service"),
        (_set(("tasks", "transform", "deferrable"), True), "task transform: deferrable mode is not supported"),
        (_set(("tasks", "transform", "expand"), {"x": [1]}), "task transform: dynamic task mapping (expand) is not supported"),
        (_set(("tasks", "transform", "region_name"), "us-east-1"), "task transform: region_name must not be set"),
        (_set(("tasks", "transform", "aws_conn_id"), "aws_default"), "task transform: aws_conn_id must not be set"),
        (_set(("tasks", "transform", "dependencies"), ["validate"]), "task transform: depends on 'validate', which is not a task"),
        (_set(("tasks", "bad task"), {"operator": sd.LAMBDA_OPERATOR}), "task bad task: task ids are letters, digits"),
        (_set(("catchup",), False), "catchup is ignored by MWAA Serverless"),
        (_set(("tags",), ["x"]), "tags is ignored by MWAA Serverless"),
        (_set(("owner",), "x"), "DAG lambda_glue_pipeline: unknown key owner"),
    ],
)  # fmt: skip
def test_each_rule_of_the_service_names_the_dag_or_task(edit, message: str):
    document = generated()
    edit(document)
    found = sd.problems(document)
    assert any(message in problem for problem in found), found


# --- settings ------------------------------------------------------------------------------------------------------


def test_keys_for_an_environment_are_clear_errors_in_serverless_mode_and_register_nothing():
    config = FIXTURE_CONFIG | {
        "mwaa-platform:mwaa": {"mode": "serverless", "environmentClass": "mw1.small", "maxWorkers": 5},
        "mwaa-platform:network": {"natGateways": 1},
        "mwaa-platform:dutyCycle": {"enabled": True},
        "mwaa-platform:dagBucket": {"requirementsFile": "dags/requirements.txt"},
    }
    with pytest.raises(ConfigError) as caught:
        run_stack("lite", config=config)
    message = str(caught.value)
    for key in ("mwaa.environmentClass", "mwaa.maxWorkers", "dagBucket.requirementsFile", "network", "dutyCycle"):
        assert key in message
    assert "in mwaa a serverless stack takes logRetentionDays, mode, protect" in message
    assert caught.value.recorded == []


def test_an_unknown_mode_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"mwaa\.mode: Input should be 'provisioned' or 'serverless'"):
        fixture_settings(mwaa={"mode": "lambda"})


def test_the_serverless_stack_runs_the_services_airflow():
    assert stack_settings("lite").airflow_version == sd.AIRFLOW_VERSION == "3.0.6"


# --- the lite stack's plan -----------------------------------------------------------------------------------------


def test_one_workflow_and_no_environment_vpc_or_nat(lite: StackRun):
    types = [r.type for r in lite.resources]
    assert types.count(WORKFLOW) == 1 + len(lite.outputs.get("yaml_workflow_arns", {}))  # the pipeline's, the team's own
    for absent in ("aws:mwaa/environment:Environment", "aws:ec2/vpc:Vpc", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
                   "aws:ec2/subnet:Subnet", "aws:kms/key:Key"):  # fmt: skip
        assert absent not in types
    assert "networkConfiguration" not in pipeline_workflow(lite).inputs
    assert not [r for r in lite.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if r.inputs["key"].startswith(("dags/", "requirements"))]


def test_the_workflow_goes_through_one_aws_native_provider_with_the_stacks_region_and_tags(lite: StackRun):
    settings = stack_settings("lite")
    (native,) = lite.of_type("pulumi:providers:aws-native")
    assert native.inputs["region"] == settings.region
    assert json.loads(native.inputs["defaultTags"])["tags"] == settings.default_tags
    assert pipeline_workflow(lite).provider.startswith(native.urn)
    assert "aws-native" in stack_config("lite")["pulumi:disable-default-providers"]


def test_the_definition_objects_version_is_wired_to_the_workflow(lite: StackRun):
    workflow, definition = pipeline_workflow(lite), workflow_definition(lite)
    location = workflow.inputs["definitionS3Location"]
    assert location == {
        "bucket": lite.by_name("dags-storage-bucket").outputs["bucket"],
        "objectKey": definition.inputs["key"],
        "versionId": definition.outputs["versionId"],
    }
    assert definition.urn in workflow.property_dependencies["definitionS3Location"]
    assert sd.problems(yaml.safe_load(object_body(definition))) == []


def test_the_execution_role_trusts_the_service_and_may_only_run_the_pipeline(lite: StackRun):
    role = lite.by_name("serverless-execution-role")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    # The trust AWS documents: no condition on a key no AWS source shows the service sending (every run would fail).
    assert statement == {"Effect": "Allow", "Principal": {"Service": ["airflow-serverless.amazonaws.com"]}, "Action": "sts:AssumeRole"}
    statements = json.loads(lite.by_name("serverless-execution-policy").inputs["policy"])["Statement"]
    granted = {s["Sid"]: (s["Action"], s["Resource"]) for s in statements}
    function, job, logs = (lite.by_name(n).outputs["arn"] for n in ("pipeline-validate-input", "pipeline-transform", "serverless-logs"))
    assert granted == {
        "DagInvokesLambda": (["lambda:InvokeFunction"], [function]),
        "DagRunsGlueJob": (["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:GetJob"], [job]),
        "WriteOwnLogGroup": (["logs:CreateLogStream", "logs:PutLogEvents"], [logs + ":*"]),
    }
    assert pipeline_workflow(lite).inputs["loggingConfiguration"] == {"logGroupName": lite.by_name("serverless-logs").inputs["name"]}
    assert lite.by_name("serverless-logs").inputs["retentionInDays"] == stack_settings("lite").mwaa.log_retention_days


def test_failed_runs_alert_the_pipelines_topic_through_eventbridge(lite: StackRun):
    rule, target = lite.by_name("serverless-failed-runs"), lite.by_name("serverless-failed-runs-alert")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.airflow-serverless"],
        "detail-type": ["MWAA Serverless Workflow Run Failed", "MWAA Serverless Workflow Run Timeout"],
    }
    topic = lite.one("aws:sns/topic:Topic").outputs["arn"]
    assert target.inputs["arn"] == topic and target.inputs["rule"] == rule.outputs["name"]
    # The topic's one policy lets EventBridge publish from this pipeline's rules only (their names start with its own).
    statements = json.loads(lite.by_name("pipeline-alerts-publishers").inputs["policy"])["Statement"]
    (statement,) = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert statement["Resource"] == [topic] and statement["Action"] == ["sns:Publish"]
    rule_arn = f"arn:aws:events:{lite.config['aws:region']}:123456789012:rule/{rule.outputs['name']}"
    assert fnmatch.fnmatchcase(rule_arn, statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert not fnmatch.fnmatchcase(rule_arn.replace("rule/", "rule/other-"), statement["Condition"]["ArnLike"]["aws:SourceArn"])
    # It was the workflow component's policy (beside this rule): moved by alias, so an update keeps it in place.
    old_type_and_name = "sns/topicPolicy:TopicPolicy::serverless-alerts-from-events"
    was = rule.urn.replace("cloudwatch/eventRule:EventRule::serverless-failed-runs", old_type_and_name)
    assert lite.by_name("pipeline-alerts-publishers").aliases == [was]


def test_a_schedule_change_updates_the_definition_and_the_workflow_in_place(tmp_path):
    config = stack_config("lite")
    before = plan_fingerprint(run_stack("lite", config=config))
    changed = config | {"mwaa-platform:pipeline": {**config["mwaa-platform:pipeline"], "runTime": "11:15"}}
    after = plan_fingerprint(run_stack("lite", config=changed))
    assert set(before) == set(after)  # same URNs: nothing replaced by a rename
    differing = {urn.split("::")[-1] for urn in before if before[urn] != after[urn]}
    # The workflow and its definition; the missed-run alarm follows the schedule by design.
    assert differing == {"serverless-definition", "serverless-workflow", "missed-run-schedule", "missed-run-function"}
    assert plan_fingerprint(run_stack("lite", config=config)) == before  # the generated YAML is stable


# --- cost and the DAG check ----------------------------------------------------------------------------------------


def test_task_hours_are_priced_per_run_with_the_one_minute_minimum(lite: StackRun):
    settings = stack_settings("lite")
    priced = estimate((r.type, r.inputs) for r in lite.resources)
    (item,) = [i for i in priced.items if i.name == f"MWAA Serverless workflow {settings.name} tasks"]
    assert item.quantity == round(settings.pipeline.runs_per_month * sd.billed_task_minutes(settings.pipeline) / 60, 4)
    # The Lambda check bills its one-minute minimum; the Glue task its run plus a minute of start-up and polling.
    for expected, billed in ((0.2, 1 + 1.2), (5, 1 + 6)):
        assert sd.billed_task_minutes(fixture_settings(pipeline={"glue": {"expectedRunMinutes": expected}}).pipeline) == billed
    assert item.note and "upper bound" in render_estimate(priced, "lite") and priced.complete


@pytest.mark.reference
def test_the_lite_stack_costs_under_a_dollar_a_month(lite: StackRun):
    assert estimate((r.type, r.inputs) for r in lite.resources).total <= 1.00


def test_the_tokyo_rate_is_published_so_it_carries_no_note():
    run = run_stack("lite", config=stack_config("lite") | {"aws:region": "ap-northeast-1"})
    priced = estimate((r.type, r.inputs) for r in run.resources)
    items = [i for i in priced.items if i.unit == "task-hour"]  # the pipeline's and each team workflow's
    assert items and all(item.unit_usd == 0.104 and item.note == "" for item in items)


def _with_definition(run: StackRun, document: dict) -> StackRun:
    edited = copy.deepcopy(run)
    workflow_definition(edited).inputs["content"] = sd.render_definition(document)
    return edited


def test_the_dag_check_loads_the_definition_on_the_services_airflow(lite: StackRun):
    report = check_workflow(lite, stack_settings("lite"), WEEK_OF).report
    assert report["airflow"] == "3.0.6" and report["problems"] == []
    dag = next(d for d in report["dags"] if d["dag_id"] == sd.DAG_ID)  # a fork's own workflows are beside it
    assert dag["runs"] and len(report["dags"]) == 1 + len(report["team_definitions"])


def test_the_dag_check_names_a_broken_rule_and_a_schedule_that_drifted(lite: StackRun):
    document = yaml.safe_load(object_body(workflow_definition(lite)))
    document[sd.DAG_ID]["tasks"]["validate_input"]["retries"] = 7
    hour = int(document[sd.DAG_ID]["schedule"].split()[1])
    document[sd.DAG_ID]["schedule"] = re.sub(r"^(\S+) (\S+)", lambda m: f"{m[1]} {(hour + 1) % 24}", document[sd.DAG_ID]["schedule"])
    report = check_workflow(_with_definition(lite, document), stack_settings("lite"), WEEK_OF).report
    assert "task validate_input: retries 7 is outside the service's 0-3" in report["problems"]
    assert any("its schedule runs at other times than pipeline.runDays/runTime/timezone say" in p for p in report["problems"])
