"""The pack on MWAA Serverless workflows and deployment modes, through the Analyzer protocol: the lite stack as the
program declares it, and outside-style programs that declare a workflow badly (aws-native or CloudFormation)."""

from __future__ import annotations

import json
import re

import pytest

from offline.gate import PackConfigError, PolicyPackProcess, run_gate, stack_pack_config
from offline.harness import run_stack
from tests.policykit import UNKNOWN, Res, bucket, check, guarded_bucket, violations

DEFINITION, ROLE, MODE = "mwaa-serverless-definition-guarded", "mwaa-serverless-role-least-privilege", "deployment-mode-allowed"
#: The trust AWS documents for a workflow's role: the service principal alone (components/serverless_workflow.py says why).
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "airflow-serverless.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SCOPED = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": ["arn:f"]}]}


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as analyzer:
        yield analyzer


def role(trust: dict = TRUST, name: str = "role") -> Res:
    return Res("aws:iam/role:Role", name, {"assumeRolePolicy": json.dumps(trust)})


def role_policy(target: Res, document: dict = SCOPED) -> Res:
    props = {"role": UNKNOWN, "policy": json.dumps(document)}
    return Res("aws:iam/rolePolicy:RolePolicy", f"{target.name}-policy", props, {"role": [target]})


def definition(target: Res) -> Res:
    return Res("aws:s3/bucketObjectv2:BucketObjectv2", "definition", {"bucket": UNKNOWN, "key": "workflows/w.yaml"}, {"bucket": [target]})


def workflow(source: Res | None, execution: Res | None, version: object = UNKNOWN, **location: object) -> Res:
    place = {"bucket": UNKNOWN, "objectKey": "workflows/w.yaml", **({"versionId": version} if version else {}), **location}
    deps = {key: [dep] for key, dep in (("definitionS3Location", source), ("roleArn", execution)) if dep}
    return Res("aws-native:mwaaserverless:Workflow", "workflow", {"definitionS3Location": place, "roleArn": UNKNOWN}, deps)


def good_stack() -> list[Res]:
    dags = guarded_bucket()
    obj, execution = definition(dags[0]), role()
    return [*dags, obj, execution, role_policy(execution), workflow(obj, execution)]


def test_the_lite_stack_passes_its_own_config_and_prod_refuses_it():
    lite = run_stack("lite")
    own = run_gate(lite, *stack_pack_config("lite"))
    assert own.passed and not violations(own, DEFINITION) + violations(own, ROLE) + violations(own, MODE)
    prod_config, _ = stack_pack_config("prod")
    as_prod = run_gate(lite, prod_config)
    refused = violations(as_prod, MODE)  # each workflow: the pipeline's, and a fork's own
    assert len(refused) == len(lite.of_type("aws-native:mwaaserverless:Workflow"))
    message = next(m for m in refused if "Workflow 'serverless-workflow'" in m)
    assert message.startswith("[mandatory] Workflow 'serverless-workflow' is an MWAA Serverless workflow (mode serverless); this stack")
    assert "deployment-mode-allowed.allowedModes in the stack's pack config" in message


def test_an_environment_in_a_serverless_only_stack_is_refused():
    dev = run_stack("dev")
    result = run_gate(dev, {"deployment-mode-allowed": {"allowedModes": ["serverless"]}})
    (message,) = violations(result, MODE)
    assert "Environment 'airflow-environment' is an MWAA environment (mode provisioned)" in message


def test_a_well_declared_workflow_passes(pack):
    result = check(pack, *good_stack())
    assert violations(result, DEFINITION) == [] and violations(result, ROLE) == []


def test_an_unversioned_or_public_definition_bucket_is_refused(pack):
    plain = bucket("dags")
    obj = definition(plain)
    found = violations(check(pack, plain, obj, role(), workflow(obj, role())), DEFINITION)
    assert any("has no aws.s3.BucketVersioning with status Enabled" in v for v in found)
    assert any("has no aws.s3.BucketPublicAccessBlock" in v for v in found)


def test_a_definition_from_outside_the_stack_or_unpinned_is_refused(pack):
    execution = role()
    (outside,) = violations(check(pack, execution, workflow(None, execution, bucket="someone-elses-bucket")), DEFINITION)
    assert "definitionS3Location.bucket does not come from a bucket in this stack" in outside
    dags = guarded_bucket()
    (unpinned,) = violations(check(pack, *dags, execution, workflow(dags[0], execution, version=None)), DEFINITION)
    assert "definitionS3Location.versionId is not set" in unpinned


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("wildcard", "grants wildcard actions s3:*"),
        ("other-service", "its trust policy does not name airflow-serverless.amazonaws.com"),
        ("managed", "attaches AWS-managed policies arn:aws:iam::aws:policy/AdministratorAccess"),
        ("outside", "roleArn does not come from a role in this stack"),
    ],
)
def test_a_workflow_role_that_is_not_least_privilege_is_refused(pack, change: str, message: str):
    dags = guarded_bucket()
    obj = definition(dags[0])
    trust = TRUST
    if change == "other-service":
        trust = {"Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "glue.amazonaws.com"}}]}
    execution = role(trust)
    everything = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    extra = [role_policy(execution, everything)] if change == "wildcard" else []
    if change == "managed":
        extra = [Res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin",
                     {"role": UNKNOWN, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, {"role": [execution]})]  # fmt: skip
    found = violations(check(pack, *dags, obj, execution, *extra, workflow(obj, None if change == "outside" else execution)), ROLE)
    assert len(found) == 1 and message in found[0], found


TEMPLATE = """
Resources:
  Definitions:
    Type: AWS::S3::Bucket
  Runner:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: airflow-serverless.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: everything
          PolicyDocument:
            Statement: [{Effect: Allow, Action: "*", Resource: "*"}]
  Pipeline:
    Type: AWS::MWAAServerless::Workflow
    Properties:
      DefinitionS3Location: {Bucket: !Ref Definitions, ObjectKey: w.yaml}
      RoleArn: !GetAtt Runner.Arn
"""


def test_a_workflow_in_a_cloudformation_template_is_checked_like_any_other(pack):
    stack = Res("aws:cloudformation/stack:Stack", "outside", {"templateBody": TEMPLATE})
    result = check(pack, stack, config={MODE: {"allowedModes": ["provisioned"]}})
    definition_problems, role_problems = violations(result, DEFINITION), violations(result, ROLE)
    label = "AWS::MWAAServerless::Workflow 'Pipeline' in CloudFormation stack Stack 'outside'"
    bucket_problem = f"[mandatory] {label}: bucket AWS::S3::Bucket 'Definitions' in the same template has no aws.s3.BucketVersioning"
    assert any(v.startswith(bucket_problem) for v in definition_problems)
    assert any("definitionS3Location.versionId is not set" in v for v in definition_problems)
    assert not any("trust policy" in v for v in role_problems)  # the service principal alone: the trust AWS documents
    assert any("grants wildcard actions *" in v for v in role_problems)
    assert any(label in v and "mode serverless" in v for v in violations(result, MODE))


def test_a_template_the_pack_cant_read_fails_closed_where_serverless_is_forbidden(pack):
    stack = Res("aws:cloudformation/stack:Stack", "opaque", {"templateUrl": "https://example.com/t.yaml"})
    found = violations(check(pack, stack, config={MODE: {"allowedModes": ["provisioned"]}}), MODE)
    assert any("its template is not inline (templateUrl)" in v and "may declare an MWAA Serverless workflow" in v for v in found)
    assert violations(check(pack, stack), MODE) == []  # both modes allowed: nothing it could declare is forbidden


def test_the_mode_allow_list_rejects_a_mode_that_does_not_exist(pack):
    message = "deployment-mode-allowed: 'serverles' is not one of ['provisioned', 'serverless']"
    with pytest.raises(PackConfigError, match=re.escape(message)):
        check(pack, *good_stack(), config={MODE: {"allowedModes": ["serverles"]}})
