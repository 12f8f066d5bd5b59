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

from .graph import (
    BUCKET_TYPES,
    MWAA_ENVIRONMENT,
    PROVIDER_DEFAULT_CLASS,
    UNKNOWN,
    Graph,
    label,
    only,
    peek,
    public_access_problem,
    sources,
    versioning_problem,
)

LOG_KEYS = ("dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs", "workerLogs")
#: The platform's version matrix (also read by the program and the offline tools; the pack imports neither).
SUPPORTED_VERSIONS = list(json.loads(Path(__file__).with_name("mwaa_versions.json").read_text())["versions"])


@only(MWAA_ENVIRONMENT)
def _environment_class(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = args.get_config()["allowedClasses"]
    value = peek(args.props, "environmentClass")
    if value is UNKNOWN:  # fail closed: an unverifiable class is not an allowed class
        report_violation(f"environmentClass is not known at preview; set it from config so it can be checked against {allowed}")
    elif (value or PROVIDER_DEFAULT_CLASS) not in allowed:
        shown = value or f"omitted (the provider defaults to {PROVIDER_DEFAULT_CLASS})"
        report_violation(f"environmentClass {shown} is not allowed; allowed: {', '.join(allowed)}")


environment_class = ResourceValidationPolicy(
    name="mwaa-environment-class",
    description="MWAA environments use an allowed class (default: mw1.small only); an omitted class is the provider default, mw1.small.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"allowedClasses": {"type": "array", "items": {"type": "string"}, "default": ["mw1.small"]}},
    ),
    validate=_environment_class,
)


@only(MWAA_ENVIRONMENT)
def _capacity(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    for key, ceiling in (
        ("maxWorkers", config["maxWorkers"]),
        ("schedulers", config["maxSchedulers"]),
        ("maxWebservers", config["maxWebservers"]),
    ):
        value = peek(args.props, key)
        if value is UNKNOWN:
            report_violation(f"{key} is not known at preview; set it from config so it can be checked against {ceiling:g}")
        elif value is not None and value > ceiling:
            report_violation(f"{key} is {value:g}, above this stack's ceiling of {ceiling:g}")


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
    validate=_capacity,
)


@only(MWAA_ENVIRONMENT)
def _logging(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    disabled = [key for key in LOG_KEYS if peek(args.props, "loggingConfiguration", key, "enabled") is not True]
    if disabled:
        report_violation(
            f"log types not enabled (as a literal true): {', '.join(disabled)}; MWAA failures are only diagnosable from these logs"
        )


logging_enabled = ResourceValidationPolicy(
    name="mwaa-logging-enabled",
    description="All five MWAA log types (DAG processing, scheduler, task, webserver, worker) are enabled.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_logging,
)


@only(MWAA_ENVIRONMENT)
def _airflow_version(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    supported = args.get_config()["supportedVersions"]
    version = peek(args.props, "airflowVersion")
    if version is UNKNOWN or version not in supported:
        report_violation(
            f"airflowVersion {version} is not in the supported list {supported}; the DAGs and requirements are tested against those"
        )


airflow_version = ResourceValidationPolicy(
    name="mwaa-airflow-version",
    description="MWAA runs an Airflow version this platform tests its DAGs against.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={"supportedVersions": {"type": "array", "items": {"type": "string"}, "default": SUPPORTED_VERSIONS}},
    ),
    validate=_airflow_version,
)


def _source_bucket(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for env in graph.of_type(MWAA_ENVIRONMENT):
        buckets = sources(env, "sourceBucketArn", BUCKET_TYPES)
        if not buckets:
            report_violation(
                f"{label(env)}: sourceBucketArn does not come from a bucket in this stack, so its versioning can't be verified", env.urn
            )
        for bucket in buckets:
            for problem in (versioning_problem(bucket, graph), public_access_problem(bucket, graph)):
                if problem:
                    report_violation(f"{label(env)} reads DAGs from a bucket that is not guarded: {problem}", env.urn)


source_bucket_guarded = StackValidationPolicy(
    name="mwaa-source-bucket-versioned",
    description="The bucket behind each MWAA environment's sourceBucketArn is versioned and blocks public access.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_source_bucket,
)


def _pause_allowed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if args.get_config()["allowPause"] or any(r.resource_type == MWAA_ENVIRONMENT for r in args.resources):
        return
    report_violation(
        "this stack declares no MWAA environment, and its pack config forbids pausing (allowPause: false): "
        "a duty cycle, a removed component or a bad edit would delete the environment and its run history. "
        "Set dutyCycle.enabled false (or forceRunning true) for this stack, or allowPause true if it may pause."
    )


pause_allowed = StackValidationPolicy(
    name="mwaa-pause-allowed",
    description="A stack whose pack config sets allowPause false keeps its MWAA environment (a duty cycle can't pause it).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={"allowPause": {"type": "boolean", "default": True}}),
    validate=_pause_allowed,
)

POLICIES = [environment_class, capacity_limits, logging_enabled, airflow_version, source_bucket_guarded, pause_allowed]
