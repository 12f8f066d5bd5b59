"""Unknown-safe reads, provider-neutral views and graph lookups shared by the rules.

During a first `pulumi preview` most IDs and ARNs are unknown. The SDK turns any
policy that touches an unknown value into an advisory "can't run during preview"
note, even a mandatory one. Rules that must always decide therefore read
literals through `peek` and find related resources through property
dependencies, which the engine knows before any ID exists.

A bucket or an MWAA environment can come from pulumi-aws (current and legacy
types), from pulumi-aws-native, or from a CloudFormation template inside an
`aws`/`aws-native` CloudFormation stack resource. `declared_buckets` and
`declared_environments` give the rules one view of all of them (aws-native and
CloudFormation share a schema; template keys are read in camelCase), so a
guardrail has no side door through another provider.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws-native:s3:Bucket")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
MWAA_ENVIRONMENTS = ("aws:mwaa/environment:Environment", "aws-native:mwaa:Environment")
#: MWAA Serverless workflows: pulumi-aws has none (pulumi-aws-native and CloudFormation do).
MWAA_WORKFLOWS = ("aws-native:mwaaserverless:Workflow",)
ROLE_TYPES = ("aws:iam/role:Role", "aws-native:iam:Role")
CLOUDFORMATION_STACKS = ("aws:cloudformation/stack:Stack", "aws-native:cloudformation:Stack")
CFN_BUCKET, CFN_ENVIRONMENT, CFN_WORKFLOW, CFN_ROLE = (
    "AWS::S3::Bucket",
    "AWS::MWAA::Environment",
    "AWS::MWAAServerless::Workflow",
    "AWS::IAM::Role",
)
#: What MWAA creates when the class is omitted (the API's default, whichever provider calls it).
PROVIDER_DEFAULT_CLASS = "mw1.small"


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN: Any = _Unknown()


def peek(props: Any, *path: str | int) -> Any:
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


def guarded(validate: Callable) -> Callable:
    """A rule never aborts the analysis (a raise would silence every policy): what it can't evaluate is a violation.

    Unknown values still propagate, so the SDK reports "can't run during preview" as it should.
    """

    @functools.wraps(validate)
    def run(args, report_violation) -> None:
        try:
            validate(args, report_violation)
        except UnknownValueError:
            raise
        except Exception as exc:  # fail closed, with the reason
            report_violation(f"can't evaluate this rule on these inputs ({type(exc).__name__}: {exc}); set literal values")

    return run


def each_declared(declared: Callable, what: str, check: Callable[[Any, Graph], Iterable[str]]) -> Callable:
    """A stack rule over everything `declared(resources)` finds (resources and template resources alike): each problem
    `check(item, graph)` names is a violation on the item; a template nobody can read fails closed, it may declare `what`."""

    @guarded
    def validate(args, report_violation) -> None:
        graph = Graph(args.resources)
        items, unreadable = declared(graph.resources)
        for urn, reason in unreadable:
            report_violation(f"{reason}; it may declare {what}", urn)
        for item in items:
            for problem in check(item, graph):
                report_violation(problem, item.urn)

    return validate


def only(*types: str):
    """Run a resource rule on these resource types only (guarded)."""

    def wrap(validate):
        @guarded
        def run(args, report_violation) -> None:
            if args.resource_type in types:
                validate(args, report_violation)

        return run

    return wrap


def as_number(value: Any, key: str) -> float | None:
    """A count or size as a number: programs that read config with `Config.get` pass "10"; anything else is an error."""
    if value is None or value is UNKNOWN or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"{key} is {value!r}, not a number")


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
        """Resources configuring `bucket`: by graph edge when they target that bucket, or by a literal bucket name.

        An edge alone is not enough: `bucket=f"{dags.id}-logs"` depends on the DAG bucket but targets another one.
        So a known target must be the bucket's name; an unknown one (a first preview) is taken as the edge says.
        """
        name = peek(bucket.props, "bucket")
        found = [
            r
            for r in self.linked(types, "bucket", bucket)
            if (target := peek(r.props, "bucket")) is UNKNOWN or not isinstance(name, str) or target == name
        ]
        if isinstance(name, str):
            found += [r for r in self._by_bucket_name[name] if r.resource_type in types and r not in found]
        return found


def sources(resource: PolicyResource, prop: str, types: Sequence[str]) -> list[PolicyResource]:
    """The resources of `types` that feed `resource`'s input `prop`."""
    return [d for d in resource.property_dependencies.get(prop, []) if d.resource_type in types]


def source_buckets(environment: PolicyResource) -> list[PolicyResource]:
    """Buckets behind `sourceBucketArn`, directly or through the versioning/public-access resource of a bucket.

    Building the ARN from a BucketVersioning output is a legitimate way to make the environment wait for versioning.
    """
    direct = sources(environment, "sourceBucketArn", BUCKET_TYPES)
    via = [
        b
        for r in sources(environment, "sourceBucketArn", (*VERSIONING_TYPES, PUBLIC_ACCESS_BLOCK))
        for b in sources(r, "bucket", BUCKET_TYPES)
    ]
    return list({b.urn: b for b in direct + via}.values())


def label(resource: PolicyResource) -> str:
    return f"{resource.resource_type.split(':')[-1]} '{resource.name}'"


@dataclass(frozen=True)
class Declared:
    """A bucket or an MWAA environment as declared: a Pulumi resource, or a resource in a CloudFormation template."""

    label: str
    urn: str
    props: Mapping[str, Any]
    #: The Pulumi resource; None for a resource declared inside a template.
    resource: PolicyResource | None = None
    #: The template's other resources (logical id -> (type, props)), for references such as Fn::GetAtt.
    template: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None


class _TemplateLoader(yaml.SafeLoader):
    """CloudFormation YAML: short-form intrinsics (!Ref, !GetAtt, !Sub, ...) read as their long JSON form."""


_TemplateLoader.add_multi_constructor(
    "!",
    lambda loader, tag, node: {
        ("Ref" if tag == "Ref" else f"Fn::{tag}"): (
            loader.construct_scalar(node)
            if isinstance(node, yaml.ScalarNode)
            else loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
        )
    },
)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as aws-native's camelCase (intrinsic function keys stay as they are)."""
    if isinstance(value, Mapping):
        return {(k if k == "Ref" or k.startswith("Fn::") else k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def template_resources(stack: PolicyResource) -> dict[str, tuple[Any, Mapping[str, Any]]] | str:
    """A CloudFormation stack resource's template as logical id -> (type, camelCase properties), or why it can't be read."""
    body = peek(stack.props, "templateBody")
    if body is UNKNOWN:
        return "its templateBody is not known at preview; build it from literals so it can be checked"
    if body is None:
        return "its template is not inline (templateUrl), so what it creates can't be checked; pass templateBody"
    try:
        template = json.loads(body) if isinstance(body, str) and body.lstrip().startswith("{") else yaml.load(body, _TemplateLoader)
    except (ValueError, yaml.YAMLError) as exc:
        return f"its templateBody can't be parsed ({exc})"
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    if not isinstance(resources, Mapping):
        return "its templateBody has no Resources section"
    return {lid: (r.get("Type"), _camel(r.get("Properties") or {})) for lid, r in resources.items() if isinstance(r, Mapping)}


def _declared(resources: Iterable[Any], types: Sequence[str], cfn_type: str) -> tuple[list[Declared], list[tuple[str, str]]]:
    found, unreadable = [], []
    for resource in resources:
        if resource.resource_type in types:
            found.append(Declared(label(resource), resource.urn, resource.props, resource))
        elif resource.resource_type in CLOUDFORMATION_STACKS:
            template = template_resources(resource)
            if isinstance(template, str):
                unreadable.append((resource.urn, f"CloudFormation stack {label(resource)}: {template}"))
                continue
            for logical_id, (kind, props) in template.items():
                if kind == cfn_type:
                    found.append(
                        Declared(
                            f"{cfn_type} '{logical_id}' in CloudFormation stack {label(resource)}", resource.urn, props, None, template
                        )
                    )
    return found, unreadable


def declared_buckets(resources: Iterable[PolicyResource]) -> tuple[list[Declared], list[tuple[str, str]]]:
    """Every S3 bucket the stack declares, whichever way, and the (urn, reason) of templates that can't be read."""
    return _declared(resources, BUCKET_TYPES, CFN_BUCKET)


def declared_environments(resources: Iterable[Any]) -> tuple[list[Declared], list[tuple[str, str]]]:
    """Every MWAA environment the stack declares, whichever way, and the (urn, reason) of templates that can't be read."""
    return _declared(resources, MWAA_ENVIRONMENTS, CFN_ENVIRONMENT)


def declared_workflows(resources: Iterable[PolicyResource]) -> tuple[list[Declared], list[tuple[str, str]]]:
    """Every MWAA Serverless workflow the stack declares, whichever way, and the templates that can't be read."""
    return _declared(resources, MWAA_WORKFLOWS, CFN_WORKFLOW)


def template_target(declared: Declared, *path: str, kinds: Sequence[str] = (CFN_BUCKET,), attribute: str | None = None) -> Declared | None:
    """The template resource the value at `path` references, when it is of `kinds`: `{Ref: X}`, or with `attribute`
    `{Fn::GetAtt: [X, attribute]}` (short form `X.attribute`), as CloudFormation resolves a name or an ARN."""
    reference = peek(declared.props, *path)
    logical_id = None
    if isinstance(reference, Mapping) and attribute is None:
        logical_id = reference.get("Ref")
    elif isinstance(reference, Mapping):
        target = reference.get("Fn::GetAtt")
        if isinstance(target, list) and target[1:] == [attribute]:
            logical_id = target[0]
        elif isinstance(target, str) and target.endswith(f".{attribute}"):
            logical_id = target.removesuffix(f".{attribute}")
    kind, props = (declared.template or {}).get(logical_id if isinstance(logical_id, str) else "", (None, {}))
    if kind not in kinds:
        return None
    return Declared(f"{kind} '{logical_id}' in the same template", declared.urn, props, None, declared.template)


def environment_source_buckets(environment: Declared) -> list[Declared]:
    """The buckets an environment reads DAGs from, when they are declared in this stack (graph edge or template reference)."""
    if environment.resource is not None:
        return [Declared(label(b), b.urn, b.props, b) for b in source_buckets(environment.resource)]
    found = template_target(environment, "sourceBucketArn", attribute="Arn")
    return [found] if found else []
