"""Buckets: versioned (MWAA pins requirements by version id) and never public, whichever provider declares them."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from .graph import declared_buckets, each_declared, public_access_problem, versioning_problem


def _each_bucket_problem(check):
    return each_declared(declared_buckets, "S3 buckets", lambda bucket, graph: filter(None, [check(bucket, graph)]))


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
