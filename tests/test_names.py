"""Every name the program gives AWS comes from one table (names.py), fits AWS's limit, and a name that wouldn't is one
error at settings time naming the setting to shorten."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore
import pytest

import names
import yaml_workflows
from offline.harness import run_stack
from offline.stacks import stack_config
from settings import ConfigError
from tests.stackkit import PAUSED_AT, RUNNING_AT

#: The recorded resource types that carry a name the program sets, and its kind in names.LIMITS.
KIND_BY_TYPE = {
    "aws:mwaa/environment:Environment": "MWAA environment",
    "aws-native:mwaaserverless:Workflow": "MWAA Serverless workflow",
    "aws:lambda/function:Function": "Lambda function",
    "aws:iam/role:Role": "IAM role",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rule",
    "aws:scheduler/schedule:Schedule": "EventBridge Scheduler schedule",
    "aws:glue/job:Job": "Glue job",
    "aws:sns/topic:Topic": "SNS topic",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch log group",
    "aws:kms/alias:Alias": "KMS alias",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "CloudWatch alarm",
}
#: Where each limit comes from in botocore's service models: (service, operation, member). Lambda's model allows 140
#: (a full ARN); a bare function name is 64 (Lambda's CreateFunction reference). SNS's model sets none (256: its guide).
MODELS = {
    "MWAA environment": ("mwaa", "CreateEnvironment", "Name"),
    "MWAA Serverless workflow": ("mwaa-serverless", "CreateWorkflow", "Name"),
    "IAM role": ("iam", "CreateRole", "RoleName"),
    "EventBridge rule": ("events", "PutRule", "Name"),
    "EventBridge Scheduler schedule": ("scheduler", "CreateSchedule", "Name"),
    "Glue job": ("glue", "CreateJob", "Name"),
    "CloudWatch log group": ("logs", "CreateLogGroup", "logGroupName"),
    "KMS alias": ("kms", "CreateAlias", "AliasName"),
    "CloudWatch alarm": ("cloudwatch", "PutMetricAlarm", "AlarmName"),
}


@pytest.mark.parametrize(("stack", "at"), [("dev", RUNNING_AT), ("dev", PAUSED_AT), ("prod", RUNNING_AT), ("lite", RUNNING_AT)])
def test_every_name_the_program_sets_is_in_the_table(stack: str, at):
    run = run_stack(stack, at=at)
    env, serverless = run.outputs["environment_name"], run.config.get("mwaa-platform:mwaa", {}).get("mode") == "serverless"
    table = set(names.derived(env, serverless))
    for workflow in run.of_type("aws-native:mwaaserverless:Workflow"):  # a fork's own YAML workflows (yaml_workflows.py)
        table |= set(names.workflow_names(workflow.inputs["name"], yaml_workflows.MAX_CHECK_TIMES))
    for resource in run.resources:
        name = resource.inputs.get("name")
        if isinstance(name, str) and not resource.type.startswith("pulumi:providers:"):
            assert resource.type in KIND_BY_TYPE, f"{resource.type} sets name {name!r}: add it to names.py and KIND_BY_TYPE"
            assert (KIND_BY_TYPE[resource.type], name) in table, (resource.type, name)


@pytest.mark.parametrize("kind", list(MODELS))
def test_each_limit_is_the_apis_own(kind: str):
    service, operation, member = MODELS[kind]
    folder = max((Path(botocore.__file__).parent / "data" / service).iterdir())
    model = json.loads(gzip.decompress((folder / "service-2.json.gz").read_bytes()))
    shape = model["shapes"][model["shapes"][model["operations"][operation]["input"]["shape"]]["members"][member]["shape"]]
    assert shape["max"] == names.LIMITS[kind]


@pytest.mark.parametrize("serverless", [False, True])
def test_the_longest_name_that_fits_is_the_limit_of_the_tightest_derived_name(serverless: bool):
    longest = names.longest_name(serverless)
    assert names.too_long("x" * longest, serverless) == []
    (over,) = names.too_long("x" * (longest + 1), serverless)  # the tightest: <name>-missed-run-check, a Lambda name
    assert over.startswith("Lambda function 'x") and over.endswith("-missed-run-check' (65 characters, AWS allows 64)")


def test_a_name_too_long_for_aws_is_one_error_naming_the_setting_before_anything_is_registered():
    name = "a" * (names.longest_name(False) + 1)
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=dict(stack_config("dev")) | {"mwaa-platform:environmentName": name})
    message = str(caught.value)
    assert f"environmentName makes names longer than AWS allows: Lambda function '{name}-missed-run-check' (65 characters" in message
    assert f"Set mwaa-platform:environmentName to at most {names.longest_name(False)} characters" in message
    assert caught.value.recorded == []


def test_a_long_stack_name_names_the_setting_it_defaults_from():
    stack = "a-stack-whose-name-is-too-long-for-aws-names"
    config = {key: value for key, value in stack_config("dev").items() if key != "mwaa-platform:environmentName"}
    with pytest.raises(ConfigError) as caught:
        run_stack(stack, config=config)
    assert f"environmentName (unset: 'mwaa-platform-{stack}', from the stack's name) makes names longer" in str(caught.value)
