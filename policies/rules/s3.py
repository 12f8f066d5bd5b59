"""Buckets: versioned (MWAA pins requirements by version id) and never public, whichever provider declares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from .library.graph import PUBLIC_ACCESS_BLOCK, UNKNOWN, VERSIONING_TYPES, Declared, Graph, declared_buckets, each_declared, peek

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _as_status(enabled: Any) -> Any:
    return enabled if enabled is UNKNOWN else {True: "Enabled", False: "Suspended"}.get(enabled, enabled)


def _inline_versioning(bucket: Declared) -> list[Any]:
    """Versioning set on the bucket itself: legacy pulumi-aws `versioning`/`versionings`, aws-native and CloudFormation."""
    statuses = [_as_status(peek(bucket.props, "versioning", "enabled")), _as_status(peek(bucket.props, "versionings", 0, "enabled"))]
    statuses.append(peek(bucket.props, "versioningConfiguration", "status"))
    return [s for s in statuses if s is not None]


def versioning_problem(bucket: Declared, graph: Graph) -> str | None:
    """Why `bucket` is not safely versioned, or None when it is: every versioning setting on it must be 'Enabled'."""
    statuses = _inline_versioning(bucket)
    if bucket.resource is not None:
        statuses += [
            peek(v.props, "versioningConfiguration", "status") for v in graph.attached_to_bucket(VERSIONING_TYPES, bucket.resource)
        ]
    if not statuses:
        return f"bucket {bucket.label} has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    if UNKNOWN in statuses:
        return f"bucket {bucket.label}: versioning status is not known at preview; set it to the literal 'Enabled'"
    if any(status != "Enabled" for status in statuses):
        shown = ", ".join(str(s) for s in statuses)
        return f"bucket {bucket.label}: versioning is {shown}; every versioning setting on a bucket must be the literal 'Enabled'"
    return None


def public_access_problem(bucket: Declared, graph: Graph) -> str | None:
    """Why `bucket` does not block all public access, or None when it does (inline or separate, all four flags)."""
    blocks = [block] if isinstance(block := peek(bucket.props, "publicAccessBlockConfiguration"), Mapping) else []
    if bucket.resource is not None:
        blocks += [b.props for b in graph.attached_to_bucket((PUBLIC_ACCESS_BLOCK,), bucket.resource)]
    if not blocks:
        return f"bucket {bucket.label} has no aws.s3.BucketPublicAccessBlock; add one with all four flags true"
    open_flags = sorted({flag for block in blocks for flag in PUBLIC_ACCESS_FLAGS if peek(block, flag) is not True})
    if open_flags:
        return f"bucket {bucket.label}: public access block leaves {', '.join(open_flags)} not true (all four must be literal true)"
    return None


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
