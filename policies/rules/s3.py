"""Buckets: versioned (MWAA pins requirements by version id) and never public, whichever provider declares them."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .graph import Graph, declared_buckets, guarded, public_access_problem, versioning_problem


def _each_bucket_problem(check):
    @guarded
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        graph = Graph(args.resources)
        buckets, unreadable = declared_buckets(graph.resources)
        for urn, reason in unreadable:  # fail closed: a template nobody can read may declare an unguarded bucket
            report_violation(f"{reason}; it may declare S3 buckets", urn)
        for bucket in buckets:
            if problem := check(bucket, graph):
                report_violation(problem, bucket.urn)

    return validate


bucket_versioning = StackValidationPolicy(
    name="s3-bucket-versioning-enabled",
    description="Every S3 bucket (pulumi-aws, aws-native or CloudFormation) has versioning Enabled, and no setting says otherwise.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_each_bucket_problem(versioning_problem),
)

bucket_public_access = StackValidationPolicy(
    name="s3-public-access-blocked",
    description="Every S3 bucket has a public access block with all four flags true.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_each_bucket_problem(public_access_problem),
)

POLICIES = [bucket_versioning, bucket_public_access]
