"""Tags: every taggable resource carries the cost-allocation tags, via provider defaults or its own."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .graph import UNKNOWN, json_value, only, peek

TAGGABLE = {
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup", "aws:s3/bucket:Bucket",
    "aws:mwaa/environment:Environment", "aws:lambda/function:Function", "aws:glue/job:Job", "aws:sns/topic:Topic",
    "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup",
}  # fmt: skip


@only(*TAGGABLE)
def _required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    provider_tags = json_value(peek(args.provider.props, "defaultTags")) if args.provider else None
    defaults = peek(provider_tags, "tags") if isinstance(provider_tags, Mapping) else None
    own = peek(args.props, "tags")
    present = {*(defaults if isinstance(defaults, Mapping) else ()), *(own if isinstance(own, Mapping) else ())}
    missing = [tag for tag in args.get_config()["requiredTags"] if tag not in present]
    if missing and UNKNOWN not in (defaults, own):
        report_violation(f"missing tags {', '.join(missing)}; set them in the provider's defaultTags or on the resource")


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
