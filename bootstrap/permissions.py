"""What CI's roles may do, derived from what the platform's stacks declare.

TABLE maps each resource type a stack declares to the actions that create, update and delete it (`write`) and that
read it (`read`: `pulumi preview --refresh`, the drift check), and to the resources those actions are scoped to. The
actions are the calls of the Terraform provider that pulumi-aws bridges (each resource's Create, Read, Update and
Delete functions in hashicorp/terraform-provider-aws) and of Cloud Control for aws-native, named as AWS's Service
Authorization Reference names them. Scopes use `{region}`, `{account}`, `{env}` (a stack's environment name: names.py
derives every name the program gives from it) and the markers of OWN, which stand for the stack's own roles and
buckets (each a Pulumi auto-name: the logical name, a dash, then random characters). `*` stands where the Service
Authorization Reference lists no resource type for the create (EC2's networking, KMS's CreateKey) or the name is AWS's
own. Reads use `Get*`/`List*`/`Describe*`: the provider reads many
attributes, each its own call, and a read grants nothing to change.

`python -m offline bootstrap` (offline/commands/bootstrap.py) writes bootstrap/declared.json from the stacks under
mocks; a resource type missing here fails tests/test_bootstrap.py, so a stack can't gain a type CI's roles can't deploy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

#: A role's inline policies together may hold 10,240 characters (IAM quotas: "Role policy size"), whitespace excluded.
INLINE_POLICY_LIMIT = 10_240


@dataclass(frozen=True)
class Access:
    write: tuple[str, ...]
    read: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)


EC2_READ = ("ec2:Describe*",)
#: Markers that stand for a stack's own resources of one type: each of its auto-named ones (`<logical>-*`) in the
#: type's patterns; for roles, also those named after the environment. So a bucket's parts act on the stack's buckets.
ROLES, BUCKETS, OBJECTS = "{roles}", "{buckets}", "{objects}"
OWN = {
    ROLES: ("aws:iam/role:Role", ("arn:aws:iam::{account}:role/{logical}-*", "arn:aws:iam::{account}:role/{env}-*")),
    BUCKETS: ("aws:s3/bucket:Bucket", ("arn:aws:s3:::{logical}-*",)),
    OBJECTS: ("aws:s3/bucket:Bucket", ("arn:aws:s3:::{logical}-*/*",)),
}
#: Conditions on a type's writes, from the values bootstrap/declared.json lists for it (instead of logical names).
CONDITIONS = {"aws:iam/rolePolicyAttachment:RolePolicyAttachment": "iam:PolicyARN"}
S3_BUCKETS = (BUCKETS,)
S3_WRITE = ("s3:PutBucketTagging", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")
LOGS = ("arn:aws:logs:{region}:{account}:log-group:*{env}*",)
TAGS_EC2 = ("ec2:CreateTags", "ec2:DeleteTags")

TABLE: dict[str, Access] = {
    "pulumi:providers:aws": Access((), ()),
    "pulumi:providers:aws-native": Access((), ()),
    "time:index/sleep:Sleep": Access((), ()),  # a timer in the engine: no AWS call
    # Networking: EC2's create actions take no name to scope by (the ARN is AWS's).
    "aws:ec2/vpc:Vpc": Access(("ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", *TAGS_EC2), EC2_READ),
    "aws:ec2/internetGateway:InternetGateway": Access(
        ("ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:AttachInternetGateway", "ec2:DetachInternetGateway", *TAGS_EC2),
        EC2_READ,
    ),
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment": Access(
        ("ec2:AttachInternetGateway", "ec2:DetachInternetGateway"), EC2_READ
    ),
    "aws:ec2/eip:Eip": Access(("ec2:AllocateAddress", "ec2:ReleaseAddress", "ec2:DisassociateAddress", *TAGS_EC2), EC2_READ),
    "aws:ec2/subnet:Subnet": Access(("ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:ModifySubnetAttribute", *TAGS_EC2), EC2_READ),
    "aws:ec2/routeTable:RouteTable": Access(("ec2:CreateRouteTable", "ec2:DeleteRouteTable", *TAGS_EC2), EC2_READ),
    "aws:ec2/route:Route": Access(("ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute"), EC2_READ),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": Access(
        ("ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:ReplaceRouteTableAssociation"), EC2_READ
    ),
    "aws:ec2/natGateway:NatGateway": Access(("ec2:CreateNatGateway", "ec2:DeleteNatGateway", *TAGS_EC2), EC2_READ),
    "aws:ec2/securityGroup:SecurityGroup": Access(
        (
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress",
            *TAGS_EC2,
        ),
        EC2_READ,
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Access(
        ("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:ModifySecurityGroupRules", *TAGS_EC2), EC2_READ
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": Access(
        ("ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:ModifySecurityGroupRules", *TAGS_EC2), EC2_READ
    ),
    # S3: auto-named buckets, scoped by their logical name; their parts act on the same buckets.
    "aws:s3/bucket:Bucket": Access(("s3:CreateBucket", "s3:DeleteBucket", *S3_WRITE), ("s3:GetBucket*", "s3:List*", "s3:Get*"), S3_BUCKETS),
    "aws:s3/bucketVersioning:BucketVersioning": Access(("s3:PutBucketVersioning",), ("s3:GetBucketVersioning",), S3_BUCKETS),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Access(
        ("s3:PutBucketPublicAccessBlock", "s3:DeleteBucketPublicAccessBlock"), ("s3:GetBucketPublicAccessBlock",), S3_BUCKETS
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Access(
        ("s3:PutEncryptionConfiguration",), ("s3:GetEncryptionConfiguration",), S3_BUCKETS
    ),
    "aws:s3/bucketPolicy:BucketPolicy": Access(("s3:PutBucketPolicy", "s3:DeleteBucketPolicy"), ("s3:GetBucketPolicy",), S3_BUCKETS),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Access(
        ("s3:PutLifecycleConfiguration",), ("s3:GetLifecycleConfiguration",), S3_BUCKETS
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": Access(
        ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectTagging"),
        ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:ListBucketVersions"),
        (OBJECTS,),
    ),
    # IAM: auto-named roles, scoped by their logical name; the workflow's role is named after the environment.
    "aws:iam/role:Role": Access(
        (
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:ListInstanceProfilesForRole",
        ),
        ("iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListRoleTags"),
        (ROLES,),
    ),
    # On the stack's own roles only (ROLES), so CI can't give its own role more; the managed policies attached are named.
    "aws:iam/rolePolicy:RolePolicy": Access(("iam:PutRolePolicy", "iam:DeleteRolePolicy"), ("iam:GetRolePolicy",), (ROLES,)),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Access(
        ("iam:AttachRolePolicy", "iam:DetachRolePolicy"), ("iam:ListAttachedRolePolicies",), (ROLES,)
    ),
    # Named after the environment (names.py).
    "aws:cloudwatch/logGroup:LogGroup": Access(
        (
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
        ),
        ("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        LOGS,
    ),
    "aws:sns/topic:Topic": Access(
        ("sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:TagResource", "sns:UntagResource"),
        ("sns:GetTopicAttributes", "sns:ListTagsForResource"),
        ("arn:aws:sns:{region}:{account}:{env}-*",),
    ),
    "aws:sns/topicPolicy:TopicPolicy": Access(
        ("sns:SetTopicAttributes",), ("sns:GetTopicAttributes",), ("arn:aws:sns:{region}:{account}:{env}-*",)
    ),
    "aws:sns/topicSubscription:TopicSubscription": Access(
        ("sns:Subscribe", "sns:Unsubscribe", "sns:SetSubscriptionAttributes"),
        ("sns:GetSubscriptionAttributes", "sns:ListSubscriptionsByTopic"),
        ("arn:aws:sns:{region}:{account}:{env}-*",),
    ),
    "aws:lambda/function:Function": Access(
        (
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:PublishVersion",
        ),
        (
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:ListVersionsByFunction",
            "lambda:ListTags",
        ),
        ("arn:aws:lambda:{region}:{account}:function:{env}-*",),
    ),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": Access(
        ("lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"),
        ("lambda:GetFunctionEventInvokeConfig",),
        ("arn:aws:lambda:{region}:{account}:function:{env}-*",),
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Access(
        ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"),
        ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"),
        ("arn:aws:cloudwatch:{region}:{account}:alarm:{env}-*",),
    ),
    "aws:glue/job:Job": Access(
        ("glue:CreateJob", "glue:UpdateJob", "glue:DeleteJob", "glue:TagResource", "glue:UntagResource"),
        ("glue:GetJob", "glue:GetTags"),
        ("arn:aws:glue:{region}:{account}:job/{env}-*",),
    ),
    "aws:scheduler/schedule:Schedule": Access(
        ("scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"),
        ("scheduler:GetSchedule",),
        ("arn:aws:scheduler:{region}:{account}:schedule/default/{env}-*",),
    ),
    "aws:cloudwatch/eventRule:EventRule": Access(
        ("events:PutRule", "events:DeleteRule", "events:EnableRule", "events:DisableRule", "events:TagResource", "events:UntagResource"),
        ("events:DescribeRule", "events:ListTagsForResource"),
        ("arn:aws:events:{region}:{account}:rule/{env}-*",),
    ),
    "aws:cloudwatch/eventTarget:EventTarget": Access(
        ("events:PutTargets", "events:RemoveTargets"), ("events:ListTargetsByRule",), ("arn:aws:events:{region}:{account}:rule/{env}-*",)
    ),
    "aws:kms/key:Key": Access(
        (
            "kms:CreateKey",
            "kms:PutKeyPolicy",
            "kms:EnableKeyRotation",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:UpdateKeyDescription",
        ),
        ("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
    ),
    "aws:kms/alias:Alias": Access(
        ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"),
        ("kms:ListAliases",),
        ("arn:aws:kms:{region}:{account}:alias/{env}*", "arn:aws:kms:{region}:{account}:key/*"),
    ),
    "aws:secretsmanager/secret:Secret": Access(
        (
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
        ),
        ("secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"),
        ("arn:aws:secretsmanager:{region}:{account}:secret:airflow/{env}/*",),
    ),
    # MWAA: the environment; its network is made by MWAA's service-linked role, which the first environment creates.
    "aws:mwaa/environment:Environment": Access(
        (
            "airflow:CreateEnvironment",
            "airflow:UpdateEnvironment",
            "airflow:DeleteEnvironment",
            "airflow:TagResource",
            "airflow:UntagResource",
        ),
        ("airflow:GetEnvironment", "airflow:ListTagsForResource"),
        ("arn:aws:airflow:{region}:{account}:environment/{env}",),
    ),
    # MWAA Serverless, through Cloud Control (pulumi-aws-native).
    "aws-native:mwaaserverless:Workflow": Access(
        (
            "airflow-serverless:CreateWorkflow",
            "airflow-serverless:UpdateWorkflow",
            "airflow-serverless:DeleteWorkflow",
            "airflow-serverless:TagResource",
            "airflow-serverless:UntagResource",
        ),
        ("airflow-serverless:GetWorkflow", "airflow-serverless:ListWorkflows", "airflow-serverless:ListTagsForResource"),
    ),
}

#: Calls beyond the resources': the provider's account check and AZ lookup; Cloud Control for aws-native resources.
PROVIDER = Access((), ("sts:GetCallerIdentity", "ec2:DescribeAvailabilityZones"))
CLOUD_CONTROL = Access(
    ("cloudformation:CreateResource", "cloudformation:UpdateResource", "cloudformation:DeleteResource"),
    ("cloudformation:GetResource", "cloudformation:GetResourceRequestStatus", "cloudformation:ListResources"),
)
#: Resource type -> the service its role is passed to (iam:PassRole with iam:PassedToService), where the create passes one.
PASSES_ROLE = {
    "aws:lambda/function:Function": ("lambda.amazonaws.com",),
    "aws:glue/job:Job": ("glue.amazonaws.com",),
    "aws:scheduler/schedule:Schedule": ("scheduler.amazonaws.com",),
    "aws:mwaa/environment:Environment": ("airflow.amazonaws.com", "airflow-env.amazonaws.com"),
    "aws-native:mwaaserverless:Workflow": ("airflow-serverless.amazonaws.com",),
}
#: The first environment in an account creates MWAA's service-linked role (AWSServiceRoleForAmazonMWAA).
SERVICE_LINKED = {"aws:mwaa/environment:Environment": "airflow.amazonaws.com"}
#: The duty cycle's Airflow state (airflow_state/, docs/duty-cycle.md): the export and restore through InvokeRestApi as
#: the environment's Admin, the export in the DAG bucket, the alert on the topic.
DUTY_CYCLE = Access(
    ("airflow:InvokeRestApi", "s3:PutObject", "sns:Publish"),
    ("s3:GetObject",),
    ("arn:aws:airflow:{region}:{account}:role/{env}/Admin", "arn:aws:s3:::dags-storage-bucket-*/airflow-state/*",
     "arn:aws:sns:{region}:{account}:{env}-*"),
)  # fmt: skip


def missing(types: set[str]) -> list[str]:
    """The declared resource types the table has no entry for (a stack can't be deployed by a role without them)."""
    return sorted(types - TABLE.keys())


def own(marker: str, stack: dict[str, Any], account: str) -> list[str]:
    """The ARN patterns of the stack's own resources that `marker` stands for."""
    resource_type, patterns = OWN[marker]
    logical = stack["resources"].get(resource_type) or []
    return sorted({p.format(account=account, env=stack["environment"], logical=name) for name in logical for p in patterns})


def scope(access: Access, stack: dict[str, Any], account: str) -> tuple[str, ...]:
    """The ARN patterns `access` is scoped to for one stack."""
    found = set()
    for pattern in access.resources:
        if pattern in OWN:
            found |= set(own(pattern, stack, account))
        else:
            found.add(pattern.format(region=stack["region"], account=account, env=stack["environment"]))
    return tuple(sorted(found))


def policy(stacks: list[dict[str, Any]], account: str, write: bool = True) -> dict[str, Any]:
    """One policy document for the stacks (bootstrap/declared.json's entries): per set of resources, one statement of
    every action scoped to it (reads only when not `write`); a conditioned type's writes in their own statement; then
    passing the stack's own roles to the services that take them, and MWAA's service-linked role."""
    by_scope: dict[tuple[str, ...], set[str]] = defaultdict(set)
    conditioned: list[dict[str, Any]] = []
    passed: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for stack in stacks:
        accesses = [PROVIDER]
        if any(t.startswith("aws-native:") for t in stack["resources"]):
            accesses.append(CLOUD_CONTROL)
        if stack["duty_cycle"] and write:
            accesses.append(DUTY_CYCLE)
        for resource_type, names in stack["resources"].items():
            access = TABLE[resource_type]
            if resource_type in CONDITIONS:
                resources = scope(access, stack, account)
                by_scope[resources] |= set(access.read)
                if write:
                    condition = {"ArnEquals": {CONDITIONS[resource_type]: names}}
                    conditioned.append(
                        {"Effect": "Allow", "Action": list(access.write), "Resource": list(resources), "Condition": condition}
                    )
                continue
            accesses.append(access)
        for access in accesses:
            by_scope[scope(access, stack, account)] |= set(access.read) | (set(access.write) if write else set())
        if write:
            services = {s for t, listed in PASSES_ROLE.items() if t in stack["resources"] for s in listed}
            if services:
                passed[tuple(own(ROLES, stack, account))] |= services
    statements = [
        {"Effect": "Allow", "Action": sorted(actions), "Resource": resources[0] if len(resources) == 1 else list(resources)}
        for resources, actions in sorted(by_scope.items())
        if actions
    ]
    statements += conditioned
    statements += [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": list(resources),
         "Condition": {"StringEquals": {"iam:PassedToService": sorted(services)}}}
        for resources, services in sorted(passed.items())
    ]  # fmt: skip
    linked = sorted({SERVICE_LINKED[t] for stack in stacks for t in stack["resources"] if t in SERVICE_LINKED})
    if write and linked:
        statements.append(
            {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:AWSServiceName": linked}}}
        )  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}
