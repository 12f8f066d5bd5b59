"""The roles CI assumes, as code (bootstrap/): derived from what the stacks declare, planned under mocks, gated by the
same pack as the stacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pulumi
import pytest

from offline.commands import bootstrap as command
from offline.gate import run_gate
from offline.harness import run_stack
from offline.stacks import PROJECT_DIR, stack_names, stack_settings
from tests.stackkit import copy_project

BOOTSTRAP = PROJECT_DIR / "bootstrap"
sys.path.insert(0, str(BOOTSTRAP))
from permissions import TABLE, missing, policy  # noqa: E402  (bootstrap/ is its own Pulumi project)


@pytest.fixture(scope="module")
def ci():
    return run_stack("ci", project_dir=BOOTSTRAP)


def documents(run, kind: str) -> dict[str, dict]:
    """role logical name -> its trust policy (kind "trust") or its inline policy (kind "policy")."""
    if kind == "trust":
        return {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in run.of_type("aws:iam/role:Role")}
    return {r.name.removesuffix("-policy"): json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")}


def test_every_resource_type_a_stack_declares_has_its_permissions():
    """Run live, not from the file: a stack that gains a type the table lacks fails here before CI can't deploy it."""
    declared = command.declared()
    assert {entry["stack"] for entry in declared} == set(stack_names())
    assert missing({t for entry in declared for t in entry["resources"]}) == []
    assert missing({"aws:rds/instance:Instance"}) == ["aws:rds/instance:Instance"]  # the check itself can fail


def test_the_declared_file_follows_the_stacks(tmp_path: Path):
    assert command.stale(PROJECT_DIR) == []
    project = copy_project(tmp_path)
    entries = json.loads((project / command.DECLARED).read_text())
    del entries[0]["resources"]["aws:glue/job:Job"]  # a type a stack declares, missing: its role couldn't deploy it
    (project / command.DECLARED).write_text(json.dumps(entries, indent=2) + "\n")
    assert command.stale(project) == [str(command.DECLARED)]


def test_each_role_trusts_only_its_own_jobs_for_as_long_as_they_run(ci):
    trusts = documents(ci, "trust")
    subjects = {
        name: t["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] for name, t in trusts.items()
    }
    assert subjects == {
        "ci-preview": ["repo:acme/mwaa-platform:pull_request", "repo:acme/mwaa-platform:ref:refs/heads/main"],
        "ci-deploy-dev": ["repo:acme/mwaa-platform:environment:dev"],
        "ci-deploy-prod": ["repo:acme/mwaa-platform:environment:prod"],
    }
    for trust in trusts.values():
        assert trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    sessions = {r.name: r.inputs["maxSessionDuration"] for r in ci.of_type("aws:iam/role:Role")}
    assert sessions == {"ci-preview": 3600, "ci-deploy-dev": 10800, "ci-deploy-prod": 10800}  # the jobs' timeouts (docs/real-path.md)
    (provider,) = ci.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"


def declared(stack: str) -> dict:
    """The stack's entry of bootstrap/declared.json."""
    return next(entry for entry in json.loads((BOOTSTRAP / "declared.json").read_text()) if entry["stack"] == stack)


def actions(document: dict) -> dict[str, list[str]]:
    """action -> the resources it is allowed on."""
    found: dict[str, list[str]] = {}
    for statement in document["Statement"]:
        listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in listed:
            found.setdefault(action, []).extend(resources)
    return found


def test_each_deploy_role_may_change_its_own_stacks_only(ci):
    policies = {name: actions(document) for name, document in documents(ci, "policy").items()}
    dev, prod = policies["ci-deploy-dev"], policies["ci-deploy-prod"]
    dev_settings, prod_settings = stack_settings("dev"), stack_settings("prod")
    environment = "arn:aws:airflow:{0.region}:123456789012:environment/{0.name}"
    assert dev["airflow:CreateEnvironment"] == [environment.format(dev_settings)]
    assert prod["airflow:DeleteEnvironment"] == [environment.format(prod_settings)]
    assert dev["lambda:CreateFunction"] == [f"arn:aws:lambda:{dev_settings.region}:123456789012:function:{dev_settings.name}-*"]
    # The duty cycle's Airflow state (InvokeRestApi) and a created key only where the stack has them.
    for granted, settings in ((dev, dev_settings), (prod, prod_settings)):
        assert ("airflow:InvokeRestApi" in granted) == settings.duty_cycle.enabled
        assert ("kms:CreateKey" in granted) == (settings.mwaa.kms == "create")
    # Roles: its stack's own, by logical name; it can't attach a policy to, or pass, any other role (its own included).
    assert all(r.startswith("arn:aws:iam::123456789012:role/") and r.endswith("-*") for r in dev["iam:PutRolePolicy"])
    assert "arn:aws:iam::123456789012:role/*" not in dev["iam:PutRolePolicy"] + dev["iam:PassRole"] + dev["iam:AttachRolePolicy"]
    # A bucket's parts (versioning, encryption, its objects) on the stack's own buckets, as the buckets themselves.
    buckets = sorted(f"arn:aws:s3:::{logical}-*" for logical in declared("dev")["resources"]["aws:s3/bucket:Bucket"])
    assert (
        sorted(dev["s3:CreateBucket"]) == sorted(dev["s3:PutBucketVersioning"]) == sorted(dev["s3:PutEncryptionConfiguration"]) == buckets
    )
    assert sorted(dev["s3:DeleteObjectVersion"]) == [f"{bucket}/*" for bucket in buckets]
    statements = documents(ci, "policy")["ci-deploy-dev"]["Statement"]
    attach = next(s for s in statements if s["Action"] == ["iam:AttachRolePolicy", "iam:DetachRolePolicy"])
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]}}


def test_the_preview_role_only_reads():
    document = policy(json.loads((BOOTSTRAP / "declared.json").read_text()), "123456789012", write=False)
    granted = actions(document)
    verbs = ("Get", "List", "Describe")
    assert all(action.split(":")[1].startswith(verbs) for action in granted), sorted(
        a for a in granted if not a.split(":")[1].startswith(verbs)
    )
    assert "airflow:GetEnvironment" in granted and "airflow-serverless:GetWorkflow" in granted  # every stack it previews


def test_every_role_policy_fits_iams_inline_quota(ci):
    sizes = {name: len(json.dumps(document, separators=(",", ":"))) for name, document in documents(ci, "policy").items()}
    assert all(size <= 10_240 for size in sizes.values()), sizes


def test_the_same_pack_gates_the_bootstrap(ci):
    result = run_gate(ci)
    assert result.passed, [(v.policy, v.message) for v in result.mandatory]
    assert result.resources == len(ci.resources)


def test_an_environment_naming_an_unknown_stack_is_one_error_before_anything_is_registered():
    config = {
        "aws:region": "us-east-1",
        "pulumi:disable-default-providers": ["aws"],
        "mwaa-bootstrap:repository": "acme/mwaa-platform",
        "mwaa-bootstrap:owner": "data-platform",
        "mwaa-bootstrap:costCenter": "cc",
        "mwaa-bootstrap:environments": {"staging": ["staging"]},
    }
    with pytest.raises(
        pulumi.RunError, match=r"mwaa-bootstrap:environments: .*environments.staging names staging; stacks: dev, lite, prod"
    ) as caught:
        run_stack("ci", project_dir=BOOTSTRAP, config=config)
    assert caught.value.recorded == []  # type: ignore[attr-defined]


def test_the_table_names_actions_not_services():
    for resource_type, access in TABLE.items():
        assert all(":" in action and not action.endswith(":*") for action in access.write + access.read), resource_type
