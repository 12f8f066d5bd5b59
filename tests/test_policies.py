"""Every rule of the real pack, compliant and violating, over the Analyzer protocol."""

from __future__ import annotations

import json
import re

import pytest

from offline.gate import PackConfigError, PolicyPackProcess, pack_version
from tests.policykit import (
    UNKNOWN,
    Res,
    bucket,
    check,
    environment,
    guarded_bucket,
    network,
    public_access_block,
    versioning,
    violations,
)

CLASS = "mwaa-environment-class"
#: Every limit's violation says where the limit is set.
LIMIT = " (the limit is {} in the stack's pack config, policies/config/<stack>.json)"
VERSIONED = "s3-bucket-versioning-enabled"
SOURCE = "mwaa-source-bucket-guarded"


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as analyzer:
        yield analyzer


def test_pack_describes_itself(pack):
    result = check(pack)
    assert result.pack == "mwaa-guardrails" and result.version == pack_version()
    assert result.policies >= 12


# --- s3-bucket-versioning-enabled --------------------------------------------------


def test_versioned_bucket_passes_even_with_unknown_ids(pack):
    assert check(pack, *guarded_bucket()).violations == []


def test_suspended_versioning_is_a_mandatory_violation(pack):
    b = bucket()
    result = check(pack, b, versioning(b, "Suspended"), public_access_block(b))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket Bucket 'data': versioning is Suspended; every versioning setting on a bucket must be the literal 'Enabled'"
    ]
    assert not result.passed


def test_missing_versioning_names_the_bucket(pack):
    b = bucket("lonely")
    assert violations(check(pack, b, public_access_block(b)), VERSIONED) == [
        "[mandatory] bucket Bucket 'lonely' has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]


def test_versioning_attached_to_another_bucket_does_not_count(pack):
    a, b = bucket("a"), bucket("b")
    result = check(pack, a, b, versioning(b), public_access_block(a), public_access_block(b))
    assert [v.urn.rsplit("::", 1)[1] for v in result.violations if v.policy == VERSIONED] == ["a"]


def test_literal_bucket_names_link_without_dependencies(pack):
    b = bucket("named", bucket="my-dags")
    v = Res("aws:s3/bucketVersioning:BucketVersioning", "v", {"bucket": "my-dags", "versioningConfiguration": {"status": "Enabled"}})
    assert violations(check(pack, b, v, public_access_block(b)), VERSIONED) == []


def test_legacy_inline_versioning_counts(pack):
    b = bucket(versioning={"enabled": True})
    assert violations(check(pack, b, public_access_block(b)), VERSIONED) == []


def test_unknown_versioning_status_fails_closed_and_stays_mandatory(pack):
    b = bucket()
    result = check(pack, b, versioning(b, UNKNOWN), public_access_block(b))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket Bucket 'data': versioning status is not known at preview; set it to the literal 'Enabled'"
    ]


def test_buckets_inside_a_remote_component_are_checked(pack):
    component = Res("awsx:s3:Storage", "vendor-storage")
    inner = bucket("inner")
    inner.parent = component
    result = check(pack, component, inner, public_access_block(inner))
    assert violations(result, VERSIONED) == [
        "[mandatory] bucket Bucket 'inner' has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]
    assert result.violations[0].urn == "urn:pulumi:test::mwaa-platform::awsx:s3:Storage$aws:s3/bucket:Bucket::inner"


# --- s3-public-access-blocked ------------------------------------------------------


def test_public_access_block_must_set_all_four_flags(pack):
    b = bucket()
    result = check(pack, b, versioning(b), public_access_block(b, restrictPublicBuckets=False, ignorePublicAcls=UNKNOWN))
    assert violations(result, "s3-public-access-blocked") == [
        "[mandatory] bucket Bucket 'data': public access block leaves ignorePublicAcls, restrictPublicBuckets not true"
        " (all four must be literal true)"
    ]


def test_bucket_without_public_access_block(pack):
    b = bucket()
    assert violations(check(pack, b, versioning(b)), "s3-public-access-blocked") == [
        "[mandatory] bucket Bucket 'data' has no aws.s3.BucketPublicAccessBlock; add one with all four flags true"
    ]


# --- mwaa-environment-class ------------------------------------------------------------


def test_small_class_passes(pack):
    assert violations(check(pack, environment()), CLASS) == []


def test_medium_class_is_blocked(pack):
    assert violations(check(pack, environment(environmentClass="mw1.medium")), CLASS) == [
        "[mandatory] environmentClass mw1.medium is not allowed; allowed: mw1.small"
        " (the limit is mwaa-environment-class.allowedClasses in the stack's pack config, policies/config/<stack>.json)"
    ]


def test_omitted_class_is_the_provider_default_small(pack):
    assert violations(check(pack, environment(environmentClass=None)), CLASS) == []
    result = check(pack, environment(environmentClass=None), config={CLASS: {"allowedClasses": ["mw1.medium"]}})
    assert violations(result, CLASS) == [
        "[mandatory] environmentClass omitted (the provider defaults to mw1.small) is not allowed; allowed: mw1.medium"
        " (the limit is mwaa-environment-class.allowedClasses in the stack's pack config, policies/config/<stack>.json)"
    ]


def test_unknown_class_fails_closed_instead_of_turning_advisory(pack):
    result = check(pack, environment(environmentClass=UNKNOWN))
    assert violations(result, CLASS) == [
        "[mandatory] environmentClass is not known at preview; set it from config so it can be checked against ['mw1.small']"
    ]


def test_allowed_classes_come_from_pack_config(pack):
    assert (
        violations(
            check(pack, environment(environmentClass="mw1.medium"), config={CLASS: {"allowedClasses": ["mw1.small", "mw1.medium"]}}), CLASS
        )
        == []
    )


# --- mwaa-source-bucket-guarded ----------------------------------------------------


def test_environment_on_a_guarded_bucket_passes(pack):
    dags = guarded_bucket()
    assert violations(check(pack, *dags, environment(dags[0])), SOURCE) == []


def test_environment_on_an_unversioned_bucket_is_blocked(pack):
    b = bucket("dags")
    result = check(pack, b, public_access_block(b), environment(b))
    assert violations(result, SOURCE) == [
        "[mandatory] Environment 'env' reads DAGs from a bucket that is not guarded: "
        "bucket Bucket 'dags' has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    ]


def test_environment_on_a_public_bucket_is_blocked(pack):
    b = bucket("dags")
    assert violations(check(pack, b, versioning(b), environment(b)), SOURCE) == [
        "[mandatory] Environment 'env' reads DAGs from a bucket that is not guarded: bucket Bucket 'dags' has no "
        "aws.s3.BucketPublicAccessBlock; add one with all four flags true"
    ]


def test_environment_on_a_bucket_from_elsewhere_is_blocked(pack):
    result = check(pack, environment(sourceBucketArn="arn:aws:s3:::someone-elses"))
    assert violations(result, SOURCE) == [
        "[mandatory] Environment 'env': sourceBucketArn does not come from a bucket in this stack, so its versioning can't be verified"
    ]


# --- capacity, logging, version ---------------------------------------------------------


def test_capacity_ceilings(pack):
    result = check(pack, environment(maxWorkers=11, schedulers=3))
    assert sorted(violations(result, "mwaa-capacity-limits")) == [
        "[mandatory] maxWorkers is 11, above this stack's ceiling of 10" + LIMIT.format("mwaa-capacity-limits.maxWorkers"),
        "[mandatory] schedulers is 3, above this stack's ceiling of 2" + LIMIT.format("mwaa-capacity-limits.maxSchedulers"),
    ]
    assert (
        violations(check(pack, environment(maxWorkers=11), config={"mwaa-capacity-limits": {"maxWorkers": 12}}), "mwaa-capacity-limits")
        == []
    )


def test_every_log_type_must_be_enabled(pack):
    env = environment()
    env.props["loggingConfiguration"]["workerLogs"]["enabled"] = False
    del env.props["loggingConfiguration"]["taskLogs"]
    assert violations(check(pack, env), "mwaa-logging-enabled") == [
        "[mandatory] log types not enabled (as a literal true): taskLogs, workerLogs; MWAA failures are only diagnosable from these logs"
    ]


def test_airflow_version_must_be_supported(pack):
    assert violations(check(pack, environment(airflowVersion="2.4.3")), "mwaa-airflow-version") == [
        "[mandatory] airflowVersion 2.4.3 is not in the supported list ['3.0.6', '3.2.1', '3.3.1']; "
        "the DAGs and requirements are tested against those" + LIMIT.format("mwaa-airflow-version.supportedVersions")
    ]


# --- network ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            Res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "open", {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "-1"}),
            ["0.0.0.0/0"],
        ),
        (
            Res(
                "aws:ec2/securityGroup:SecurityGroup", "inline", {"ingress": [{"cidrBlocks": ["10.0.0.0/8"]}, {"ipv6CidrBlocks": ["::/0"]}]}
            ),
            ["::/0"],
        ),
        (Res("aws:ec2/securityGroupRule:SecurityGroupRule", "legacy", {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]}), ["0.0.0.0/0"]),
        (Res("aws:ec2/securityGroupRule:SecurityGroupRule", "egress", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]}), []),
        (
            Res(
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "self",
                {"referencedSecurityGroupId": UNKNOWN, "ipProtocol": "-1"},
            ),
            [],
        ),
    ],
)
def test_no_ingress_from_the_internet(pack, rule: Res, expected: list[str]):
    found = violations(check(pack, rule), "security-group-no-public-ingress")
    assert found == [
        f"[mandatory] ingress from {c} is open to the internet; allow the group itself or a known range instead" for c in expected
    ]


def test_private_subnets_routed_to_nat_pass(pack):
    resources, subnets = network("nat")
    result = check(pack, *resources, environment(subnets=subnets, webserverAccessMode="PUBLIC_ONLY"))
    assert violations(result, "mwaa-private-subnets-route-to-nat") == violations(result, "mwaa-public-webserver-has-igw") == []


def test_private_subnets_routed_to_the_igw_are_blocked(pack):
    resources, subnets = network("igw")
    found = violations(check(pack, *resources, environment(subnets=subnets)), "mwaa-private-subnets-route-to-nat")
    assert found == [
        f"[mandatory] Subnet 'private-{i}' of Environment 'env' routes 0.0.0.0/0 to an internet gateway; private subnets must use NAT"
        for i in range(2)
    ]


def test_private_subnets_without_a_default_route_are_blocked(pack):
    resources, subnets = network("none", subnet_count=1)
    found = violations(check(pack, *resources, environment(subnets=subnets)), "mwaa-private-subnets-route-to-nat")
    assert found == [
        "[mandatory] Environment 'env' uses 1 subnets from this stack; MWAA needs exactly 2 private subnets in 2 AZs",
        "[mandatory] Subnet 'private-0' of Environment 'env' has no 0.0.0.0/0 route to a NAT gateway; MWAA would hang in Creating",
    ]


def test_public_webserver_needs_an_attached_igw(pack):
    resources, subnets = network("nat", igw_attached=False)
    public = check(pack, *resources, environment(subnets=subnets, webserverAccessMode="PUBLIC_ONLY"))
    assert violations(public, "mwaa-public-webserver-has-igw") == [
        "[mandatory] Environment 'env' has webserverAccessMode PUBLIC_ONLY but Vpc 'vpc' has no internet gateway attached"
    ]
    private = check(pack, *resources, environment(subnets=subnets, webserverAccessMode="PRIVATE_ONLY"))
    assert violations(private, "mwaa-public-webserver-has-igw") == []


# --- IAM and tags --------------------------------------------------------------------------


def role_policy(*statements: dict) -> Res:
    return Res("aws:iam/rolePolicy:RolePolicy", "p", {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})})


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "*"),
        ({"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}, "s3:*"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction iam:*"),
    ],
)
def test_wildcard_actions_are_blocked(pack, statement: dict, found: str):
    assert violations(check(pack, role_policy(statement)), "iam-no-wildcard-actions") == [
        f"[mandatory] policy grants wildcard actions {found}; list the actions the workload needs"
    ]


def test_scoped_and_deny_statements_pass(pack):
    ok = role_policy(
        {"Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    )
    assert violations(check(pack, ok), "iam-no-wildcard-actions") == []


def test_a_policy_unknown_at_preview_is_advisory_as_the_sdk_reports_it(pack):
    found = violations(check(pack, Res("aws:iam/rolePolicy:RolePolicy", "p", {"policy": UNKNOWN})), "iam-no-wildcard-actions")
    assert len(found) == 1 and found[0].startswith("[advisory] can't run policy 'iam-no-wildcard-actions'")


TAGS_ON = {"required-tags": "mandatory"}


def tagged_provider(**tags: str) -> Res:
    return Res("pulumi:providers:aws", "aws", {"region": "us-east-1", "defaultTags": json.dumps({"tags": tags})})


def test_provider_default_tags_satisfy_required_tags(pack):
    provider = tagged_provider(project="p", stack="s", owner="o", **{"cost-center": "c"})
    assert violations(check(pack, Res("aws:ec2/vpc:Vpc", "vpc", provider=provider), config=TAGS_ON), "required-tags") == []


def test_missing_tags_are_reported_and_own_tags_count(pack):
    provider = tagged_provider(project="p", stack="s")
    assert violations(check(pack, Res("aws:ec2/vpc:Vpc", "vpc", provider=provider), config=TAGS_ON), "required-tags") == [
        "[mandatory] missing tags owner, cost-center; set them in the provider's defaultTags or on the resource"
    ]
    own = Res("aws:ec2/vpc:Vpc", "vpc", {"tags": {"owner": "o", "cost-center": "c"}}, provider=provider)
    assert violations(check(pack, own, config=TAGS_ON), "required-tags") == []
    assert (
        violations(check(pack, Res("aws:ec2/route:Route", "r", provider=provider), config=TAGS_ON), "required-tags") == []
    )  # not taggable


# --- pack configuration ----------------------------------------------------------------------


def test_levels_come_from_pack_config(pack):
    env = environment(environmentClass="mw1.large")
    assert violations(check(pack, env, config={CLASS: "advisory"}), CLASS)[0].startswith("[advisory]")
    assert violations(check(pack, env, config={CLASS: {"enforcementLevel": "disabled"}}), CLASS) == []
    assert violations(check(pack, env, config={"all": "advisory"}), CLASS)[0].startswith("[advisory]")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mwaa-enviroment-class": "advisory"}, "unknown policy mwaa-enviroment-class"),
        ({CLASS: "warn"}, "mwaa-environment-class.enforcementLevel 'warn' must be one of advisory, mandatory, disabled, remediate"),
        ({"mwaa-capacity-limits": {"maxWorkers": "ten"}}, "mwaa-capacity-limits: 'ten' is not of type 'integer'"),
        ({"mwaa-capacity-limits": {"maxWorkers": 30}}, "mwaa-capacity-limits: 30 is greater than the maximum of 25"),
        ({CLASS: {"allowedClass": ["mw1.small"]}}, "Additional properties are not allowed ('allowedClass' was unexpected)"),
        ({CLASS: {"allowedClasses": ["mw1.smal"]}}, "mwaa-environment-class: 'mw1.smal' is not one of ['mw1.micro', 'mw1.small'"),
        ({"mwaa-airflow-version": {"supportedVersions": ["3.3"]}}, "mwaa-airflow-version: '3.3' is not one of ['3.0.6', '3.2.1', '3.3.1']"),
    ],
)
def test_bad_pack_config_is_a_clear_error(pack, config: dict, message: str):
    with pytest.raises(PackConfigError, match=re.escape(message)):
        check(pack, config=config)
