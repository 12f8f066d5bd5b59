"""MWAA environments: class, capacity, logging, version and a guarded source bucket."""

from __future__ import annotations

import json
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .library.graph import (
    CLOUDFORMATION_STACKS,
    MWAA_ENVIRONMENTS,
    PROVIDER_DEFAULT_CLASS,
    UNKNOWN,
    Declared,
    Graph,
    as_number,
    declared_environments,
    environment_source_buckets,
    guarded,
    only,
    peek,
    sources,
)
from .s3 import public_access_problem, versioning_problem

LOG_KEYS = ("dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs", "workerLogs")
#: The platform's version matrix (also read by the program and the offline tools; the pack imports neither).
SUPPORTED_VERSIONS = list(json.loads((Path(__file__).parent / "data" / "mwaa_versions.json").read_text())["versions"])
#: Every class MWAA offers: a pack config naming anything else (a typo such as mw1.smal) is rejected by its schema.
MWAA_CLASSES = ["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge"]


def limit_lives_in(policy: str, key: str) -> str:
    """Where a violated limit is set, so the message says what to edit (the CLI's --policy-pack-config file)."""
    return f"(the limit is {policy}.{key} in the stack's pack config, policies/config/<stack>.json)"


def _each_environment(check, report_unreadable: bool = False):
    """A resource rule over each environment a resource declares: itself (aws, aws-native) or its CloudFormation template's."""

    @only(*MWAA_ENVIRONMENTS, *CLOUDFORMATION_STACKS)
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        environments, unreadable = declared_environments([args])
        for _, reason in unreadable if report_unreadable else ():
            report_violation(f"{reason}; it may declare MWAA environments", None)
        for env in environments:
            prefix = "" if env.resource is not None else f"{env.label}: "
            for problem in check(env, args.get_config()):
                report_violation(prefix + problem, None)

    return validate


def _environment_class(env: Declared, config: dict) -> list[str]:
    allowed = config["allowedClasses"]
    value = peek(env.props, "environmentClass")
    if value is UNKNOWN:  # fail closed: an unverifiable class is not an allowed class
        return [f"environmentClass is not known at preview; set it from config so it can be checked against {allowed}"]
    if (value or PROVIDER_DEFAULT_CLASS) not in allowed:
        shown = value or f"omitted (the provider defaults to {PROVIDER_DEFAULT_CLASS})"
        where = limit_lives_in("mwaa-environment-class", "allowedClasses")
        return [f"environmentClass {shown} is not allowed; allowed: {', '.join(allowed)} {where}"]
    return []


environment_class = ResourceValidationPolicy(
    name="mwaa-environment-class",
    description="MWAA environments use an allowed class (default: mw1.small only); an omitted class is the provider default, mw1.small.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"allowedClasses": {"type": "array", "items": {"enum": MWAA_CLASSES}, "default": ["mw1.small"], "minItems": 1}},
    ),
    validate=_each_environment(_environment_class, report_unreadable=True),
)


def _capacity(env: Declared, config: dict) -> list[str]:
    problems = []
    for key, limit in (("maxWorkers", "maxWorkers"), ("schedulers", "maxSchedulers"), ("maxWebservers", "maxWebservers")):
        ceiling = config[limit]
        value = as_number(peek(env.props, key), key)  # "10" from a program's Config.get counts as 10
        if value is UNKNOWN:
            problems.append(f"{key} is not known at preview; set it from config so it can be checked against {ceiling:g}")
        elif value is not None and value > ceiling:
            problems.append(
                f"{key} is {value:g}, above this stack's ceiling of {ceiling:g} {limit_lives_in('mwaa-capacity-limits', limit)}"
            )
    return problems


capacity_limits = ResourceValidationPolicy(
    name="mwaa-capacity-limits",
    description="MWAA workers, schedulers and webservers stay within the configured ceilings (each one is billed by the hour).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "maxWorkers": {"type": "integer", "default": 10, "minimum": 1, "maximum": 25},
            "maxSchedulers": {"type": "integer", "default": 2, "minimum": 1, "maximum": 5},
            "maxWebservers": {"type": "integer", "default": 2, "minimum": 1, "maximum": 5},
        }
    ),
    validate=_each_environment(_capacity),
)


def _logging(env: Declared, config: dict) -> list[str]:
    disabled = [key for key in LOG_KEYS if peek(env.props, "loggingConfiguration", key, "enabled") is not True]
    if disabled:
        return [f"log types not enabled (as a literal true): {', '.join(disabled)}; MWAA failures are only diagnosable from these logs"]
    return []


logging_enabled = ResourceValidationPolicy(
    name="mwaa-logging-enabled",
    description="All five MWAA log types (DAG processing, scheduler, task, webserver, worker) are enabled.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_each_environment(_logging),
)


def _airflow_version(env: Declared, config: dict) -> list[str]:
    supported = config["supportedVersions"]
    version = peek(env.props, "airflowVersion")
    if version is UNKNOWN or version not in supported:
        return [
            f"airflowVersion {version} is not in the supported list {supported}; the DAGs and requirements are tested against those "
            + limit_lives_in("mwaa-airflow-version", "supportedVersions")
        ]
    return []


airflow_version = ResourceValidationPolicy(
    name="mwaa-airflow-version",
    description="MWAA runs an Airflow version this platform tests its DAGs against.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"supportedVersions": {"type": "array", "items": {"enum": SUPPORTED_VERSIONS}, "default": SUPPORTED_VERSIONS}},
    ),
    validate=_each_environment(_airflow_version),
)


@guarded
def _source_bucket(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for env in declared_environments(graph.resources)[0]:
        buckets = environment_source_buckets(env)
        if not buckets:
            report_violation(
                f"{env.label}: sourceBucketArn does not come from a bucket in this stack, so its versioning can't be verified", env.urn
            )
        for bucket in buckets:
            for problem in (versioning_problem(bucket, graph), public_access_problem(bucket, graph)):
                if problem:
                    report_violation(f"{env.label} reads DAGs from a bucket that is not guarded: {problem}", env.urn)


source_bucket_guarded = StackValidationPolicy(
    name="mwaa-source-bucket-guarded",
    description="The bucket behind each MWAA environment's sourceBucketArn is versioned and blocks public access.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_source_bucket,
)


@guarded
def _pause_allowed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if args.get_config()["allowPause"]:
        return
    environments = declared_environments(args.resources)[0]
    if not environments:
        report_violation(
            "this stack declares no MWAA environment, and its pack config forbids pausing (allowPause: false): "
            "a duty cycle, a removed component or a bad edit would delete the environment and its run history. "
            "Set dutyCycle.enabled false (or forceRunning true) for this stack, or allowPause true if it may pause.",
            None,
        )
    by_urn = {resource.urn: resource for resource in args.resources}
    for env in environments:
        owner = env.resource or by_urn.get(env.urn)  # a template's environment is as protected as its Stack resource
        if owner is None or not owner.opts.protect:
            report_violation(
                f"{env.label} is not protected, and this stack's pack config forbids pausing (allowPause: false): "
                "set mwaa.protect: true (the `protect` option), so deleting or replacing it needs an explicit "
                "`pulumi state unprotect`.",
                env.urn,
            )


pause_allowed = StackValidationPolicy(
    name="mwaa-pause-allowed",
    description=(
        "A stack whose pack config sets allowPause false keeps its MWAA environment, and protects it "
        "(a duty cycle or an edit can't delete it)."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={"allowPause": {"type": "boolean", "default": True}}),
    validate=_pause_allowed,
)

KMS_KEYS = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws-native:kms:Key", "aws-native:kms:ReplicaKey")


def _key_problem(env: Declared) -> str | None:
    """Why `env` doesn't use a customer-managed key, or None when it does (a literal key ARN, or a key in this stack)."""
    value = peek(env.props, "kmsKey")
    if value is None:
        return "uses MWAA's AWS-owned key; set mwaa.kms to create (or an existing key's ARN) for a customer-managed key"
    if value is UNKNOWN:
        if env.resource is not None and sources(env.resource, "kmsKey", KMS_KEYS):
            return None  # a key this stack creates: its ARN is known only after it exists
        return "kmsKey is not known at preview and doesn't come from a KMS key in this stack; pass the key's ARN from config"
    if isinstance(value, str) and "alias/aws/" in value:
        return f"kmsKey {value} is an AWS-managed key; use a customer-managed key"
    return None


@guarded
def _customer_managed_key(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for env in declared_environments(args.resources)[0]:
        if problem := _key_problem(env):
            report_violation(f"{env.label} {problem}", env.urn)


customer_managed_key = StackValidationPolicy(
    name="mwaa-customer-managed-key",
    description="MWAA environments encrypt with a customer-managed KMS key (advisory by default; mandatory in prod's config).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_customer_managed_key,
)

POLICIES = [
    environment_class,
    capacity_limits,
    logging_enabled,
    airflow_version,
    source_bucket_guarded,
    pause_allowed,
    customer_managed_key,
]
