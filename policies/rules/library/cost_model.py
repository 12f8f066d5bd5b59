"""Monthly cost of a stack, from its resources' inputs and pricing.json.

The estimate reads only what a first preview already knows (literal inputs and
resource counts), so the budget policy can decide before anything exists. It
never prices a resource it can't find a figure for: a missing region or class
is an error naming the entry to add, not a silent zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .graph import MWAA_ENVIRONMENTS, PROVIDER_DEFAULT_CLASS, UNKNOWN, as_number, json_value, peek

#: Set by the program (duty_cycle.py) on what a pause removes; the pack can't import the program, so the names repeat.
HOURS_TAG, CYCLES_TAG = "duty-cycle:hours-per-month", "duty-cycle:cycles-per-month"

PRICING_FILE = Path(__file__).resolve().parent.parent / "data" / "pricing.json"
#: The team's own figures (a region or class pricing.json lacks, a negotiated rate), each with its source: merged over
#: pricing.json by the pack and the offline tools alike (docs/cost.md, "Your own prices"). Absent by default.
TEAM_PRICING_FILE = Path(__file__).resolve().parents[2] / "team-prices.json"
TEAM_PRICING_NAME = "policies/team-prices.json"
#: Figures priced per environment class.
PER_CLASS = ("mwaa_environment_hour", "mwaa_additional_instance_hour", "mwaa_additional_webserver_hour")
GLUE_WORKER_DPU = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8}
SCHEDULES = ("aws:scheduler/schedule:Schedule",)
WORKFLOWS = ("aws-native:mwaaserverless:Workflow",)
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_CRON = re.compile(r"^cron\((\S+) (\S+) \S+ \S+ (\S+) \S+\)$")


class CostModelError(ValueError):
    """The stack can't be priced: unknown region, class or value."""


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    #: The same item with the environment and its NAT egress up all 730 hours.
    always_on_usd: float = 0.0
    #: Printed beside the figure: e.g. a rate taken from another region as an upper bound.
    note: str = ""


@dataclass
class Estimate:
    region: str
    hours_per_month: float
    items: list[LineItem] = field(default_factory=list)
    #: Hours a month the environment is billed (None: the stack declares no environment now).
    active_hours: float | None = None
    #: How a duty cycle's billed hours come about: hours inside its windows, and pauses a month, each billed
    #: `teardown_minutes` more while its state is exported and the deleted environment goes away (None: always on).
    window_hours: float | None = None
    pauses: float = 0.0
    teardown_minutes: float = 0.0
    #: Not in the total: what autoscaling to maxWorkers while the environment runs would add.
    worker_ceiling_usd: float = 0.0
    always_on_worker_ceiling_usd: float = 0.0
    #: pricing.json entries this stack needs and the file lacks: priced at nothing, so the total is a lower bound.
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def total(self) -> float:
        return round(sum(item.monthly_usd for item in self.items), 2)

    @property
    def always_on_total(self) -> float:
        return round(sum(item.always_on_usd for item in self.items), 2)

    def top(self, count: int) -> list[LineItem]:
        return sorted(self.items, key=lambda item: -item.monthly_usd)[:count]


def load_pricing(path: Path = PRICING_FILE, team: Path | None = TEAM_PRICING_FILE) -> dict[str, Any]:
    """pricing.json with the team's own figures merged over it, when it has a team-prices.json (None: pricing.json's own)."""
    pricing = json.loads(path.read_text())
    if team is not None and team.exists():
        try:
            document = json.loads(team.read_text())
        except json.JSONDecodeError as exc:
            raise CostModelError(f"{TEAM_PRICING_NAME} is not valid JSON ({exc})") from None
        _merge_team_prices(pricing, document)
    return pricing


def _merge_team_prices(pricing: dict[str, Any], team: Any) -> None:
    """Validate the team's file and merge its figures over pricing.json's: one error names every bad entry and the fix."""
    if not isinstance(team, dict) or not set(team) <= {"about", "sources", "regions"}:
        raise CostModelError(f"{TEAM_PRICING_NAME}: the top level is an object of about, sources and regions")
    sources, regions = team.get("sources", {}), team.get("regions", {})
    known = {key for table in pricing["regions"].values() for key in table}
    problems = [
        f'sources["{name}"] needs a title and as_of (YYYY-MM-DD), and a url where there is one'
        for name, source in sources.items()
        if not isinstance(source, dict) or not source.get("title") or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(source.get("as_of")))
    ]
    figures: list[tuple[str, str, str | None, Any]] = []  # (region, key, class or None, figure)
    taken = sorted(set(sources) & set(pricing["sources"]))
    problems += [f'sources["{name}"]: pricing.json has a source of that name; choose another' for name in taken]
    for region, table in regions.items():
        for key, entry in table.items() if isinstance(table, dict) else [("", None)]:
            if key not in known:
                problems.append(f'regions["{region}"].{key}: unknown figure; pricing.json has {", ".join(sorted(known))}')
            elif key in PER_CLASS and isinstance(entry, dict):
                figures += [(region, key, cls, figure) for cls, figure in entry.items()]
            elif key in PER_CLASS:
                problems.append(f'regions["{region}"].{key}: an object of environment class to figure, e.g. {{"mw1.small": {{...}}}}')
            else:
                figures.append((region, key, None, entry))
    for region, key, cls, figure in figures:
        where = f'regions["{region}"].{key}' + (f'["{cls}"]' if cls else "")
        usd = figure.get("usd") if isinstance(figure, dict) else None
        if not isinstance(usd, int | float) or isinstance(usd, bool) or usd < 0:
            problems.append(f"{where}: needs usd, a number of dollars >= 0")
        elif figure.get("source") not in sources:
            problems.append(f"{where}: needs source, the name of its entry in sources (where the figure comes from)")
    if problems:
        raise CostModelError(f"{TEAM_PRICING_NAME}: " + "; ".join(problems) + ' (docs/cost.md, "Your own prices")')
    for region, key, cls, figure in figures:
        table = pricing["regions"].setdefault(region, {})
        if cls:
            table.setdefault(key, {})[cls] = figure
        else:
            table[key] = figure
    pricing["sources"] |= sources


class _Prices:
    """The region's figures; a figure the file lacks is recorded in `missing` and priced at 0, so every gap shows at once."""

    def __init__(self, pricing: Mapping[str, Any], region: str) -> None:
        self.pricing, self.table, self.region = pricing, pricing["regions"].get(region, {}), region
        self.hours = pricing["hours_per_month"]
        self.assumptions = {k: v["value"] for k, v in pricing["assumptions"].items()}
        self.included = pricing["included_per_environment"]
        self.missing: list[str] = []

    def __call__(self, key: str, variant: str | None = None) -> float:
        entry = self.table.get(key)
        if variant is not None:
            entry = (entry or {}).get(variant)
        if entry is None:
            what = f'regions["{self.region}"].{key}' + (f'["{variant}"]' if variant else "")
            if what not in self.missing:
                self.missing.append(what)
            return 0.0
        return entry["usd"]

    def own(self, key: str, variant: str) -> float | None:
        """The region's figure where it has one, else None (for a rate that falls back to another, said in a note)."""
        entry = (self.table.get(key) or {}).get(variant)
        return None if entry is None else entry["usd"]

    def caveat(self, key: str) -> str:
        """Why the region's figure for `key` is not its own (pricing.json `upper_bound`), or ""."""
        return (self.table.get(key) or {}).get("upper_bound", "")


def _known(props: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = peek(props, key)
    if value is UNKNOWN:
        raise CostModelError(f"{key} is not known at preview, so the stack can't be priced; set it from config")
    return default if value is None else value


def _number(props: Mapping[str, Any], key: str, default: float) -> float:
    """A known count or size; "10" (a program's Config.get) is 10, anything else that isn't a number can't be priced."""
    try:
        value = as_number(_known(props, key, default), key)
    except ValueError as exc:
        raise CostModelError(f"{exc}, so the stack can't be priced") from None
    return default if value is None else value


def _tag(props: Mapping[str, Any], key: str) -> float | None:
    """A numeric usage tag the program sets from its settings (None when absent)."""
    tags = json_value(_known(props, "tags", {}))
    return float(tags[key]) if key in tags else None


def _usage(props: Mapping[str, Any], hint: str) -> float:
    """A `pipeline:<hint>` tag the program sets from its schedule settings (0 when absent)."""
    return _tag(props, f"pipeline:{hint}") or 0.0


def _fires_per_month(expression: Any, hours_per_month: float) -> float:
    """Invocations a month of an EventBridge Scheduler cron with one minute and hour and a day-of-week list or range."""
    match = _CRON.match(expression) if isinstance(expression, str) else None
    if not match or not match[1].isdigit() or not match[2].isdigit():
        raise CostModelError(f"can't count the invocations of schedule {expression!r}; use cron(M H ? * DAYS *) with one time")
    days: set[str] = set()
    for part in match[3].split(","):
        first, _, last = part.partition("-")
        if part in ("*", "?"):
            days |= set(_DAYS)
        elif first in _DAYS and (not last or last in _DAYS):
            days |= set(_DAYS[_DAYS.index(first) : _DAYS.index(last or first) + 1])
        else:
            raise CostModelError(f"can't count the days of schedule {expression!r}; name them (MON,TUE or MON-FRI)")
    return round(len(days) * hours_per_month / 24 / 7, 2)


def billed_hours(window_hours: float, pauses: float, pricing: Mapping[str, Any] | None = None) -> float:
    """Hours a month a duty-cycled environment is billed: its windows, plus each pause's export of the Airflow state and
    its teardown (billed until gone)."""
    pricing = pricing or load_pricing()
    return min(pricing["hours_per_month"], window_hours + pauses * pause_minutes(pricing) / 60)


def pause_minutes(pricing: Mapping[str, Any]) -> float:
    """Minutes each pause bills beyond the window: the Airflow state's export, then the environment's teardown."""
    assume = pricing["assumptions"]
    return assume["airflow_state_export_minutes_per_cycle"]["value"] + assume["mwaa_teardown_minutes_per_cycle"]["value"]


def _item(name: str, quantity: float, unit: str, unit_usd: float) -> LineItem:
    return LineItem(name, round(quantity, 4), unit, unit_usd, round(quantity * unit_usd, 2))


def estimate(resources: Iterable[tuple[str, Mapping[str, Any]]], pricing: Mapping[str, Any] | None = None) -> Estimate:
    """Price (type, inputs) pairs as configured (duty-cycle hours), each item beside its always-on price."""
    pricing = pricing or load_pricing()
    resources = list(resources)
    providers = [props for kind, props in resources if kind == "pulumi:providers:aws"]
    region = _known(providers[0], "region") if providers else None
    if not isinstance(region, str):
        raise CostModelError("the stack has no explicit AWS provider with a region; the estimate needs one")
    price = _Prices(pricing, region)
    configured, always_on = _Pricer(price, resources, always_on=False).estimate(), _Pricer(price, resources, always_on=True).estimate()
    configured.items = [replace(item, always_on_usd=full.monthly_usd) for item, full in zip(configured.items, always_on.items, strict=True)]
    configured.always_on_worker_ceiling_usd = always_on.worker_ceiling_usd
    configured.missing = price.missing
    return configured


class _Pricer:
    """One pricing pass: hourly items at the duty cycle's billed hours, or at every hour of the month."""

    def __init__(self, price: _Prices, resources: list[tuple[str, Mapping[str, Any]]], always_on: bool) -> None:
        self.price, self.resources, self.always_on = price, resources, always_on

    def of_type(self, *types: str) -> list[Mapping[str, Any]]:
        """Resources of `types` by name: registration order varies from run to run, the estimate's lines must not."""
        found = [props for kind, props in self.resources if kind in types]
        return sorted(found, key=lambda props: str(peek(props, "name")))

    def hours(self, props: Mapping[str, Any]) -> float:
        """Billed hours a month: the duty cycle's active hours plus each cycle's teardown, or all of them."""
        active, cycles = _tag(props, HOURS_TAG), _tag(props, CYCLES_TAG) or 0.0
        if self.always_on or active is None:
            return self.price.hours
        return billed_hours(active, cycles, self.price.pricing)

    def estimate(self) -> Estimate:
        price, assume, included = self.price, self.price.assumptions, self.price.included
        result = Estimate(price.region, price.hours)
        for env in self.of_type(*MWAA_ENVIRONMENTS):
            hours = self.hours(env)
            result.active_hours = hours
            if hours < price.hours:
                result.window_hours, result.pauses = _tag(env, HOURS_TAG), _tag(env, CYCLES_TAG) or 0.0
                result.teardown_minutes = pause_minutes(price.pricing)
            cls = _known(env, "environmentClass", PROVIDER_DEFAULT_CLASS)
            environment_rate = price("mwaa_environment_hour", cls)
            extra_rate = price("mwaa_additional_instance_hour", cls)
            base_schedulers = included["schedulers"].get(cls, included["schedulers"]["default"])
            base_webservers = included["webservers"].get(cls, included["webservers"]["default"])
            min_workers = _number(env, "minWorkers", 1)
            result.items.append(_item(f"MWAA {cls} environment", hours, "hour", environment_rate))
            webserver_rate = price.own("mwaa_additional_webserver_hour", cls)
            for label, count, rate, note in (
                ("schedulers beyond the included", _number(env, "schedulers", base_schedulers) - base_schedulers, extra_rate, ""),
                ("webservers beyond the included (minWebservers)", _number(env, "minWebservers", base_webservers) - base_webservers,
                 extra_rate if webserver_rate is None else webserver_rate,
                 price.pricing["notes"]["mwaa_additional_webserver_hour"] if webserver_rate is None else ""),
                ("workers beyond the included one (minWorkers floor)", min_workers - included["workers"], extra_rate, ""),
            ):  # fmt: skip
                if count > 0:
                    result.items.append(replace(_item(f"MWAA {label}", count * hours, "instance-hour", rate), note=note))
            # The metadata DB exists only while the environment does.
            metadata_gb_months = assume["metadata_db_gb"] * hours / price.hours
            result.items.append(_item("MWAA metadata database", metadata_gb_months, "GB-month", price("mwaa_metadata_gb_month")))
            result.items.append(
                _item("MWAA log ingestion (CloudWatch)", assume["mwaa_log_ingest_gb"], "GB", price("cloudwatch_logs_ingest_gb"))
            )
            result.worker_ceiling_usd += round((_number(env, "maxWorkers", 10) - min_workers) * hours * extra_rate, 2)

        if nats := self.of_type("aws:ec2/natGateway:NatGateway"):
            result.items.append(_item("NAT gateway hours", sum(map(self.hours, nats)), "hour", price("nat_gateway_hour")))
            gigabytes = len(nats) * assume["nat_processed_gb_per_gateway"]
            result.items.append(_item("NAT data processing", gigabytes, "GB", price("nat_gateway_gb")))
        if eips := self.of_type("aws:ec2/eip:Eip"):
            result.items.append(_item("Public IPv4 addresses", sum(map(self.hours, eips)), "address-hour", price("public_ipv4_hour")))

        for job in self.of_type("aws:glue/job:Job"):
            minutes = max(_usage(job, "expected-run-minutes"), assume["glue_minimum_billed_minutes"])
            worker_type = _known(job, "workerType")
            if worker_type and worker_type not in GLUE_WORKER_DPU:
                raise CostModelError(f"no DPU figure for Glue workerType {worker_type}; add it to GLUE_WORKER_DPU in {Path(__file__).name}")
            dpu = _number(job, "numberOfWorkers", 2) * GLUE_WORKER_DPU[worker_type] if worker_type else _number(job, "maxCapacity", 0.0625)
            dpu_hours = _usage(job, "runs-per-month") * dpu * minutes / 60
            result.items.append(_item(f"Glue job {_known(job, 'name', 'job')}", dpu_hours, "DPU-hour", price("glue_dpu_hour")))
        for function in self.of_type("aws:lambda/function:Function"):
            runs = _usage(function, "runs-per-month")
            gb_seconds = runs * _number(function, "memorySize", 128) / 1024 * assume["lambda_seconds_per_run"]
            cost = runs / 1e6 * price("lambda_million_requests") + gb_seconds * price("lambda_gb_second")
            name = f"Lambda {_known(function, 'name', 'function')}"
            result.items.append(LineItem(name, runs, "invocation", round(cost / runs, 8) if runs else 0, round(cost, 2)))

        for workflow in self.of_type(*WORKFLOWS):
            task_hours = _usage(workflow, "runs-per-month") * _usage(workflow, "billed-task-minutes") / 60
            result.items.append(
                replace(
                    _item(f"MWAA Serverless workflow {_known(workflow, 'name', 'workflow')} tasks", task_hours, "task-hour",
                          price("mwaa_serverless_task_hour")),
                    note=price.caveat("mwaa_serverless_task_hour"),
                )
            )  # fmt: skip
        if schedules := self.of_type(*SCHEDULES):
            fires = sum(_fires_per_month(_known(schedule, "scheduleExpression"), price.hours) for schedule in schedules)
            result.items.append(LineItem("EventBridge Scheduler invocations", fires, "invocation", price("scheduler_million") / 1e6,
                                         round(fires / 1e6 * price("scheduler_million"), 2)))  # fmt: skip
        if alarms := len(self.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")):
            result.items.append(_item("CloudWatch alarms", alarms, "alarm-month", price("cloudwatch_alarm_month")))
        if keys := len(self.of_type("aws:kms/key:Key", "aws-native:kms:Key")):
            result.items.append(_item("KMS customer-managed keys", keys, "key-month", price("kms_key_month")))
            requests = keys * assume["kms_requests_per_key_month"] / 10_000
            result.items.append(_item("KMS requests", requests, "10k requests", price("kms_10k_requests")))
        if secrets := len(self.of_type("aws:secretsmanager/secret:Secret")):  # Connections and Variables (mwaa.connections)
            result.items.append(_item("Secrets Manager secrets", secrets, "secret-month", price("secretsmanager_secret_month")))
        if buckets := len(self.of_type("aws:s3/bucket:Bucket")):
            gigabytes = buckets * assume["s3_gb_per_bucket"]
            result.items.append(_item("S3 Standard storage", gigabytes, "GB-month", price("s3_standard_gb_month")))
        return result


def missing_prices(estimate_: Estimate) -> str:
    """The one message for every figure a stack needs that pricing.json lacks."""
    return (
        f"no price for {', '.join(estimate_.missing)} in policies/rules/data/{PRICING_FILE.name}: priced at $0, so the total is a "
        f'lower bound; add each, with its source, to {TEAM_PRICING_NAME} (docs/cost.md, "Your own prices")'
    )
