"""When the MWAA environment should exist: weekly UTC windows, and one decision from them.

MWAA has no pause API, so a duty-cycled stack pauses by not declaring what bills
by the hour (the environment, NAT gateways, their EIPs and the routes through
them) and resumes by declaring them again. Whether they are declared is a pure
function of the stack's settings and a time: `DutyCycle.running(at)`. Every
`pulumi up`, whether a push's deploy or the scheduler's run at a window edge,
evaluates it, so a push can't resurrect a paused environment and the next
deploy can't undo a scheduled pause. The offline tools, the cost model's active
hours and the scheduler workflow's cron lines all derive from the same windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schedule import WEEK, WEEKDAYS, clock, github_cron_lines, local_instants, minute_of_week, weekly_minutes
from settings import HOURS_PER_MONTH, ConfigError, PipelineSettings, Settings, WindowSettings

#: `pulumi up` (and the offline tools) decide at this time instead of the clock when it is set.
AT_VARIABLE = "DUTY_CYCLE_AT"
#: The scheduler checks every window edge again this long after it (GitHub may drop or delay a scheduled run, and a
#: failed `pulumi up` is retried), so a missed pause or resume heals within half an hour.
RECHECK_MINUTES = 20
#: GitHub Actions minutes a scheduler run takes, billed per started minute: a check that finds the stack as the
#: windows want it; the gated `up` of a resume (MWAA create, 20-30 min, then the Airflow state's restore, about 4 min for
#: 60 runs) and of a pause (the state's export, about 2 min, then the delete, about 20 min): airflow_state/.
CHECK_MINUTES, RESUME_MINUTES, PAUSE_MINUTES = 2, 44, 32
#: Literal tags the cost model reads (the policy pack prices a first preview from literals only).
HOURS_TAG, CYCLES_TAG = "duty-cycle:hours-per-month", "duty-cycle:cycles-per-month"


def _clock(minute: int) -> str:
    minute %= WEEK
    return f"{WEEKDAYS[minute // 1440]} {minute % 1440 // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, order=True)
class Window:
    """[start, end) in minutes of the UTC week; `end` may pass the week's end (a window that wraps to Monday)."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end or self.start <= minute + WEEK < self.end

    def __str__(self) -> str:
        return f"{_clock(self.start)} - {_clock(self.end)} UTC"


def _merge(windows: list[Window]) -> list[Window]:
    """Overlapping or touching windows as one, across the week's end too."""
    merged: list[Window] = []
    for window in sorted(windows):
        if merged and window.start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, window.end))
        else:
            merged.append(window)
    while len(merged) > 1 and merged[-1].end - WEEK >= merged[0].start:
        first, last = merged.pop(0), merged.pop()
        merged.append(Window(last.start, max(last.end, first.end + WEEK)))
    if any(w.end - w.start >= WEEK for w in merged):
        return [Window(0, WEEK)]
    return merged


def pipeline_run_minutes(pipeline: PipelineSettings) -> set[int]:
    """Each scheduled run as a minute of the UTC week, over a whole year (a zone with DST runs at two UTC times)."""
    return weekly_minutes(pipeline.run_days, pipeline.run_time, pipeline.timezone)


def _extra_windows(window: WindowSettings) -> set[Window]:
    """A `dutyCycle.windows` entry in UTC, over a whole year: a zone with DST gives each day's window at both UTC times."""
    (start_h, start_m), (end_h, end_m) = clock(window.start), clock(window.end)
    length_on_the_clock = ((end_h * 60 + end_m) - (start_h * 60 + start_m)) % 1440 or 1440  # 00:00-24:00 is the whole day
    found = set()
    for opens in local_instants(window.days, window.start, window.timezone):
        closes = (opens.replace(tzinfo=None) + timedelta(minutes=length_on_the_clock)).replace(tzinfo=opens.tzinfo)
        start = minute_of_week(opens)
        found.add(Window(start, start + int((closes.astimezone(UTC) - opens.astimezone(UTC)).total_seconds() // 60)))
    return found


@dataclass(frozen=True)
class DutyCycle:
    enabled: bool
    force_running: bool
    windows: tuple[Window, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> DutyCycle:
        """Each run's window (lead before; late start + run timeout + margin after), plus the explicit windows."""
        cycle, pipeline = settings.duty_cycle, settings.pipeline
        tail = pipeline.late_start_minutes + pipeline.run_timeout_minutes + cycle.tail_margin_minutes
        windows = [Window((run - cycle.lead_minutes) % WEEK, (run - cycle.lead_minutes) % WEEK + cycle.lead_minutes + tail)
                   for run in pipeline_run_minutes(pipeline)]  # fmt: skip
        for extra in cycle.windows:
            windows += sorted(_extra_windows(extra))
        return cls(cycle.enabled, cycle.force_running, tuple(_merge(windows)))

    @property
    def always_on(self) -> bool:
        return not self.enabled or self.force_running or self.windows == (Window(0, WEEK),)

    def running(self, at: datetime) -> bool:
        """Should the environment exist at `at`? The one answer every `pulumi up` and every tool uses."""
        return self.always_on or any(w.contains(minute_of_week(at)) for w in self.windows)

    @property
    def hours_per_month(self) -> float:
        """Hours a month the environment exists (AWS prices by 730-hour months)."""
        if self.always_on:
            return float(HOURS_PER_MONTH)
        return round(sum(w.end - w.start for w in self.windows) / 60 * HOURS_PER_MONTH / 168, 2)

    @property
    def cycles_per_month(self) -> float:
        return 0.0 if self.always_on else round(len(self.windows) * HOURS_PER_MONTH / 168, 2)

    @property
    def usage_tags(self) -> dict[str, str]:
        """Tags on what a pause removes, so the cost model prices active hours (none: always on)."""
        if self.always_on:
            return {}
        return {HOURS_TAG: f"{self.hours_per_month:g}", CYCLES_TAG: f"{self.cycles_per_month:g}"}

    def next_edges(self, at: datetime) -> tuple[datetime | None, datetime | None]:
        """(next resume, next pause) strictly after `at`; (None, None) when always on."""
        if self.always_on:
            return None, None
        utc = at.astimezone(UTC)
        monday = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) - timedelta(days=utc.weekday())

        def next_at(minute: int) -> datetime:
            return min(t for week in (-1, 0, 1, 2) if (t := monday + timedelta(minutes=minute + week * WEEK)) > utc)

        return min(next_at(w.start) for w in self.windows), min(next_at(w.end) for w in self.windows)

    def edges(self) -> list[int]:
        """Every resume and pause, as minutes of the week."""
        return [] if self.always_on else sorted(m % WEEK for w in self.windows for m in (w.start, w.end))

    def cron_lines(self) -> list[str]:
        """GitHub Actions cron lines firing at every window edge and RECHECK_MINUTES after it."""
        return github_cron_lines(edge + delay for edge in self.edges() for delay in (0, RECHECK_MINUTES))

    @property
    def scheduler_minutes_per_month(self) -> float:
        """CI minutes a month the scheduler uses: a check at every fire, plus each cycle's resume and pause."""
        fires = 2 * len(self.edges()) * HOURS_PER_MONTH / 168
        return round(fires * CHECK_MINUTES + self.cycles_per_month * (RESUME_MINUTES + PAUSE_MINUTES), 1)


def decision_time(environ: dict[str, str] | None = None) -> datetime:
    """The clock, or DUTY_CYCLE_AT (an ISO time) to see what `pulumi up` would do at another time."""
    value = (os.environ if environ is None else environ).get(AT_VARIABLE)
    if not value:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{AT_VARIABLE}={value!r} is not an ISO time; use e.g. 2026-11-23T04:30:00Z, or unset it for the clock") from None
    if at.tzinfo is None:
        raise ConfigError(f"{AT_VARIABLE}={value!r} has no time zone; add Z (UTC) or an offset such as +05:30")
    return at
