"""The real __main__.py, run under Pulumi mocks per stack: what it would ask AWS for."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from components.dag_bucket import dag_files
from names import LOG_TYPES, environment_log_groups
from offline.harness import StackRun, run_stack
from offline.plan import render_plan
from offline.stacks import PROJECT_DIR, stack_config, stack_settings

ENV = "aws:mwaa/environment:Environment"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def subnets(run: StackRun, tier: str):
    return [s for s in run.of_type(SUBNET) if s.inputs["tags"]["tier"] == tier]


def execution_policy(run: StackRun) -> list[dict]:
    return json.loads(run.by_name("airflow-execution-policy").inputs["policy"])["Statement"]


def statement(run: StackRun, sid: str) -> dict:
    return next(s for s in execution_policy(run) if s["Sid"] == sid)


# --- network -----------------------------------------------------------------


def test_two_public_and_two_private_subnets_in_two_azs(each_stack: StackRun):
    for tier in ("public", "private"):
        tier_subnets = subnets(each_stack, tier)
        assert len(tier_subnets) == 2
        assert len({s.inputs["availabilityZoneId"] for s in tier_subnets}) == 2
    vpc = ipaddress.ip_network(each_stack.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    assert all(ipaddress.ip_network(s.inputs["cidrBlock"]).subnet_of(vpc) for s in each_stack.of_type(SUBNET))


def test_vpc_has_dns_and_an_attached_internet_gateway(each_stack: StackRun):
    vpc = each_stack.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] and vpc.inputs["enableDnsHostnames"]
    attachment = each_stack.one("aws:ec2/internetGatewayAttachment:InternetGatewayAttachment")
    assert attachment.property_dependencies["vpcId"] == [vpc.urn]


@pytest.mark.parametrize(("stack", "nats"), [("dev", 1), ("prod", 2)])
def test_nat_gateway_count_follows_the_stack(stack: str, nats: int, request: pytest.FixtureRequest):
    run: StackRun = request.getfixturevalue(stack)
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == nats
    assert len(run.of_type("aws:ec2/eip:Eip")) == nats
    public_ids = {f"{s.name}-id" for s in subnets(run, "public")}
    assert {n.inputs["subnetId"] for n in run.of_type("aws:ec2/natGateway:NatGateway")} <= public_ids


def test_private_subnets_route_to_nat_and_public_to_igw(each_stack: StackRun):
    routes = each_stack.of_type(ROUTE)
    private = [r for r in routes if "private" in r.name]
    public = [r for r in routes if "public" in r.name]
    assert len(private) == 2 and len(public) == 1
    assert all(r.inputs["destinationCidrBlock"] == "0.0.0.0/0" for r in routes)
    assert all("natGatewayId" in r.inputs and "gatewayId" not in r.inputs for r in private)
    assert public[0].inputs["gatewayId"] == "network-igw-id"
    nats = len(each_stack.of_type("aws:ec2/natGateway:NatGateway"))
    assert len({r.inputs["natGatewayId"] for r in private}) == nats  # with 2 NATs, one per AZ


def test_every_private_subnet_is_associated_with_a_nat_route_table(each_stack: StackRun):
    tables_with_nat = {r.inputs["routeTableId"] for r in each_stack.of_type(ROUTE) if "natGatewayId" in r.inputs}
    associations = {
        a.inputs["subnetId"]: a.inputs["routeTableId"] for a in each_stack.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    }
    for subnet in subnets(each_stack, "private"):
        assert associations[f"{subnet.name}-id"] in tables_with_nat


def test_security_group_is_self_referencing_and_closed_to_the_internet(each_stack: StackRun):
    (ingress,) = each_stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert ingress.inputs["referencedSecurityGroupId"] == ingress.inputs["securityGroupId"] == "network-sg-id"
    assert ingress.inputs["ipProtocol"] == "-1" and "cidrIpv4" not in ingress.inputs
    (egress,) = each_stack.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert egress.inputs["cidrIpv4"] == "0.0.0.0/0" and egress.inputs["ipProtocol"] == "-1"
    assert "ingress" not in each_stack.one("aws:ec2/securityGroup:SecurityGroup").inputs


# --- buckets -------------------------------------------------------------------


def test_every_bucket_is_versioned_and_blocks_public_access(each_stack: StackRun):
    buckets = each_stack.of_type(BUCKET)
    assert len(buckets) == 2  # DAG bucket and data bucket
    for bucket in buckets:
        versionings = [
            v for v in each_stack.of_type("aws:s3/bucketVersioning:BucketVersioning") if v.property_dependencies["bucket"] == [bucket.urn]
        ]
        assert [v.inputs["versioningConfiguration"]["status"] for v in versionings] == ["Enabled"]
        (block,) = [
            b
            for b in each_stack.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
            if b.property_dependencies["bucket"] == [bucket.urn]
        ]
        assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))


def test_buckets_are_encrypted_tls_only_and_expire_old_versions(dev: StackRun):
    assert len(dev.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")) == 2
    for policy in dev.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        (deny,) = json.loads(policy.inputs["policy"])["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for lifecycle in dev.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] == 7


def test_prod_buckets_are_protected_and_dev_buckets_are_disposable(dev: StackRun, prod: StackRun):
    for bucket in prod.of_type(BUCKET):
        assert bucket.protect and bucket.retain_on_delete and bucket.inputs["forceDestroy"] is False
    for bucket in dev.of_type(BUCKET):
        assert not bucket.protect and bucket.inputs["forceDestroy"] is True


def test_every_dag_file_is_uploaded_under_dags_and_requirements_to_the_root(each_stack: StackRun):
    dag_bucket = each_stack.by_name("dags-storage-bucket")
    keys = {o.inputs["key"] for o in each_stack.of_type(OBJECT) if o.property_dependencies["bucket"] == [dag_bucket.urn]}
    dags_dir = PROJECT_DIR / "dags"
    expected = {f"dags/{p.relative_to(dags_dir).as_posix()}" for p in dag_files(dags_dir, dags_dir / "requirements.txt")}
    assert "dags/lambda_glue_pipeline.py" in expected
    assert expected | {"requirements.txt"} <= keys
    assert "dags/requirements.txt" not in keys


def test_uploads_wait_for_versioning_to_settle(each_stack: StackRun):
    # AWS: wait 15 minutes after first enabling versioning before writing objects (S3 user guide).
    for bucket, objects in (("dags-storage", ("dags-requirements", "dags-pipeline-config")), ("pipeline-data", ("pipeline-glue-script",))):
        settled = each_stack.by_name(f"{bucket}-versioning-settled")
        assert settled.type == "time:index/sleep:Sleep" and settled.inputs["createDuration"] == "15m"
        assert each_stack.by_name(f"{bucket}-versioning").urn in settled.dependencies
        # ...and after default encryption (prod: its KMS key), by dependency: an object written first keeps the old one.
        assert each_stack.by_name(f"{bucket}-encryption").urn in settled.dependencies
        assert settled.inputs["triggers"] == {"bucket": f"{bucket}-bucket-id"}  # the bucket id: waits again only if replaced
        for name in objects:
            assert settled.urn in each_stack.by_name(name).dependencies, name


def test_pipeline_config_is_rendered_into_the_dag_prefix(each_stack: StackRun):
    config_object = each_stack.by_name("dags-pipeline-config")
    assert config_object.inputs["key"] == "dags/pipeline_config.json"
    config = json.loads(config_object.inputs["content"])
    assert config["lambda_function_name"] == each_stack.outputs["lambda_function_name"]
    assert config["glue_job_name"] == each_stack.outputs["glue_job_name"]
    assert config["alert_topic_arn"] == each_stack.outputs["alert_topic_arn"]
    pipeline = stack_settings(each_stack.stack).pipeline  # shipped: 0 10 * * MON,...,FRI in Asia/Kolkata
    assert (config["schedule_cron"], config["schedule_timezone"]) == (pipeline.cron, pipeline.timezone)


def test_the_dag_bucket_writes_the_config_and_keeps_its_former_urn(each_stack: StackRun):
    # One component owns each object of the DAG bucket. The config used to be PipelineAssets' "pipeline-dag-config":
    # the engine matches an alias against the state, so a stack deployed before the move keeps its object (the engine
    # counts it "same", not a delete and a create: Pulumi docs, Resource options, aliases).
    config_object = each_stack.by_name("dags-pipeline-config")
    assert config_object.parent == each_stack.by_name("dags").urn
    former_type = "mwaa:pipeline:PipelineAssets$aws:s3/bucketObjectv2:BucketObjectv2"
    former = f"urn:pulumi:{each_stack.stack}::{each_stack.project}::{former_type}::pipeline-dag-config"
    assert former in config_object.aliases
    assert not [
        r.name
        for r in each_stack.resources
        if r.parent == each_stack.by_name("pipeline").urn and r.type == OBJECT and "dags/" in r.inputs["key"]
    ]


def test_pipeline_usage_tags_feed_the_cost_model(each_stack: StackRun):
    runs = f"{stack_settings(each_stack.stack).pipeline.runs_per_month:g}"  # shipped: 21.73 (weekdays)
    job = each_stack.one("aws:glue/job:Job").inputs
    assert job["tags"] == {"pipeline:runs-per-month": runs, "pipeline:expected-run-minutes": "2"}
    for function in each_stack.of_type("aws:lambda/function:Function"):  # the pipeline's and the missed-run check
        assert function.inputs["tags"] == {"pipeline:runs-per-month": runs}, function.name


# --- environment ---------------------------------------------------------------


@pytest.mark.reference
def test_the_shipped_stacks_are_the_reference_setup(each_stack: StackRun):
    env = each_stack.one(ENV).inputs
    assert (env["environmentClass"], env["airflowVersion"], env["webserverAccessMode"]) == ("mw1.small", "3.3.1", "PUBLIC_ONLY")
    assert (env["schedulers"], env["minWebservers"], env["maxWebservers"], env["maxWorkers"]) == (2, 2, 2, 10)


def test_environment_follows_the_settings(each_stack: StackRun):
    env, mwaa = each_stack.one(ENV).inputs, stack_settings(each_stack.stack).mwaa
    assert (env["environmentClass"], env["airflowVersion"], env["webserverAccessMode"]) == (
        mwaa.environment_class,
        mwaa.airflow_version,
        mwaa.webserver_access_mode,
    )
    assert (env["schedulers"], env["minWebservers"], env["maxWebservers"], env["maxWorkers"]) == (
        mwaa.schedulers,
        mwaa.min_webservers,
        mwaa.max_webservers,
        mwaa.max_workers,
    )
    assert env["dagS3Path"] == "dags" and env["requirementsS3Path"] == "requirements.txt"
    assert env["name"] == f"mwaa-platform-{each_stack.stack}"
    assert env["networkConfiguration"]["subnetIds"] == [f"network-private-{i}-id" for i in (1, 2)]


def test_all_five_log_types_are_enabled(each_stack: StackRun):
    logging = each_stack.one(ENV).inputs["loggingConfiguration"]
    assert len(logging) == 5 and all(v["enabled"] for v in logging.values())
    assert logging["taskLogs"]["logLevel"] == "INFO"


def test_requirements_version_is_wired_from_the_bucket(each_stack: StackRun):
    env = each_stack.one(ENV)
    requirements = each_stack.by_name("dags-requirements")
    assert env.inputs["requirementsS3ObjectVersion"] == requirements.outputs["versionId"]
    assert requirements.urn in env.property_dependencies["requirementsS3ObjectVersion"]


def test_environment_waits_for_its_role_policy_and_log_groups(each_stack: StackRun):
    env = each_stack.one(ENV)
    assert each_stack.by_name("airflow-execution-policy").urn in env.dependencies
    groups = {g.urn for g in each_stack.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name.startswith("airflow-logs-")}
    assert len(groups) == 5 and groups <= set(env.dependencies)


@pytest.mark.parametrize(("stack", "days"), [("dev", 7), ("prod", 90)])
def test_log_groups_are_named_from_the_environment(stack: str, days: int, request: pytest.FixtureRequest):
    run: StackRun = request.getfixturevalue(stack)
    groups = {g.inputs["name"]: g.inputs["retentionInDays"] for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    expected = {f"airflow-mwaa-platform-{stack}-{t}" for t in LOG_TYPES}
    assert expected == set(environment_log_groups(f"mwaa-platform-{stack}").values())
    assert all(groups[name] == days for name in expected)


# --- IAM -------------------------------------------------------------------------


def test_no_policy_grants_wildcard_actions(each_stack: StackRun):
    for policy in each_stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        for stmt in json.loads(policy.inputs["policy"])["Statement"]:
            for action in stmt["Action"]:
                assert action != "*" and not action.endswith(":*"), (policy.name, action)


def test_dag_permissions_are_scoped_to_this_pipeline(each_stack: StackRun):
    function = each_stack.by_name("pipeline-validate-input").outputs["arn"]
    job = each_stack.one("aws:glue/job:Job").outputs["arn"]
    assert statement(each_stack, "DagInvokesLambda")["Resource"] == [function]
    assert statement(each_stack, "DagRunsGlueJob")["Resource"] == [job]
    assert statement(each_stack, "DagPublishesAlerts")["Resource"] == [each_stack.outputs["alert_topic_arn"]]
    assert sorted(statement(each_stack, "DagRunsGlueJob")["Action"]) == [
        "glue:GetJob",
        "glue:GetJobRun",
        "glue:GetJobRuns",
        "glue:StartJobRun",
    ]


def test_mwaa_arns_derive_from_the_environment_name(each_stack: StackRun):
    name, region = each_stack.outputs["environment_name"], each_stack.config["aws:region"]
    env_arn = f"arn:aws:airflow:{region}:123456789012:environment/{name}"
    assert statement(each_stack, "PublishMetrics")["Resource"] == [env_arn]
    assert statement(each_stack, "WriteOwnLogGroups")["Resource"] == [f"arn:aws:logs:{region}:123456789012:log-group:airflow-{name}-*"]
    bucket = each_stack.by_name("dags-storage-bucket").outputs["arn"]
    assert statement(each_stack, "ReadSourceBucket")["Resource"] == [bucket, f"{bucket}/*"]
    assert statement(each_stack, "NoBucketListing")["Effect"] == "Deny"
    assert statement(each_stack, "CeleryQueueInAwsAccount")["Resource"] == [f"arn:aws:sqs:{region}:*:airflow-celery-*"]
    if each_stack.stack == "dev":  # mwaa.kms: none, the queue's AWS-owned key
        kms = statement(each_stack, "AwsOwnedKeyViaSqs")
        assert kms["NotResource"] == "arn:aws:kms:*:123456789012:key/*"
        assert kms["Condition"]["StringLike"]["kms:ViaService"] == [f"sqs.{region}.amazonaws.com"]
    else:  # mwaa.kms: create, scoped to that one key (tests/test_options.py)
        assert statement(each_stack, "CustomerKeyViaSqsAndS3")["Resource"] == [each_stack.one("aws:kms/key:Key").outputs["arn"]]
    trust = json.loads(each_stack.by_name("airflow-execution-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"]["Service"] == ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": env_arn}}


def test_only_the_three_unscopable_apis_use_a_star_resource(each_stack: StackRun):
    starred = [s for s in execution_policy(each_stack) if "*" in s.get("Resource", [])]
    assert [sorted(s["Action"]) for s in starred] == [
        ["cloudwatch:PutMetricData", "logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock"]
    ]


# --- conventions, tags, outputs ----------------------------------------------------


def test_default_tags_carry_project_stack_owner_and_cost_center(each_stack: StackRun):
    provider = each_stack.one("pulumi:providers:aws")
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    config = stack_config(each_stack.stack)
    assert tags == {
        "project": "mwaa-platform",
        "stack": each_stack.stack,
        "owner": config["mwaa-platform:owner"],
        "cost-center": config["mwaa-platform:costCenter"],
    }


def test_every_aws_resource_uses_the_tagged_provider_and_sits_in_a_component(each_stack: StackRun):
    provider = each_stack.one("pulumi:providers:aws")
    components = {r.urn: r for r in each_stack.resources if not r.custom}
    for resource in each_stack.resources:
        if resource.custom and resource.type.startswith("aws:"):
            assert resource.provider.startswith(provider.urn), resource.name
        if resource.custom and not resource.type.startswith("pulumi:providers:"):
            parent = components[resource.parent]
            assert parent.type.startswith("mwaa:") and resource.name.startswith(f"{parent.name}-"), resource.name


def test_invokes_use_the_explicit_provider_too(each_stack: StackRun):
    # The stacks set pulumi:disable-default-providers, so an invoke without a provider fails a real `pulumi up`.
    provider = each_stack.one("pulumi:providers:aws")
    assert {token for token, _ in each_stack.invokes} == {
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:index/getCallerIdentity:getCallerIdentity",
        "aws:index/getPartition:getPartition",
    }
    assert all(ref.startswith(f"{provider.urn}::") for _, ref in each_stack.invokes)
    assert stack_config(each_stack.stack)["pulumi:disable-default-providers"] == ["aws"]


def test_stack_outputs(each_stack: StackRun):
    outputs = each_stack.outputs
    assert outputs["webserver_url"].startswith("https://")
    assert outputs["environment_arn"].endswith(f":environment/mwaa-platform-{each_stack.stack}")
    assert len(outputs["private_subnet_ids"]) == 2 and len(outputs["public_subnet_ids"]) == 2
    for key in ("dag_bucket_name", "vpc_id", "lambda_function_name", "glue_job_name", "alert_topic_arn"):
        assert outputs[key]


def test_stacks_differ_only_in_config():
    dev, prod = (Path(PROJECT_DIR / f"Pulumi.{s}.yaml") for s in ("dev", "prod"))
    assert set(stack_config("dev")) == set(stack_config("prod"))
    assert dev.exists() and prod.exists()


def test_the_plan_is_the_same_from_run_to_run_and_in_the_same_order_for_both_stacks(dev: StackRun, prod: StackRun):
    again = run_stack("dev")
    assert render_plan(again) == render_plan(dev)
    resource_lines = lambda run: [line.split()[2] for line in render_plan(run).splitlines() if "+ " in line]  # noqa: E731
    assert [name for name in resource_lines(dev) if name in set(resource_lines(prod))] == [
        name for name in resource_lines(prod) if name in set(resource_lines(dev))
    ]
    assert (resource_lines(dev)[0], resource_lines(dev)[-1]) == ("airflow", "aws")  # by type: mwaa:airflow... pulumi:providers
