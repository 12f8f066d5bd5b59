"""Buckets: versioned (MWAA pins requirements by version id) and never public."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .graph import BUCKET_TYPES, Graph, public_access_problem, versioning_problem


def _each_bucket_problem(check):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        graph = Graph(args.resources)
        for bucket in graph.of_type(*BUCKET_TYPES):
            if problem := check(bucket, graph):
                report_violation(problem, bucket.urn)

    return validate


bucket_versioning = StackValidationPolicy(
    name="s3-bucket-versioning-enabled",
    description="Every S3 bucket has versioning Enabled (a BucketVersioning linked to it, or legacy inline versioning).",
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
