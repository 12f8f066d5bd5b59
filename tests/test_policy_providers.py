"""No side doors: the mandatory rules hold for every provider and resource type, and no rule can abort the analysis.

All through the real pack over the Analyzer protocol, as in test_policies.py.
"""

from __future__ import annotations

import json

import pytest

from offline.gate import PolicyPackProcess
from tests.policykit import UNKNOWN, Res, bucket, check, environment, guarded_bucket, public_access_block, versioning, violations

VERSIONED, PUBLIC, CLASS, SOURCE = (
    "s3-bucket-versioning-enabled",
    "s3-public-access-blocked",
    "mwaa-environment-class",
    "mwaa-source-bucket-guarded",
)
BLOCK_ALL = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as analyzer:
        yield analyzer


def native_bucket(name: str = "native", status: object = "Enabled", **props: object) -> Res:
    versioned = {"versioningConfiguration": {"status": status}} if status else {}
    return Res("aws-native:s3:Bucket", name, {"publicAccessBlockConfiguration": BLOCK_ALL, **versioned, **props})


def native_environment(source: Res | None = None, **props: object) -> Res:
    env = environment(source, **props)
    env.type = "aws-native:mwaa:Environment"
    return env


def stack(template: str, kind: str = "aws:cloudformation/stack:Stack", name: str = "cfn") -> Res:
    return Res(kind, name, {"templateBody": template})


# --- pulumi-aws-native --------------------------------------------------------------


def test_aws_native_buckets_need_inline_versioning_and_public_access_block(pack):
    assert check(pack, native_bucket()).violations == []
    result = check(pack, native_bucket("plain", status=None, publicAccessBlockConfiguration={"blockPublicAcls": True}))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket Bucket 'plain' has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]
    assert violations(result, PUBLIC) == [
        "[mandatory] bucket Bucket 'plain': public access block leaves blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets"
        " not true (all four must be literal true)"
    ]
    assert violations(check(pack, native_bucket("paused", status="Suspended")), VERSIONED) == [
        "[mandatory] bucket Bucket 'paused': versioning is Suspended; every versioning setting on a bucket must be the literal 'Enabled'"
    ]


def test_aws_native_environments_get_the_class_allow_list(pack):
    source = native_bucket()
    assert violations(check(pack, source, native_environment(source, environmentClass="mw1.large")), CLASS) == [
        "[mandatory] environmentClass mw1.large is not allowed; allowed: mw1.small"
        " (the limit is mwaa-environment-class.allowedClasses in the stack's pack config, policies/config/<stack>.json)"
    ]
    for env in (native_environment(source), native_environment(source, environmentClass=None)):  # None: MWAA's default
        result = check(pack, source, env)
        assert violations(result, CLASS) == violations(result, SOURCE) == violations(result, VERSIONED) == []


def test_aws_native_environment_source_bucket_must_be_guarded(pack):
    source = native_bucket("dags", status="Suspended")
    assert violations(check(pack, source, native_environment(source)), SOURCE) == [
        "[mandatory] Environment 'env' reads DAGs from a bucket that is not guarded: bucket Bucket 'dags': versioning is Suspended;"
        " every versioning setting on a bucket must be the literal 'Enabled'"
    ]


def test_an_unknown_aws_native_class_fails_closed(pack):
    source = native_bucket()
    assert violations(check(pack, source, native_environment(source, environmentClass=UNKNOWN)), CLASS) == [
        "[mandatory] environmentClass is not known at preview; set it from config so it can be checked against ['mw1.small']"
    ]


# --- pulumi-aws legacy and mixed versioning ---------------------------------------------------


def test_legacy_bucket_v2_with_inline_or_separate_versioning(pack):
    inline = Res("aws:s3/bucketV2:BucketV2", "legacy", {"versionings": [{"enabled": True}]})
    assert violations(check(pack, inline, public_access_block(inline)), VERSIONED) == []
    separate = Res("aws:s3/bucketV2:BucketV2", "legacy2")
    v2 = Res(
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
        "v2",
        {"bucket": UNKNOWN, "versioningConfiguration": {"status": "Suspended"}},
        {"bucket": [separate]},
    )
    assert violations(check(pack, separate, v2, public_access_block(separate)), VERSIONED) == [
        "[mandatory] bucket BucketV2 'legacy2': versioning is Suspended; every versioning setting on a bucket must be the literal 'Enabled'"
    ]


def test_inline_enabled_and_separate_suspended_disagree(pack):
    b = bucket(versioning={"enabled": True})
    assert violations(check(pack, b, versioning(b, "Suspended"), public_access_block(b)), VERSIONED) == [
        "[mandatory] bucket Bucket 'data': versioning is Enabled, Suspended;"
        " every versioning setting on a bucket must be the literal 'Enabled'"
    ]


def test_versioning_of_a_bucket_named_after_another_does_not_count(pack):
    dags = bucket("dags", bucket="dags-123")
    logs_versioning = Res(
        "aws:s3/bucketVersioning:BucketVersioning",
        "logs-versioning",
        {"bucket": "dags-123-logs", "versioningConfiguration": {"status": "Enabled"}},  # f"{dags.id}-logs": an edge to dags
        {"bucket": [dags]},
    )
    result = check(pack, dags, logs_versioning, public_access_block(dags), environment(dags))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket Bucket 'dags' has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]
    (unguarded,) = violations(result, SOURCE)
    assert "reads DAGs from a bucket that is not guarded: bucket Bucket 'dags' has no aws.s3.BucketVersioning" in unguarded


def test_a_source_arn_built_from_the_versioning_resource_is_accepted(pack):
    dags, v, pab = guarded_bucket("dags")
    env = environment(v)  # sourceBucketArn = versioning.bucket.apply(arn): waits for versioning, depends on it
    result = check(pack, dags, v, pab, env)
    assert violations(result, SOURCE) == violations(result, VERSIONED) == []
    unversioned = bucket("raw")
    only_pab = public_access_block(unversioned)
    assert violations(check(pack, unversioned, only_pab, environment(only_pab)), SOURCE) == [  # found through the block
        "[mandatory] Environment 'env' reads DAGs from a bucket that is not guarded: bucket Bucket 'raw' has no"
        " aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]


# --- CloudFormation templates inside a Pulumi program -------------------------------------------


CFN_JSON = {
    "Resources": {
        "Logs": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"PublicAccessBlockConfiguration": {k[:1].upper() + k[1:]: True for k in BLOCK_ALL}},
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
}

CFN_YAML = """
Resources:
  Dags:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {Status: Enabled}
      PublicAccessBlockConfiguration: {BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true}
  Airflow:
    Type: AWS::MWAA::Environment
    Properties:
      Name: !Sub "${AWS::StackName}-airflow"
      EnvironmentClass: mw1.large
      SourceBucketArn: !GetAtt Dags.Arn
"""


@pytest.mark.parametrize("kind", ["aws:cloudformation/stack:Stack", "aws-native:cloudformation:Stack"])
def test_buckets_and_environments_in_cloudformation_templates_are_checked(pack, kind: str):
    result = check(pack, stack(json.dumps(CFN_JSON), kind))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket AWS::S3::Bucket 'Logs' in CloudFormation stack Stack 'cfn' has no aws.s3.BucketVersioning with status"
        " Enabled; add one (components/secure_bucket.py does)"
    ]
    result = check(pack, stack(CFN_YAML, kind))
    assert violations(result, CLASS) == [
        "[mandatory] AWS::MWAA::Environment 'Airflow' in CloudFormation stack Stack 'cfn': environmentClass mw1.large is not allowed;"
        " allowed: mw1.small"
        " (the limit is mwaa-environment-class.allowedClasses in the stack's pack config, policies/config/<stack>.json)"
    ]
    assert violations(result, VERSIONED) == [] and violations(result, SOURCE) == []  # !GetAtt Dags.Arn: a guarded bucket


def test_a_template_the_pack_cant_read_fails_closed(pack):
    hidden = Res("aws:cloudformation/stack:Stack", "hidden", {"templateUrl": "https://bucket.s3.amazonaws.com/t.yaml"})
    result = check(pack, hidden)
    assert violations(result, VERSIONED) == [
        "[mandatory] CloudFormation stack Stack 'hidden': its template is not inline (templateUrl), so what it creates can't be"
        " checked; pass templateBody; it may declare S3 buckets"
    ]
    assert violations(result, CLASS) == [
        "[mandatory] CloudFormation stack Stack 'hidden': its template is not inline (templateUrl), so what it creates can't be"
        " checked; pass templateBody; it may declare MWAA environments"
    ]
    assert not result.passed


# --- no rule can abort the analysis -------------------------------------------------------------


def test_values_from_config_get_are_coerced_and_nothing_crashes_the_analysis(pack):
    source = guarded_bucket()
    env = environment(source[0], maxWorkers="30", schedulers="2", maxWebservers="2")  # strings, as Config.get gives
    glue = Res("aws:glue/job:Job", "ray", {"name": "ray", "workerType": "Z.2X", "numberOfWorkers": "4"})
    unversioned = bucket("loose")
    provider = Res("pulumi:providers:aws", "aws", {"region": "us-east-1"})
    result = check(
        pack, provider, *source, env, glue, unversioned, public_access_block(unversioned), config={"monthly-cost-budget": "advisory"}
    )
    assert violations(result, "mwaa-capacity-limits") == [
        "[mandatory] maxWorkers is 30, above this stack's ceiling of 10"
        " (the limit is mwaa-capacity-limits.maxWorkers in the stack's pack config, policies/config/<stack>.json)"
    ]
    assert violations(result, "monthly-cost-budget") == [
        "[advisory] can't estimate the monthly cost: no DPU figure for Glue workerType Z.2X; add it to GLUE_WORKER_DPU in cost_model.py"
    ]
    (unversioned_problem,) = violations(result, VERSIONED)  # every other policy still reported
    assert unversioned_problem.startswith("[mandatory] bucket Bucket 'loose' has no aws.s3.BucketVersioning with status Enabled")


def test_a_value_no_rule_can_read_is_a_violation_with_the_reason(pack):
    source = guarded_bucket()
    result = check(pack, *source, environment(source[0], maxWorkers="ten"))
    assert violations(result, "mwaa-capacity-limits") == [
        "[mandatory] can't evaluate this rule on these inputs (ValueError: maxWorkers is 'ten', not a number); set literal values"
    ]


# --- IAM documents and tags wherever they live ----------------------------------------------------


def document(action: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})


@pytest.mark.parametrize(
    ("resource", "flagged"),
    [
        (
            Res(
                "aws:iam/role:Role",
                "r",
                {"inlinePolicies": [{"name": "ok", "policy": document("s3:GetObject")}, {"policy": document("s3:*")}]},
            ),
            True,
        ),
        (Res("aws:s3/bucketPolicy:BucketPolicy", "bp", {"policy": document("s3:*")}), True),
        (Res("aws:s3/bucketPolicy:BucketPolicy", "tls", {"policy": document("s3:*", "Deny")}), False),
        (Res("aws-native:iam:Role", "nr", {"policies": [{"policyName": "p", "policyDocument": json.loads(document("*"))}]}), True),
        (Res("aws-native:iam:ManagedPolicy", "mp", {"policyDocument": json.loads(document("glue:*"))}), True),
        (Res("aws:sqs/queuePolicy:QueuePolicy", "qp", {"policy": document("sqs:SendMessage")}), False),
    ],
    ids=["role-inline-policies", "bucket-policy", "deny-is-fine", "native-role", "native-managed-policy", "scoped-queue-policy"],
)
def test_wildcard_actions_are_found_in_every_kind_of_policy_document(pack, resource: Res, flagged: bool):
    assert bool(violations(check(pack, resource), "iam-no-wildcard-actions")) is flagged


def test_required_tags_cover_legacy_and_aws_native_buckets(pack):
    config = {"required-tags": "mandatory"}
    legacy = Res("aws:s3/bucketV2:BucketV2", "legacy", {"tags": {"project": "p"}})
    native = Res("aws-native:s3:Bucket", "native", {"tags": [{"key": "project", "value": "p"}, {"key": "stack", "value": "s"}]})
    result = check(pack, legacy, native, config=config)
    assert violations(result, "required-tags") == [
        "[mandatory] missing tags stack, owner, cost-center; set them in the provider's defaultTags or on the resource",
        "[mandatory] missing tags owner, cost-center; set them in the provider's defaultTags or on the resource",
    ]


def test_aws_native_security_groups_are_checked_for_open_ingress(pack):
    group = Res("aws-native:ec2:SecurityGroup", "sg", {"securityGroupIngress": [{"ipProtocol": "tcp", "cidrIp": "0.0.0.0/0"}]})
    rule = Res("aws-native:ec2:SecurityGroupIngress", "rule", {"ipProtocol": "-1", "cidrIpv6": "::/0"})
    advice = "is open to the internet; allow the group itself or a known range instead"
    assert violations(check(pack, group, rule), "security-group-no-public-ingress") == [
        f"[mandatory] ingress from {cidr} {advice}" for cidr in ("0.0.0.0/0", "::/0")
    ]
