"""Tags: every taggable resource carries the cost-allocation tags, via provider defaults or its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .library.graph import UNKNOWN, json_value, only, peek

TAGGABLE = {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup", "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2", "aws:mwaa/environment:Environment", "aws:lambda/function:Function", "aws:glue/job:Job",
    "aws:sns/topic:Topic", "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup",
    "aws-native:s3:Bucket", "aws-native:mwaa:Environment", "aws-native:ec2:Vpc", "aws-native:ec2:Subnet",
    "aws-native:ec2:NatGateway", "aws-native:iam:Role", "aws-native:lambda:Function", "aws-native:mwaaserverless:Workflow",
    "aws:cloudwatch/eventRule:EventRule",
}  # fmt: skip


def _keys(tags: Any) -> set[str]:
    """Tag keys from a map (pulumi-aws, MWAA) or a [{key, value}] list (most aws-native resources)."""
    if isinstance(tags, Mapping):
        return set(tags)
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        return {key for i in range(len(tags)) if isinstance(key := peek(tags, i, "key"), str)}
    return set()


@only(*TAGGABLE)
def _required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    provider_tags = json_value(peek(args.provider.props, "defaultTags")) if args.provider else None
    defaults = peek(provider_tags, "tags") if isinstance(provider_tags, Mapping) else None
    own = peek(args.props, "tags")
    present = _keys(defaults) | _keys(own)
    missing = [tag for tag in args.get_config()["requiredTags"] if tag not in present]
    if missing and UNKNOWN not in (defaults, own):
        report_violation(f"missing tags {', '.join(missing)}; set them in the provider's defaultTags or on the resource", None)


required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry project, stack, owner and cost-center (provider default tags count).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredTags": {"type": "array", "items": {"type": "string"}, "default": ["project", "stack", "owner", "cost-center"]}
        },
    ),
    validate=_required_tags,
)

POLICIES = [required_tags]
