"""Typed stack settings: every config key, its default and its limits in one place.

`load_settings` runs before the program registers anything, so a bad value stops
`pulumi up` with one message that names the key and what it accepts, instead of a
MWAA environment stuck in "Creating" for an hour.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

import pulumi
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

import names
import schedule
from names import LOG_TYPES

PROJECT = "mwaa-platform"
#: AWS prices by 730-hour months (policies/rules/data/pricing.json `hours_per_month`, the cost model's too).
HOURS_PER_MONTH = json.loads((Path(__file__).parent / "policies" / "rules" / "data" / "pricing.json").read_text())["hours_per_month"]
#: The supported Airflow versions (shared with the policy pack and the offline tools; constraint files in mwaa-images/).
AIRFLOW_VERSIONS = json.loads((Path(__file__).parent / "policies" / "rules" / "data" / "mwaa_versions.json").read_text())


class ClassLimits(NamedTuple):
    """What the MWAA API accepts for one environment class."""

    schedulers: tuple[int, int]
    webservers: tuple[int, int]
    max_workers: int


EnvironmentClass = Literal["mw1.micro", "mw1.small", "mw1.medium", "mw1.large", "mw1.xlarge", "mw1.2xlarge"]
CLASS_LIMITS: dict[str, ClassLimits] = {
    name: ClassLimits((1, 1), (1, 1), 1) if name == "mw1.micro" else ClassLimits((2, 5), (2, 5), 25) for name in get_args(EnvironmentClass)
}
LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]
LOG_LEVELS = get_args(LogLevel)
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAINTENANCE_WINDOW = re.compile(r"^(MON|TUE|WED|THU|FRI|SAT|SUN):([01]\d|2[0-3]):(00|30)$")
#: MWAA's own form (CreateEnvironment Name); the length every derived name allows is checked apart (names.py).
ENVIRONMENT_NAME = re.compile(r"^[a-zA-Z][0-9a-zA-Z_-]*$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(mrk-)?[0-9a-f-]{32,36}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


#: A Connection id or Variable key as a Secrets Manager name part (letters, digits and /_+=.@- are allowed there).
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+=.@-]{1,128}$")]


class ConfigError(pulumi.RunError):
    """A stack setting is invalid; raised before any resource is registered."""


class _Model(BaseModel):
    """camelCase keys as in Pulumi.<stack>.yaml; unknown keys are typos, so they fail."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True)


class NetworkSettings(_Model):
    vpc_cidr: str = "10.192.0.0/16"
    """VPC range (/16 to /28)"""
    public_subnet_cidrs: list[str] = ["10.192.10.0/24", "10.192.11.0/24"]
    """exactly 2, inside the VPC, non-overlapping"""
    private_subnet_cidrs: list[str] = ["10.192.20.0/24", "10.192.21.0/24"]
    """exactly 2 (MWAA's rule), inside the VPC, non-overlapping"""
    nat_gateways: Literal[1, 2] = 2
    """1 (dev: cheaper, one AZ's NAT) or 2 (one per AZ)"""

    @field_validator("vpc_cidr", "public_subnet_cidrs", "private_subnet_cidrs")
    @classmethod
    def _cidrs_parse(cls, value: str | list[str]) -> str | list[str]:
        for cidr in [value] if isinstance(value, str) else value:
            try:
                ipaddress.IPv4Network(cidr)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not an IPv4 network in CIDR form such as 10.192.0.0/16 ({exc})") from None
        return value

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkSettings:
        for key, cidrs in (("publicSubnetCidrs", self.public_subnet_cidrs), ("privateSubnetCidrs", self.private_subnet_cidrs)):
            if len(cidrs) != 2:
                raise ValueError(f"{key} must list exactly 2 subnets (one per AZ; MWAA takes exactly 2 private subnets), got {len(cidrs)}")
        vpc = ipaddress.IPv4Network(self.vpc_cidr)
        if not 16 <= vpc.prefixlen <= 28:
            raise ValueError(f"vpcCidr {self.vpc_cidr} must have a prefix between /16 and /28")
        subnets = [ipaddress.IPv4Network(c) for c in self.public_subnet_cidrs + self.private_subnet_cidrs]
        for subnet in subnets:
            if not subnet.subnet_of(vpc):
                raise ValueError(f"subnet {subnet} is outside vpcCidr {vpc}; pick a range inside it")
        for a, b in itertools.combinations(subnets, 2):
            if a.overlaps(b):
                raise ValueError(f"subnets {a} and {b} overlap; every public and private subnet needs its own range")
        return self


class LogLevels(_Model):
    dag_processing: LogLevel = "WARNING"
    """DAG processing log level: CRITICAL, ERROR, WARNING, INFO or DEBUG (all five log types are always enabled)"""
    scheduler: LogLevel = "WARNING"
    """scheduler log level (as above)"""
    task: LogLevel = "INFO"
    """task log level (as above)"""
    webserver: LogLevel = "WARNING"
    """webserver log level (as above)"""
    worker: LogLevel = "WARNING"
    """worker log level (as above)"""

    def by_log_type(self) -> dict[str, str]:
        """Levels keyed by MWAA's log type names (as in the log group suffixes)."""
        return dict(zip(LOG_TYPES, (self.dag_processing, self.scheduler, self.task, self.webserver, self.worker), strict=True))


class MwaaSettings(_Model):
    mode: Literal["provisioned", "serverless"] = "provisioned"
    """`provisioned`: an MWAA environment in its VPC. `serverless`: an MWAA Serverless workflow
    (README, Provisioned or serverless); it then takes only `mode`, `logRetentionDays` and `protect` in `mwaa` and
    `noncurrentVersionExpirationDays` and `protect` in `dagBucket`, and no `network` or `dutyCycle` (each is an
    error naming the key), and a `pipeline.timezone` without daylight saving
    """
    environment_class: EnvironmentClass = "mw1.small"
    """`mw1.micro`, `mw1.small`, `mw1.medium`, `mw1.large`, `mw1.xlarge`, `mw1.2xlarge` (the pack allows mw1.small only
    by default)
    """
    airflow_version: str = AIRFLOW_VERSIONS["default"]
    """one of the supported versions (3.0.6, 3.2.1, 3.3.1; `policies/rules/data/mwaa_versions.json`); must match the
    `--constraint` line in the requirements file
    """
    schedulers: int = 2
    """2-5 (mw1.micro: 1)"""
    min_workers: int = 1
    """workers always running: 1 ≤ minWorkers ≤ maxWorkers ≤ 25 (mw1.micro: 1)"""
    max_workers: int = 10
    """the autoscaling ceiling: minWorkers ≤ maxWorkers ≤ 25 (mw1.micro: 1)"""
    min_webservers: int = 2
    """2-5, at most maxWebservers (mw1.micro: 1)"""
    max_webservers: int = 2
    """2-5, at least minWebservers (mw1.micro: 1)"""
    webserver_access_mode: Literal["PUBLIC_ONLY", "PRIVATE_ONLY", "PUBLIC_AND_PRIVATE"] = "PUBLIC_ONLY"
    """`PUBLIC_ONLY` (UI over the internet, still IAM-gated), `PRIVATE_ONLY` (needs VPN/bastion) or
    `PUBLIC_AND_PRIVATE` (both; Airflow 3.2+ only)
    """
    protect: bool = False
    """`protect` the environment: deleting or replacing it needs `pulumi state unprotect` first; not with a duty cycle
    """
    kms: str = "none"
    """`none` (MWAA's AWS-owned key), `create` (a customer-managed key this stack owns) or an existing key's ARN in the
    stack's region
    """
    weekly_maintenance_window_start: str = "SUN:03:00"
    """`DAY:HH:MM` UTC, minutes 00 or 30"""
    airflow_configuration_options: dict[str, Any] = {}
    """`section.option: value` overrides; YAML scalars are sent as MWAA's strings (`true` -> `"true"`, `3` -> `"3"`),
    nested maps and lists are errors
    """
    pools: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,256}$")], Annotated[int, Field(ge=1)]] = {}
    """Airflow pools as code, `name: slots`: written into the environment after every resume (over what the UI set)"""
    connections: list[SecretName] = []
    """Airflow Connections served from Secrets Manager (`airflow/<env>/connections/<id>`), by id; their values are set
    outside git (docs/duty-cycle.md), and they outlive every pause"""
    variables: list[SecretName] = []
    """Airflow Variables served from Secrets Manager (`airflow/<env>/variables/<key>`), by key, as connections"""
    log_levels: LogLevels = LogLevels()
    log_retention_days: int = 14
    """a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, ...) for the MWAA and Lambda log groups"""

    @model_validator(mode="before")
    @classmethod
    def _no_worker_replacement_strategy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "workerReplacementStrategy" in data:
            raise ValueError(
                "workerReplacementStrategy is not supported: the AWS provider sends it only on the update that changes it and "
                "reads it back from the environment's last update, so after every create (each duty-cycle resume) state and "
                "config disagree and the next `pulumi up` runs a 10-30 minute update for nothing (docs/real-path.md, 'No perpetual diff'). "
                "Remove the key; MWAA's default applies to updates"
            )
        return data

    @field_validator("airflow_version")
    @classmethod
    def _version_supported(cls, value: str) -> str:
        supported = AIRFLOW_VERSIONS["versions"]
        if value not in supported:
            raise ValueError(
                f"airflowVersion {value!r} is not supported here; supported: {', '.join(supported)} "
                f"(policies/rules/data/mwaa_versions.json; MWAA's constraint files for each are in mwaa-images/)"
            )
        return value

    @field_validator("kms")
    @classmethod
    def _kms_choice(cls, value: str) -> str:
        if value not in ("none", "create") and not KMS_KEY_ARN.match(value):
            raise ValueError(f"kms {value!r} must be none, create, or a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/<uuid>")
        return value

    @field_validator("weekly_maintenance_window_start")
    @classmethod
    def _window_form(cls, value: str) -> str:
        if not MAINTENANCE_WINDOW.match(value):
            raise ValueError(
                f"weeklyMaintenanceWindowStart {value!r} must be DAY:HH:MM in UTC, DAY one of MON..SUN, minutes 00 or 30 (e.g. SUN:03:00)"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_allowed(cls, value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(
                f"logRetentionDays {value} is not a CloudWatch retention; allowed: {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}"
            )
        return value

    @field_validator("airflow_configuration_options")
    @classmethod
    def _options_as_strings(cls, value: dict[str, Any]) -> dict[str, str]:
        options = {}
        for key, option in value.items():
            if key.startswith("secrets."):
                raise ValueError(
                    f"airflowConfigurationOptions.{key}: the secrets backend is set from mwaa.connections and mwaa.variables "
                    "(Secrets Manager, per-stack prefixes the execution role may read); declare the names there"
                )
            if not re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", key):
                raise ValueError(f"airflowConfigurationOptions key {key!r} must be section.option, e.g. core.default_task_retries")
            if isinstance(option, bool):
                options[key] = "true" if option else "false"
            elif isinstance(option, int | float | str):
                options[key] = str(option)
            else:
                shown = "a nested map" if isinstance(option, dict) else "a list" if isinstance(option, list) else "empty"
                raise ValueError(
                    f"airflowConfigurationOptions.{key} is {shown}; MWAA takes one string, number or boolean per section.option "
                    f"(write each option on its own line, e.g. core.load_examples: false)"
                )
        return options

    @model_validator(mode="after")
    def _access_mode_supported(self) -> MwaaSettings:
        if (
            self.webserver_access_mode == "PUBLIC_AND_PRIVATE"
            and not AIRFLOW_VERSIONS["versions"][self.airflow_version]["public_and_private_webserver"]
        ):
            able = [v for v, facts in AIRFLOW_VERSIONS["versions"].items() if facts["public_and_private_webserver"]]
            raise ValueError(
                f"webserverAccessMode PUBLIC_AND_PRIVATE needs Airflow 3.2 or later ({', '.join(able)}); airflowVersion is "
                f"{self.airflow_version}. Use PUBLIC_ONLY or PRIVATE_ONLY, or upgrade first"
            )
        return self

    @model_validator(mode="after")
    def _within_class_limits(self) -> MwaaSettings:
        limits = CLASS_LIMITS[self.environment_class]
        checks = (
            ("schedulers", self.schedulers, *limits.schedulers, ""),
            ("minWebservers", self.min_webservers, *limits.webservers, ""),
            ("maxWebservers", self.max_webservers, self.min_webservers, limits.webservers[1], " (and not below minWebservers)"),
            ("minWorkers", self.min_workers, 1, limits.max_workers, ""),
            ("maxWorkers", self.max_workers, self.min_workers, limits.max_workers, " (and not below minWorkers)"),
        )
        for key, value, low, high, hint in checks:
            if not low <= value <= high:
                raise ValueError(f"{key} is {value}; {self.environment_class} allows {low} to {high}{hint}")
        return self


class BucketSettings(_Model):
    noncurrent_version_expiration_days: int = Field(default=30, ge=1)
    """old object versions expire after this many days"""
    protect: bool = False
    """`true`: buckets are `protect`ed and retained on delete, no `force_destroy`"""
    requirements_file: str = "dags/requirements.txt"
    """uploaded to the bucket root; must hold the Airflow `--constraint` line"""
    startup_script: str | None = None
    """a shell script in the repo (e.g. `startup.sh`) MWAA runs on every container start; uploaded to the bucket root,
    its version wired to the environment
    """
    plugins_dir: str | None = None
    """a folder (e.g. `plugins`) zipped byte for byte reproducibly to `plugins.zip` at the bucket root, its version
    wired to the environment
    """


class LambdaSettings(_Model):
    runtime: Literal["python3.11", "python3.12", "python3.13"] = "python3.12"
    """the validate-input function's Lambda runtime"""
    memory_mb: int = Field(default=256, ge=128, le=10240)
    """the validate-input function's memory"""
    timeout_seconds: int = Field(default=60, ge=1, le=900)
    """the validate-input function's timeout (a serverless task waits this plus 60 s)"""


class GlueSettings(_Model):
    job_type: Literal["pythonshell", "glueetl"] = "pythonshell"
    """`pythonshell` (maxCapacity 0.0625 or 1) or `glueetl` (workerType + numberOfWorkers ≥ 2)"""
    glue_version: str = "3.0"
    """the Glue version"""
    python_version: Literal["3", "3.9"] = "3.9"
    """the Python of a pythonshell job"""
    max_capacity: float | None = 0.0625
    """DPUs of a pythonshell job (0.0625 or 1); null for glueetl"""
    worker_type: Literal["G.025X", "G.1X", "G.2X", "G.4X", "G.8X"] | None = None
    """a glueetl job's worker type"""
    number_of_workers: int | None = None
    """a glueetl job's workers (≥ 2)"""
    timeout_minutes: int = Field(default=30, ge=1, le=2880)
    """the Glue job's timeout (a serverless task waits this plus 5 minutes, so at most 55 there)"""
    max_retries: int = Field(default=0, ge=0, le=10)
    """Glue-side retries (Airflow already retries the task)"""
    expected_run_minutes: float = Field(default=2, gt=0)
    """a run's expected length, for the cost estimate only"""

    @model_validator(mode="after")
    def _capacity_matches_type(self) -> GlueSettings:
        if self.job_type == "pythonshell":
            if self.max_capacity not in (0.0625, 1.0) or self.worker_type or self.number_of_workers:
                raise ValueError("a pythonshell job takes maxCapacity 0.0625 or 1 and no workerType/numberOfWorkers")
        elif self.max_capacity is not None or not self.worker_type or (self.number_of_workers or 0) < 2:
            raise ValueError("a glueetl job takes workerType (e.g. G.1X) and numberOfWorkers >= 2, and maxCapacity null")
        return self


Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
WEEKDAYS = get_args(Weekday)  # schedule.WEEKDAYS (standard library only); tests/test_duty_cycle.py keeps them equal


def _known_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {value!r} is not an IANA time zone such as Asia/Kolkata or UTC") from None
    return value


def _quoted_time(key: str, value: Any) -> Any:
    """YAML 1.1 reads an unquoted 9:00 as the number 540 (base 60): say so, rather than "not a valid string"."""
    if isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
        raise ValueError(
            f"{key} reads as the number {value}: YAML takes an unquoted {hours}:{minutes:02d} as base-60. "
            f'Quote it: {key}: "{hours:02d}:{minutes:02d}"'
        )
    return value


def _distinct_days(value: list[str]) -> list[str]:
    if not value or len(set(value)) != len(value):
        raise ValueError("must list one or more distinct days, e.g. [MON, TUE, WED, THU, FRI]")
    return value


Days = Annotated[list[Weekday], AfterValidator(_distinct_days)]


class PipelineSettings(_Model):
    run_days: Days = ["MON", "TUE", "WED", "THU", "FRI"]
    """the days the pipeline runs, in `timezone`; with runTime and timezone, set once for every stack in `Pulumi.yaml`"""
    run_time: str = "10:00"
    """when it runs, HH:MM in `timezone` (10:00 IST = 04:30 UTC). Quote it: YAML reads an unquoted `9:00` as the number
    540
    """
    timezone: str = "Asia/Kolkata"
    """the IANA zone runDays and runTime are read in (IST has no daylight saving; a serverless stack needs a zone
    without it)
    """
    input_prefix: str = "incoming/"
    """where the day's CSV is expected in the data bucket (`<prefix><date>.csv`)"""
    output_prefix: str = "curated/"
    """where the day's summary is written (`<prefix><date>/summary.csv`)"""
    late_start_minutes: int = Field(default=60, ge=0, le=720)
    """a scheduler that first sees the DAG up to this long after a scheduled time still runs that interval, once (the
    timetable's `run_immediately`)
    """
    run_timeout_minutes: int = Field(default=120, ge=10, le=1440)
    """the DAG run's `dagrun_timeout`; with `lateStartMinutes`, what a duty-cycle window must cover"""
    lambda_: LambdaSettings = Field(default=LambdaSettings(), alias="lambda")
    glue: GlueSettings = GlueSettings()

    @model_validator(mode="before")
    @classmethod
    def _alert_emails_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "alertEmails" in data:
            raise ValueError("alertEmails moved to the top level: set mwaa-platform:alertEmails (next to owner), not pipeline.alertEmails")
        return data

    @field_validator("run_time", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        return _quoted_time("runTime", value)

    @field_validator("run_time")
    @classmethod
    def _time_form(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError(f"runTime {value!r} must be HH:MM on a 24-hour clock, e.g. 10:00")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        return _known_zone(value)

    @property
    def cron(self) -> str:
        """The DAG's schedule as cron, read in `timezone`."""
        return schedule.dag_cron(self.run_days, self.run_time)

    @property
    def deadline_minutes(self) -> int:
        """How long after its scheduled time a run must have produced its result: late start plus run timeout."""
        return self.late_start_minutes + self.run_timeout_minutes

    @property
    def deadline_cron(self) -> str:
        """EventBridge Scheduler cron for each run's deadline, read in `timezone` (days shift when it passes midnight)."""
        return schedule.deadline_cron(self.run_days, self.run_time, self.deadline_minutes)

    @property
    def runs_per_month(self) -> float:
        """Scheduled runs in an average month of 730 hours (what AWS prices by)."""
        return round(len(self.run_days) * HOURS_PER_MONTH / 24 / 7, 2)

    @field_validator("input_prefix", "output_prefix")
    @classmethod
    def _prefix_form(cls, value: str) -> str:
        if not re.fullmatch(r"[a-zA-Z0-9_\-./]+/", value) or value.startswith("/"):
            raise ValueError(f"S3 prefix {value!r} must be relative and end with '/', e.g. incoming/")
        return value


class WindowSettings(_Model):
    """An extra window, e.g. weekday working hours for a team that wants the UI while it works."""

    days: Days
    start: str
    end: str
    #: The zone `days`, `start` and `end` are read in; with daylight saving, the window covers both UTC times.
    timezone: str = "UTC"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: Any, info: ValidationInfo) -> Any:
        return _quoted_time(info.field_name or "time", value)

    @field_validator("start", "end")
    @classmethod
    def _time_form(cls, value: str, info: ValidationInfo) -> str:
        if not HHMM.match(value) and not (info.field_name == "end" and value == "24:00"):
            raise ValueError(f"window time {value!r} must be HH:MM on a 24-hour clock, e.g. 08:00 (an end may be 24:00)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        return _known_zone(value)

    @model_validator(mode="after")
    def _not_empty(self) -> WindowSettings:
        if self.start == self.end:
            raise ValueError(f"window {self.start}-{self.end} is empty; an end before the start crosses midnight (22:00-02:00)")
        return self


class DutyCycleSettings(_Model):
    """Run the environment only inside windows: from leadMinutes before each pipeline run to its tail, plus `windows`."""

    enabled: bool = False
    """run the environment only inside its windows (docs/duty-cycle.md)"""
    lead_minutes: int = Field(default=60, ge=30, le=240)
    """a window opens this long before each pipeline run (30-240): creation takes 20-30 minutes, a scheduled run can
    start late
    """
    tail_margin_minutes: int = Field(default=15, ge=0, le=240)
    """a window closes `lateStartMinutes` + `runTimeoutMinutes` + this after each run"""
    windows: list[WindowSettings] = []
    """extra windows, `windows: [{days: [MON, TUE, WED, THU, FRI], start: "07:00", end: "17:00"}]` (an end before the
    start crosses midnight; an end may be `24:00`), merged with the pipeline's; each may name its `timezone`
    (default UTC; with daylight saving a window covers both UTC times), e.g. `windows: [{days: [MON, FRI], start:
    "08:00", end: "18:00", timezone: Europe/Berlin}]`
    """
    force_running: bool = False
    """keep the environment up whatever the windows say (debugging; priced as always on); committed config, so pushes
    and the scheduler agree
    """


class Settings(_Model):
    """One stack's settings: `mwaa-platform:<key>` in Pulumi.<stack>.yaml, plus aws:region."""

    stack: str
    region: str
    """region of every resource; also selects prices"""
    owner: str = Field(min_length=1)
    """default tag `owner` on every resource"""
    cost_center: str = Field(min_length=1)
    """default tag `cost-center` on every resource"""
    environment_name: str | None = None
    """the MWAA environment's (or workflow's) name; every derived name and ARN comes from it, and each must fit AWS's
    limit (names.py; an error gives the longest that fits). Unset: `mwaa-platform-<stack>`
    """
    tags: dict[str, str] = {}
    """extra default tags"""
    alert_emails: list[str] = []
    """who hears of a failed task or a missed run: email subscriptions on the alert topic (SNS asks each to confirm);
    the pack's `sns-topic-has-subscriber` wants one (advisory in dev, mandatory in prod), and `sns-subscriber-can-confirm`
    reports an address at a reserved domain such as prod's shipped `example.com` placeholder: set yours before prod's first
    deploy
    """
    network: NetworkSettings = NetworkSettings()
    mwaa: MwaaSettings = MwaaSettings()
    dag_bucket: BucketSettings = BucketSettings()
    pipeline: PipelineSettings = PipelineSettings()
    duty_cycle: DutyCycleSettings = DutyCycleSettings()

    @field_validator("alert_emails")
    @classmethod
    def _emails_form(cls, value: list[str]) -> list[str]:
        for email in value:
            if not EMAIL.match(email):
                raise ValueError(f"alertEmails entry {email!r} is not an email address")
        return value

    @field_validator("region")
    @classmethod
    def _region_form(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"aws:region {value!r} is not an AWS region name such as us-east-1")
        return value

    @model_validator(mode="after")
    def _key_in_region(self) -> Settings:
        if (match := KMS_KEY_ARN.match(self.mwaa.kms)) and match["region"] != self.region:
            raise ValueError(f"mwaa.kms is a key in {match['region']}; MWAA needs a key in the stack's region {self.region}")
        return self

    @model_validator(mode="after")
    def _protected_not_paused(self) -> Settings:
        if self.mwaa.protect and self.duty_cycle.enabled and not self.duty_cycle.force_running:
            raise ValueError(
                "mwaa.protect is true and dutyCycle.enabled is true: a pause deletes the environment, which protect forbids. "
                "Protect an always-on stack only (set dutyCycle.enabled false, or mwaa.protect false)"
            )
        return self

    @model_validator(mode="after")
    def _name_form(self) -> Settings:
        if not ENVIRONMENT_NAME.match(self.name):
            raise ValueError(f"environmentName {self.name!r} must start with a letter and hold only letters, digits, '-' or '_'")
        if over := names.too_long(self.name, self.serverless):
            where = "environmentName" if self.environment_name else f"environmentName (unset: {self.name!r}, from the stack's name)"
            raise ValueError(
                f"{where} makes names longer than AWS allows: {'; '.join(over)}. Set mwaa-platform:environmentName to at most "
                f"{names.longest_name(self.serverless)} characters"
            )
        return self

    @model_validator(mode="after")
    def _fits_mode(self) -> Settings:
        """A serverless stack has no environment, VPC or requirements: a key for those would be silently ignored."""
        if not self.serverless:
            return self

        def keys(section: str, model: _Model, allowed: set[str]) -> list[str]:
            return [f"{section}.{to_camel(key)}" for key in sorted(model.model_fields_set - allowed)]

        inapplicable = keys("mwaa", self.mwaa, SERVERLESS_MWAA_KEYS) + keys("dagBucket", self.dag_bucket, SERVERLESS_BUCKET_KEYS)
        inapplicable += [to_camel(key) for key in sorted(self.model_fields_set & {"network", "duty_cycle"})]
        if inapplicable:
            raise ValueError(
                f"{', '.join(inapplicable)} apply to a provisioned environment only, and this stack sets mwaa.mode serverless "
                f"(no environment, VPC, requirements or duty cycle). Remove them; in mwaa a serverless stack takes "
                f"{', '.join(sorted(to_camel(k) for k in SERVERLESS_MWAA_KEYS))}"
            )
        if schedule.fixed_utc_offset(self.pipeline.timezone) is None:
            raise ValueError(
                f"pipeline.timezone {self.pipeline.timezone} changes its UTC offset during the year (daylight saving), and MWAA "
                "Serverless schedules are cron in UTC: the runs would move by an hour twice a year. Give this stack its own "
                f"schedule in a zone without daylight saving: in Pulumi.{self.stack}.yaml, mwaa-platform:pipeline with runDays, "
                "runTime and timezone: UTC (or e.g. Asia/Kolkata); or use mwaa.mode provisioned (its DAG schedules in the zone)"
            )
        return self

    @property
    def serverless(self) -> bool:
        """mwaa.mode serverless: an MWAA Serverless workflow instead of an environment."""
        return self.mwaa.mode == "serverless"

    @property
    def airflow_version(self) -> str:
        """The Airflow the stack's DAGs run on: the environment's, or the one MWAA Serverless runs."""
        return AIRFLOW_VERSIONS["serverless"]["airflow"] if self.serverless else self.mwaa.airflow_version

    @property
    def name(self) -> str:
        """The MWAA environment name, from which every derived name and ARN comes."""
        return self.environment_name or f"{PROJECT}-{self.stack}"

    @property
    def default_tags(self) -> dict[str, str]:
        return {"project": PROJECT, "stack": self.stack, "owner": self.owner, "cost-center": self.cost_center, **self.tags}


#: What a serverless stack may set in mwaa and dagBucket (the rest configures an environment).
SERVERLESS_MWAA_KEYS = {"mode", "log_retention_days", "protect"}
SERVERLESS_BUCKET_KEYS = {"noncurrent_version_expiration_days", "protect"}
#: Keys read from the project namespace; objects are YAML maps in the stack file.
SCALAR_KEYS = ("owner", "costCenter", "environmentName")
OBJECT_KEYS = ("tags", "alertEmails", "network", "mwaa", "dagBucket", "pipeline", "dutyCycle")


def _describe(error: ErrorDetails) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    key = "aws:region" if loc == "region" else f"{PROJECT}:{loc}" if loc else PROJECT
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting (a typo?); see docs/configuration.md for the keys this section takes"
    elif error["type"] == "missing":
        message = f"required; set it with `pulumi config set {key.split('.')[0]} <value>`"
    return f"  {key}: {message}"


def load_settings(stack: str, read: Callable[[str], Any]) -> Settings:
    """Build settings from a key reader (`read("mwaa-platform:mwaa")` -> value or None).

    Raises ConfigError listing every bad key at once.
    """
    raw: dict[str, Any] = {"stack": stack}
    for key, full_key in [("region", "aws:region")] + [(k, f"{PROJECT}:{k}") for k in SCALAR_KEYS + OBJECT_KEYS]:
        value = read(full_key)
        if value is not None:
            raw[key] = json.loads(value) if key in OBJECT_KEYS and isinstance(value, str) else value
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        lines = "\n".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid stack configuration for stack {stack!r}:\n{lines}") from None


def check_requirements_file(project_dir: Path, settings: Settings) -> Path:
    """MWAA (Airflow >= 2.7.2) needs a --constraint line for exactly the configured Airflow version."""
    key = f"{PROJECT}:dagBucket.requirementsFile"
    path = project_dir / settings.dag_bucket.requirements_file
    if not path.is_file():
        raise ConfigError(f"{key}: {path} does not exist; point it at the workers' requirements file (default dags/requirements.txt)")
    version = settings.mwaa.airflow_version
    wanted = f"constraints-{version}/"
    constraints = [line for line in path.read_text().splitlines() if line.strip().startswith("--constraint")]
    if not any(wanted in line for line in constraints):
        raise ConfigError(
            f"{key}: {path.name} must carry the constraint line for Airflow {version}, e.g. "
            f'--constraint "https://raw.githubusercontent.com/apache/airflow/{wanted}constraints-3.12.txt" '
            f"(found: {constraints or 'none'}); MWAA rejects requirements without it"
        )
    return path


def check_bucket_files(project_dir: Path, settings: Settings) -> None:
    """The optional startup script and plugins folder exist where the config says."""
    bucket = settings.dag_bucket
    for key, relative, kind in (("startupScript", bucket.startup_script, "file"), ("pluginsDir", bucket.plugins_dir, "folder")):
        path = project_dir / relative if relative else None
        if path and not (path.is_file() if kind == "file" else path.is_dir()):
            raise ConfigError(f"{PROJECT}:dagBucket.{key}: {path} is not a {kind}; fix the path or remove the setting")


def settings_from_pulumi_config(project_dir: Path) -> Settings:
    """The running stack's settings, read through Pulumi's config API and checked against the files."""
    project, aws = pulumi.Config(), pulumi.Config("aws")

    def read(full_key: str) -> Any:
        namespace, key = full_key.split(":", 1)
        return (aws if namespace == "aws" else project).get(key)

    settings = load_settings(pulumi.get_stack(), read)
    if not settings.serverless:  # a serverless stack uploads neither
        check_requirements_file(project_dir, settings)
        check_bucket_files(project_dir, settings)
    return settings
