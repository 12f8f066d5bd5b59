"""When things happen, in one place: the year's instants of a weekly local time (each pipeline run, each duty-cycle
window) as minutes of the UTC week, and the cron forms that name them, each in the reading its service gives it: the
DAG's (in the pipeline's zone), the deadlines' (EventBridge Scheduler: in that zone for the pipeline, in UTC for a team's
workflow), MWAA Serverless's (UTC) and GitHub's (UTC, Sunday 0).

A zone with daylight saving puts one local time at two UTC times over a year, so the instants are swept over a whole
year (and a week) rather than computed for one date. Standard library only: the program, the offline tools and the
settings all read it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

WEEK = 7 * 24 * 60
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
#: A whole year and a week: every day of the week under each UTC offset a zone takes.
YEAR = tuple(date(2026, 1, 1) + timedelta(days=n) for n in range(371))


def minute_of_week(moment: datetime) -> int:
    """Minutes since Monday 00:00 UTC."""
    utc = moment.astimezone(UTC)
    return utc.weekday() * 1440 + utc.hour * 60 + utc.minute


def clock(text: str) -> tuple[int, int]:
    """'HH:MM' as (hour, minute)."""
    hour, minute = map(int, text.split(":"))
    return hour, minute


def local_instants(days: Iterable[str], at: str, zone: str) -> Iterator[datetime]:
    """Each instant of the year at local time `at` on `days`, in `zone`."""
    tz, weekdays, (hour, minute) = zoneinfo.ZoneInfo(zone), {WEEKDAYS.index(day) for day in days}, clock(at)
    return (datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz) for d in YEAR if d.weekday() in weekdays)


def weekly_minutes(days: Iterable[str], at: str, zone: str) -> set[int]:
    """The same, as minutes of the UTC week (two of them a day in a zone with daylight saving)."""
    return {minute_of_week(instant) for instant in local_instants(days, at, zone)}


def fixed_utc_offset(zone: str) -> timedelta | None:
    """The zone's UTC offset when it is the same all year (None with daylight saving)."""
    tz = zoneinfo.ZoneInfo(zone)
    offsets = {datetime(d.year, d.month, d.day, 12, tzinfo=UTC).astimezone(tz).utcoffset() for d in YEAR}
    return offsets.pop() if len(offsets) == 1 else None


def dag_cron(days: Iterable[str], at: str) -> str:
    """The DAG's schedule as cron, read in the pipeline's zone (the DAG's CronTriggerTimetable)."""
    hour, minute = clock(at)
    return f"{minute} {hour} * * {','.join(days)}"


def deadline_cron(days: Sequence[str], at: str, after_minutes: int) -> str:
    """EventBridge Scheduler cron for `after_minutes` past each run, read in the pipeline's zone (days shift when it
    passes midnight)."""
    hour, minute = clock(at)
    shift, moment = divmod(hour * 60 + minute + after_minutes, 1440)
    shifted = [WEEKDAYS[(WEEKDAYS.index(day) + shift) % 7] for day in days]
    return f"cron({moment % 60} {moment // 60} ? * {','.join(sorted(shifted, key=WEEKDAYS.index))} *)"


def _day_ranges(days: list[int]) -> str:
    """Cron day-of-week numbers (0 = Sunday), consecutive days as ranges: [1, 2, 3, 4, 5] -> 1-5."""
    parts, start = [], None
    for i, day in enumerate(days):
        start = day if start is None else start
        if i + 1 == len(days) or days[i + 1] != day + 1:
            parts.append(str(day) if day == start else f"{start}-{day}")
            start = None
    return ",".join(parts)


def utc_cron(minutes: set[int]) -> str | None:
    """One cron in UTC for these minutes of the week (MWAA Serverless's reading), or None when they fall at more than one
    time of day (a zone with daylight saving: one cron would run an hour off for half the year)."""
    times = {minute % 1440 for minute in minutes}
    if len(times) != 1:
        return None
    (at,) = times
    days = sorted({(minute // 1440 + 1) % 7 for minute in minutes})  # cron counts days from Sunday (0)
    return f"{at % 60} {at // 60} * * {_day_ranges(days)}"


def _days_by_time(minutes: Iterable[int]) -> dict[tuple[int, int], set[int]]:
    """(hour, minute) in UTC -> the weekdays (0 = Monday) on which one of these minutes of the week falls then."""
    found: dict[tuple[int, int], set[int]] = {}
    for fire in sorted({minute % WEEK for minute in minutes}):
        found.setdefault((fire % 1440 // 60, fire % 60), set()).add(fire // 1440)
    return found


def github_cron_lines(minutes: Iterable[int]) -> list[str]:
    """GitHub Actions cron lines (UTC; day 0 is Sunday) firing at each of these minutes of the week, one line per time."""
    return [
        f"{minute} {hour} * * {','.join(str(day) for day in sorted((day + 1) % 7 for day in days))}"
        for (hour, minute), days in sorted(_days_by_time(minutes).items())
    ]


def scheduler_cron_lines(minutes: Iterable[int]) -> list[str]:
    """EventBridge Scheduler crons (read in UTC, days named) firing at each of these minutes of the week, one per time."""
    return [
        f"cron({minute} {hour} ? * {','.join(WEEKDAYS[day] for day in sorted(days))} *)"
        for (hour, minute), days in sorted(_days_by_time(minutes).items())
    ]
