"""The MWAA options users ask for most: graceful updates, startup script, plugins, customer-managed KMS, public+private UI."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from pathlib import Path

import pulumi
import pytest
import yaml

from components.dag_bucket import plugins_zip
from offline.gate import run_gate, stack_pack_config
from offline.harness import StackRun, run_stack
from offline.local_aws import LocalAws
from offline.pipeline_run import deploy
from offline.stacks import stack_config, stack_settings
from settings import ConfigError
from tests.policykit import check, environment, guarded_bucket, network, violations
from tests.stackkit import PAUSED_AT, copy_project, in_priced_region, other_region, with_setting

ENV = "aws:mwaa/environment:Environment"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
REGION = stack_settings("dev").region  # a fork's region, not ours
KEY_ARN = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def project_with(tmp_path: Path, **bucket_settings: str) -> Path:
    """A copy of the program with a startup script and a plugins folder, configured in dev's dagBucket section."""
    project = copy_project(tmp_path)
    (project / "startup.sh").write_text("#!/bin/sh\nexport ENVIRONMENT_STAGE=dev\n")
    plugins = project / "plugins"
    (plugins / "hooks").mkdir(parents=True)
    (plugins / "hooks" / "custom.py").write_text("VALUE = 1\n")
    (plugins / "README.txt").write_text("plugins\n")
    stack_file = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["mwaa-platform:dagBucket"].update(bucket_settings)
    stack_file.write_text(yaml.safe_dump(document))
    return project


def env_diff(a: StackRun, b: StackRun) -> set[str]:
    before, after = a.one(ENV).inputs, b.one(ENV).inputs
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# --- startup script ------------------------------------------------------------------------


def test_the_startup_script_goes_to_the_bucket_root_and_its_version_to_the_environment(tmp_path: Path):
    run = run_stack("dev", project_dir=project_with(tmp_path, startupScript="startup.sh"))
    script = run.by_name("dags-startup-script")
    assert script.inputs["key"] == "startup.sh"
    env = run.one(ENV)
    assert env.inputs["startupScriptS3Path"] == "startup.sh"
    assert env.inputs["startupScriptS3ObjectVersion"] == script.outputs["versionId"]
    assert script.urn in env.property_dependencies["startupScriptS3ObjectVersion"]


def test_editing_the_startup_script_updates_only_its_version_and_a_dag_edit_still_nothing(tmp_path: Path):
    project = project_with(tmp_path, startupScript="startup.sh")
    before = run_stack("dev", project_dir=project)
    (project / "startup.sh").write_text("#!/bin/sh\nexport ENVIRONMENT_STAGE=dev2\n")
    assert env_diff(before, after := run_stack("dev", project_dir=project)) == {"startupScriptS3ObjectVersion"}
    dag = project / "dags" / "lambda_glue_pipeline.py"
    dag.write_text(dag.read_text() + "\n# an edit\n")
    assert env_diff(after, run_stack("dev", project_dir=project)) == set()


def test_a_missing_startup_script_names_the_setting(tmp_path: Path):
    project = project_with(tmp_path, startupScript="scripts/missing.sh")
    with pytest.raises(pulumi.RunError, match=r"mwaa-platform:dagBucket.startupScript: .*scripts/missing.sh is not a file") as caught:
        run_stack("dev", project_dir=project)
    assert caught.value.recorded == []


# --- plugins --------------------------------------------------------------------------------


def uploaded_zip(run: StackRun) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(run.by_name("dags-plugins").inputs["contentBase64"])))


def test_plugins_are_zipped_reproducibly_and_wired_to_the_environment(tmp_path: Path):
    run = run_stack("dev", project_dir=project_with(tmp_path, pluginsDir="plugins"))
    archive = uploaded_zip(run)
    assert archive.namelist() == ["README.txt", "hooks/custom.py"]  # sorted, relative, no __pycache__
    assert {(i.date_time, i.external_attr >> 16, i.compress_type) for i in archive.infolist()} == {((1980, 1, 1, 0, 0, 0), 0o100644, 0)}
    plugins = run.by_name("dags-plugins")
    assert plugins.inputs["key"] == "plugins.zip" and run.one(ENV).inputs["pluginsS3Path"] == "plugins.zip"
    assert run.one(ENV).inputs["pluginsS3ObjectVersion"] == plugins.outputs["versionId"]


def test_the_local_pipeline_deploys_the_plugins_zip_as_uploaded(tmp_path: Path):
    project = project_with(tmp_path, pluginsDir="plugins")
    run = run_stack("dev", project_dir=project)
    with LocalAws() as aws:
        deploy(run, aws)  # every recorded object, whether its body is a file, text or base64
        bucket = run.by_name("dags-storage-bucket").outputs["bucket"]
        uploaded = aws.client("s3").get_object(Bucket=bucket, Key="plugins.zip")["Body"].read()
    assert uploaded == plugins_zip(project / "plugins")


def test_plugins_are_found_wherever_the_checkout_lives(tmp_path: Path):
    folder = tmp_path / ".pytest_cache" / "plugins"  # a cache-like name above the folder must not hide its files
    folder.mkdir(parents=True)
    (folder / "hook.py").write_text("X = 1\n")
    assert zipfile.ZipFile(io.BytesIO(plugins_zip(folder))).namelist() == ["hook.py"]


def test_rebuilding_unchanged_plugins_changes_nothing(tmp_path: Path):
    project = project_with(tmp_path, pluginsDir="plugins")
    before = run_stack("dev", project_dir=project)
    for path in (project / "plugins").rglob("*"):  # what a fresh clone does: new mtimes, other modes, stray caches
        os.utime(path, (1_900_000_000, 1_900_000_000))
        path.chmod(0o755 if path.is_dir() else 0o600)
    (project / "plugins" / "hooks" / "__pycache__").mkdir()
    (project / "plugins" / "hooks" / "__pycache__" / "custom.cpython-311.pyc").write_bytes(b"\0")
    after = run_stack("dev", project_dir=project)
    assert after.by_name("dags-plugins").inputs["contentBase64"] == before.by_name("dags-plugins").inputs["contentBase64"]
    assert env_diff(before, after) == set()


def test_changing_one_plugin_file_changes_exactly_the_plugins_version(tmp_path: Path):
    project = project_with(tmp_path, pluginsDir="plugins")
    before = run_stack("dev", project_dir=project)
    (project / "plugins" / "hooks" / "custom.py").write_text("VALUE = 2\n")
    after = run_stack("dev", project_dir=project)
    assert env_diff(before, after) == {"pluginsS3ObjectVersion"}
    changed = {r.name for r in after.of_type(OBJECT) if r.outputs.get("versionId") != before.by_name(r.name).outputs.get("versionId")}
    assert changed == {"dags-plugins"}


# --- customer-managed KMS --------------------------------------------------------------------


def test_no_key_means_mwaas_aws_owned_key(dev: StackRun):
    assert "kmsKey" not in dev.one(ENV).inputs and dev.of_type("aws:kms/key:Key") == []
    (sse,) = [r for r in dev.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
              if r.name.startswith("dags-")]  # fmt: skip
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_a_created_key_rotates_and_covers_environment_logs_bucket_and_role(prod: StackRun):
    key = prod.one("aws:kms/key:Key")
    arn = key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True and key.protect
    assert prod.one("aws:kms/alias:Alias").inputs["name"] == f"alias/{prod.outputs['environment_name']}"
    root, logs = json.loads(key.inputs["policy"])["Statement"]
    region, name = stack_settings("prod").region, prod.outputs["environment_name"]
    assert root["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"}
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:123456789012:log-group:airflow-{name}-*"
    }
    env = prod.one(ENV)
    assert env.inputs["kmsKey"] == arn and key.urn in env.property_dependencies["kmsKey"]
    groups = [g for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("airflow-logs-")]
    assert {g.inputs["kmsKeyId"] for g in groups} == {arn}
    (sse,) = [r for r in prod.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
              if r.name.startswith("dags-")]  # fmt: skip
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": arn}
    statements = {s["Sid"]: s for s in json.loads(prod.by_name("airflow-execution-policy").inputs["policy"])["Statement"]}
    assert "AwsOwnedKeyViaSqs" not in statements
    assert statements["CustomerKeyViaSqsAndS3"]["Resource"] == [arn]
    assert statements["CustomerKeyViaSqsAndS3"]["Condition"]["StringLike"]["kms:ViaService"] == [
        f"sqs.{region}.amazonaws.com",
        f"s3.{region}.amazonaws.com",
    ]


def test_an_existing_key_arn_is_used_as_is():
    run = run_stack("dev", config=with_setting("mwaa", "kms", KEY_ARN))
    assert run.of_type("aws:kms/key:Key") == [] and run.one(ENV).inputs["kmsKey"] == KEY_ARN


def test_the_key_survives_a_pause():
    config = dict(stack_config("prod")) | {"mwaa-platform:dutyCycle": {"enabled": True}}
    config["mwaa-platform:mwaa"] = config["mwaa-platform:mwaa"] | {"protect": False}
    assert len(run_stack("prod", config=config, at=PAUSED_AT).of_type("aws:kms/key:Key")) == 1


def test_a_replaced_environment_is_deleted_first(each_stack: StackRun):
    # kmsKey and the subnets can only be set at creation; MWAA names are unique, so create-before-delete would fail.
    assert each_stack.one(ENV).delete_before_replace


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "mwaa-platform:mwaa.kms: kms 'yes' must be none, create, or a KMS key ARN"),
        (
            KEY_ARN.replace(REGION, other_region(REGION)),
            f"mwaa.kms is a key in {other_region(REGION)}; MWAA needs a key in the stack's region {REGION}",
        ),
    ],
)
def test_bad_kms_settings_are_clear_errors(value: str, message: str):
    with pytest.raises(ConfigError) as caught:
        run_stack("dev", config=with_setting("mwaa", "kms", value))
    assert message in str(caught.value) and caught.value.recorded == []


def test_the_pack_notes_the_aws_owned_key_in_dev_and_blocks_it_in_prod():
    prod_without_key = run_stack("prod", config=in_priced_region("prod", "mwaa", "kms", "none"))  # the budget judged anywhere
    result = run_gate(prod_without_key, *stack_pack_config("prod"))
    (blocked,) = [v for v in result.violations if v.level == "mandatory"]  # advisories aside (prod's placeholder address)
    assert blocked.policy == "mwaa-customer-managed-key" and not result.passed
    assert "uses MWAA's AWS-owned key; set mwaa.kms to create" in blocked.message
    # At a first preview the created key's ARN is unknown; the graph edge to the key is enough.
    preview = run_gate(run_stack("prod", preview=True), *stack_pack_config("prod"))
    assert "mwaa-customer-managed-key" not in {v.policy for v in preview.violations}


# --- PUBLIC_AND_PRIVATE ------------------------------------------------------------------------


def test_public_and_private_needs_airflow_3_2():
    config = with_setting("mwaa", "webserverAccessMode", "PUBLIC_AND_PRIVATE")
    assert run_stack("dev", config=config).one(ENV).inputs["webserverAccessMode"] == "PUBLIC_AND_PRIVATE"
    config["mwaa-platform:mwaa"]["airflowVersion"] = "3.0.6"
    with pytest.raises(ConfigError, match=r"webserverAccessMode PUBLIC_AND_PRIVATE needs Airflow 3.2 or later \(3.2.1, 3.3.1\)"):
        run_stack("dev", config=config)


def test_the_igw_rule_treats_public_and_private_as_public():
    from offline.gate import PolicyPackProcess

    resources, subnets = network(igw_attached=False)
    source = guarded_bucket()
    with PolicyPackProcess() as pack:
        for mode, expected in (("PUBLIC_AND_PRIVATE", 1), ("PRIVATE_ONLY", 0)):
            result = check(pack, *resources, *source, environment(source[0], subnets, webserverAccessMode=mode))
            assert len(violations(result, "mwaa-public-webserver-has-igw")) == expected, mode
