"""Bad settings stop the program before anything is registered; edits touch only what they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.harness import run_stack
from offline.stacks import StackFileError, stack_config, stack_settings
from settings import ConfigError
from tests.stackkit import copy_project, with_setting

ENV = "aws:mwaa/environment:Environment"


BAD = [
    (("mwaa", "environmentClass", "mw1.huge"), ["mwaa-platform:mwaa.environmentClass", "'mw1.small'"]),
    (("mwaa", "maxWorkers", 30), ["maxWorkers is 30", "allows 1 to 25"]),
    (("mwaa", "minWorkers", 12), ["maxWorkers is 10; mw1.small allows 12 to 25 (and not below minWorkers)"]),
    (("mwaa", "schedulers", 1), ["schedulers is 1; mw1.small allows 2 to 5"]),
    (("mwaa", "schedulers", 6), ["schedulers is 6; mw1.small allows 2 to 5"]),
    (("mwaa", "webserverAccessMode", "OPEN"), ["mwaa-platform:mwaa.webserverAccessMode", "'PUBLIC_ONLY'", "'PRIVATE_ONLY'"]),
    (("mwaa", "weeklyMaintenanceWindowStart", "SUNDAY:3"), ["weeklyMaintenanceWindowStart 'SUNDAY:3' must be DAY:HH:MM"]),
    (("mwaa", "weeklyMaintenanceWindowStart", "SUN:03:15"), ["minutes 00 or 30"]),
    (("mwaa", "logRetentionDays", 10), ["logRetentionDays 10 is not a CloudWatch retention", "14"]),
    (("mwaa", "logLevels", {"task": "VERBOSE"}), ["mwaa-platform:mwaa.logLevels.task", "'DEBUG'"]),
    (("mwaa", "maxWorkes", 5), ["mwaa-platform:mwaa.maxWorkes: unknown setting"]),
    (("mwaa", "airflowConfigurationOptions", {"core": {"load_examples": False}}), ["airflowConfigurationOptions key 'core' must be"]),
    (
        ("mwaa", "airflowConfigurationOptions", {"core.load_examples": {"x": 1}}),
        ["airflowConfigurationOptions.core.load_examples is a nested map; MWAA takes one string, number or boolean"],
    ),
    (("mwaa", "airflowConfigurationOptions", {"celery.queues": ["a", "b"]}), ["airflowConfigurationOptions.celery.queues is a list"]),
    (("mwaa", "airflowConfigurationOptions", {"core.parallelism": None}), ["airflowConfigurationOptions.core.parallelism is empty"]),
    (("mwaa", "airflowConfigurationOptions", {"Core.Load": "x"}), ["airflowConfigurationOptions key 'Core.Load' must be section.option"]),
    (
        ("mwaa", "airflowConfigurationOptions", {"secrets.backend": "x"}),
        ["the secrets backend is set from mwaa.connections and mwaa.variables"],
    ),
    (("mwaa", "pools", {"glue_jobs": 0}), ["mwaa-platform:mwaa.pools.glue_jobs", "greater than or equal to 1"]),
    (("mwaa", "connections", ["partner api"]), ["mwaa-platform:mwaa.connections.0", "should match pattern"]),
    (
        ("network", "privateSubnetCidrs", ["10.192.20.0/24", "10.192.21.0/24", "10.192.22.0/24"]),
        ["privateSubnetCidrs must list exactly 2 subnets"],
    ),
    (("network", "privateSubnetCidrs", ["10.192.20.0/24", "10.50.0.0/24"]), ["subnet 10.50.0.0/24 is outside vpcCidr 10.192.0.0/16"]),
    (("network", "publicSubnetCidrs", ["10.192.20.0/24", "10.192.11.0/24"]), ["subnets 10.192.20.0/24 and 10.192.20.0/24 overlap"]),
    (("network", "vpcCidr", "10.192.0.0/33"), ["mwaa-platform:network.vpcCidr", "not an IPv4 network"]),
    (("network", "natGateways", 3), ["mwaa-platform:network.natGateways", "1 or 2"]),
    (("pipeline", "alertEmails", ["oncall@example.com"]), ["alertEmails moved to the top level: set mwaa-platform:alertEmails"]),
    (("pipeline", "runTime", 540), ['runTime reads as the number 540: YAML takes an unquoted 9:00 as base-60. Quote it: runTime: "09:00"']),
    (("pipeline", "glue", {"jobType": "glueetl"}), ["a glueetl job takes workerType"]),
    (("pipeline", "inputPrefix", "/abs"), ["S3 prefix '/abs' must be relative"]),
    (("pipeline", "runTime", "25:00"), ["runTime '25:00' must be HH:MM on a 24-hour clock"]),
    (("pipeline", "timezone", "Mars/Olympus"), ["timezone 'Mars/Olympus' is not an IANA time zone"]),
    (("pipeline", "runDays", []), ["mwaa-platform:pipeline.runDays: must list one or more distinct days"]),
    (("pipeline", "runDays", ["MON", "FUNDAY"]), ["mwaa-platform:pipeline.runDays.1", "'SUN'"]),
]


@pytest.mark.parametrize(("change", "fragments"), BAD, ids=[f"{c[0]}.{c[1]}={c[2]}" for c, _ in BAD])
def test_bad_setting_names_the_key_and_registers_nothing(change: tuple, fragments: list[str]):
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=with_setting(*change))
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert caught.value.recorded == []


def test_missing_required_keys_are_listed_together():
    config = {k: v for k, v in stack_config("dev").items() if k not in ("mwaa-platform:owner", "aws:region")}
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=config)
    message = str(caught.value)
    assert "aws:region: required; set it with `pulumi config set aws:region <value>`" in message
    assert "mwaa-platform:owner: required" in message
    assert caught.value.recorded == []


def test_other_classes_use_their_own_limits():
    config = with_setting("mwaa", "environmentClass", "mw1.micro")
    with pytest.raises(ConfigError, match=r"schedulers is 2; mw1\.micro allows 1 to 1"):
        run_stack("dev", config=config)


def test_unknown_stack_file_is_a_clear_error():
    with pytest.raises(StackFileError, match=r"Pulumi.qa.yaml not found; stacks here: dev, lite, prod"):
        run_stack("qa")


def test_requirements_without_the_constraint_line_is_rejected(tmp_path: Path):
    project = copy_project(tmp_path)
    (project / "dags" / "requirements.txt").write_text("apache-airflow-providers-amazon\n")
    with pytest.raises(
        Exception, match=r"dagBucket.requirementsFile: requirements.txt must carry the constraint line for Airflow 3.3.1"
    ) as caught:
        run_stack("dev", project_dir=project)
    assert type(caught.value).__name__ == "ConfigError"  # the copy's own class
    assert caught.value.recorded == []


def test_a_dag_edit_changes_no_input_of_the_environment(tmp_path: Path, dev):
    project = copy_project(tmp_path)
    dag = project / "dags" / "lambda_glue_pipeline.py"
    dag.write_text(dag.read_text() + "\n# an edit\n")
    (project / "dags" / "another_dag.py").write_text("# a new DAG file\n")
    edited = run_stack("dev", project_dir=project)

    assert edited.one(ENV).inputs == dev.one(ENV).inputs
    before = {
        o.inputs["key"]: o.inputs["sourceHash"] for o in dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if "sourceHash" in o.inputs
    }
    after = {
        o.inputs["key"]: o.inputs["sourceHash"] for o in edited.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if "sourceHash" in o.inputs
    }
    assert {k for k in after if before.get(k) != after[k]} == {"dags/lambda_glue_pipeline.py", "dags/another_dag.py"}


def test_a_requirements_edit_does_update_the_environment(tmp_path: Path, dev):
    project = copy_project(tmp_path)
    requirements = project / "dags" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "apache-airflow-providers-slack\n")
    edited = run_stack("dev", project_dir=project)
    changed = {k for k, v in edited.one(ENV).inputs.items() if dev.one(ENV).inputs[k] != v}
    assert changed == {"requirementsS3ObjectVersion"}


def test_configuration_options_take_yaml_scalars_and_send_mwaa_strings():
    options = {"core.load_examples": True, "core.default_task_retries": 3, "scheduler.min_file_process_interval": 30.5, "webserver.x": "y"}
    env = run_stack("dev", config=with_setting("mwaa", "airflowConfigurationOptions", options)).one(ENV)
    assert env.inputs["airflowConfigurationOptions"] == {
        "core.load_examples": "true",
        "core.default_task_retries": "3",
        "scheduler.min_file_process_interval": "30.5",
        "webserver.x": "y",
    }


def test_shared_settings_live_once_in_the_project_file(tmp_path: Path):
    project = copy_project(tmp_path)
    project_file = project / "Pulumi.yaml"
    shared = project_file.read_text().replace('runTime: "10:00"', 'runTime: "09:00"')
    project_file.write_text(shared.replace("Asia/Kolkata", "Europe/Berlin"))
    for stack in ("dev", "prod"):  # one edit, both stacks
        pipeline = stack_settings(stack, project).pipeline
        assert (pipeline.run_time, pipeline.timezone) == ("09:00", "Europe/Berlin")
    prod_file = project / "Pulumi.prod.yaml"
    prod_file.write_text(prod_file.read_text() + '  mwaa-platform:pipeline:\n    runTime: "11:00"\n')
    prod = stack_settings("prod", project).pipeline
    assert (prod.run_time, prod.timezone) == ("11:00", "Asia/Kolkata")  # the stack's key replaces the project's value whole
