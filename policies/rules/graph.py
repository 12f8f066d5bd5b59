"""Unknown-safe reads and graph lookups shared by the rules.

During a first `pulumi preview` most IDs and ARNs are unknown. The SDK turns any
policy that touches an unknown value into an advisory "can't run during preview"
note, even a mandatory one. Rules that must always decide therefore read
literals through `peek` and find related resources through property
dependencies, which the engine knows before any ID exists.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
MWAA_ENVIRONMENT = "aws:mwaa/environment:Environment"
#: What the AWS provider creates when environmentClass is omitted.
PROVIDER_DEFAULT_CLASS = "mw1.small"


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN: Any = _Unknown()


def peek(props: Mapping[str, Any] | None, *path: str | int) -> Any:
    """The value at `path`, None when absent, UNKNOWN when not yet known; never raises."""
    value: Any = props
    try:
        for step in path:
            if isinstance(value, Mapping):
                value = value.get(step)
            elif isinstance(value, Sequence) and not isinstance(value, str) and isinstance(step, int) and step < len(value):
                value = value[step]
            else:
                return None
            if value is None:
                return None
    except UnknownValueError:
        return UNKNOWN
    return value


def only(*types: str):
    """Run a resource rule on these resource types only."""

    def wrap(validate):
        def run(args, report_violation) -> None:
            if args.resource_type in types:
                validate(args, report_violation)

        return run

    return wrap


def json_value(value: Any) -> Any:
    """Provider inputs such as defaultTags travel as JSON strings; policies need the object."""
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


class Graph:
    """One stack's resources with a reverse property-dependency index.

    Built once per stack validation, so each lookup is a dict hit and the pack's
    cost grows linearly with the stack rather than with buckets x resources.
    """

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.resources = list(resources)
        self._users: dict[tuple[str, str], list[PolicyResource]] = defaultdict(list)
        self._by_bucket_name: dict[str, list[PolicyResource]] = defaultdict(list)
        for resource in self.resources:
            for prop, deps in resource.property_dependencies.items():
                for dep in deps:
                    self._users[(dep.urn, prop)].append(resource)
            if isinstance(name := peek(resource.props, "bucket"), str):
                self._by_bucket_name[name].append(resource)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    def linked(self, types: Sequence[str], prop: str, target: PolicyResource) -> list[PolicyResource]:
        """Resources of `types` whose input `prop` comes from `target` (a graph edge, known at preview)."""
        return [r for r in self._users[(target.urn, prop)] if r.resource_type in types]

    def attached_to_bucket(self, types: Sequence[str], bucket: PolicyResource) -> list[PolicyResource]:
        """Resources configuring `bucket`: by graph edge, or by a literal bucket name when both are known."""
        found = self.linked(types, "bucket", bucket)
        if isinstance(name := peek(bucket.props, "bucket"), str):
            found += [r for r in self._by_bucket_name[name] if r.resource_type in types and r not in found]
        return found


def sources(resource: PolicyResource, prop: str, types: Sequence[str]) -> list[PolicyResource]:
    """The resources of `types` that feed `resource`'s input `prop`."""
    return [d for d in resource.property_dependencies.get(prop, []) if d.resource_type in types]


def label(resource: PolicyResource) -> str:
    return f"{resource.resource_type.split(':')[-1]} '{resource.name}'"


def versioning_problem(bucket: PolicyResource, graph: Graph) -> str | None:
    """Why `bucket` is not versioned, or None when it is."""
    if peek(bucket.props, "versioning", "enabled") is True or peek(bucket.props, "versionings", 0, "enabled") is True:
        return None  # legacy inline versioning
    statuses = [peek(v.props, "versioningConfiguration", "status") for v in graph.attached_to_bucket(VERSIONING_TYPES, bucket)]
    if statuses == ["Enabled"]:
        return None
    if not statuses:
        return f"bucket {label(bucket)} has no aws.s3.BucketVersioning with status Enabled; add one (components/secure_bucket.py does)"
    if UNKNOWN in statuses:
        return f"bucket {label(bucket)}: versioning status is not known at preview; set it to the literal 'Enabled'"
    return f"bucket {label(bucket)}: versioning status is {', '.join(map(str, statuses))}, must be exactly one 'Enabled'"


def public_access_problem(bucket: PolicyResource, graph: Graph) -> str | None:
    """Why `bucket` does not block all public access, or None when it does."""
    blocks = graph.attached_to_bucket((PUBLIC_ACCESS_BLOCK,), bucket)
    if not blocks:
        return f"bucket {label(bucket)} has no aws.s3.BucketPublicAccessBlock; add one with all four flags true"
    open_flags = sorted({flag for block in blocks for flag in PUBLIC_ACCESS_FLAGS if peek(block.props, flag) is not True})
    if open_flags:
        return f"bucket {label(bucket)}: public access block leaves {', '.join(open_flags)} not true (all four must be literal true)"
    return None
