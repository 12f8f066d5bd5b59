"""`bin/offline duty-cycle`: each stack's windows, next resume and pause, active and billed hours, the scheduler's
cron lines and its CI minutes."""

from __future__ import annotations

from datetime import datetime

from duty_cycle import RECHECK_MINUTES, DutyCycle
from offline.commands.run import Context, Prepared, now
from policies.rules.library.cost_model import billed_hours, load_pricing, pause_minutes

HELP = "windows, next resume and pause, active hours, the scheduler's cron lines and CI minutes"
NEEDS: set[str] = set()


def describe_duty_cycle(stack: str, cycle: DutyCycle, at: datetime, serverless: bool = False) -> dict[str, object]:
    resume, pause = cycle.next_edges(at)
    return {
        "stack": stack,
        "serverless": serverless,
        "enabled": cycle.enabled,
        "always_on": cycle.always_on,
        "windows": [str(w) for w in cycle.windows] if not cycle.always_on else [],
        "at": at.isoformat(),
        "state_at": "running" if cycle.running(at) else "paused",
        "next_resume": resume.isoformat() if resume else None,
        "next_pause": pause.isoformat() if pause else None,
        "hours_per_month": cycle.hours_per_month,
        "cycles_per_month": cycle.cycles_per_month,
        "billed_hours_per_month": round(billed_hours(cycle.hours_per_month, cycle.cycles_per_month), 2),
        # MWAA bills a paused environment until its deletion ends (policies/rules/data/pricing.json's assumption).
        "teardown_minutes": pause_minutes(load_pricing()),
        "cron": cycle.cron_lines(),
        "scheduler_minutes_per_month": cycle.scheduler_minutes_per_month,
    }


def github_minute_usd() -> float:
    """GitHub's list price of a Linux runner minute (policies/rules/data/pricing.json)."""
    return load_pricing()["github_linux_minute"]["usd"]


def render_duty_cycle(info: dict[str, object]) -> str:
    if info["serverless"]:
        return f"Stack {info['stack']}: MWAA Serverless: no environment to run or pause; billed per task-second of each run"
    if info["always_on"]:
        why = "dutyCycle.forceRunning is true" if info["enabled"] else "dutyCycle.enabled is false"
        return f"Stack {info['stack']}: always on ({why}): 730 h/month"
    return "\n".join(
        [
            f"Stack {info['stack']}: duty cycle on; at {info['at']} the environment is {info['state_at']}",
            *(f"    window          {w}" for w in info["windows"]),
            f"    next resume     {info['next_resume']}",
            f"    next pause      {info['next_pause']}",
            f"    active          {info['hours_per_month']:,.2f} of 730 h/month ({info['cycles_per_month']:g} resumes a month); "
            f"billed {info['billed_hours_per_month']:,.2f} h with each pause's {info['teardown_minutes']:g} min of state export and "
            "teardown (see the cost)",
            *(f"    scheduler cron  {line}" for line in info["cron"]),
            f"    scheduler CI    {info['scheduler_minutes_per_month']:,.1f} min/month "
            f"(about ${info['scheduler_minutes_per_month'] * github_minute_usd():,.2f} at ${github_minute_usd()}/min; each edge is checked "
            f"again {RECHECK_MINUTES} min later)",
        ]
    )


def report(ctx: Context, stack: str, prepared: Prepared) -> bool:
    info = describe_duty_cycle(stack, prepared.cycle, ctx.args.at or now(), prepared.settings.serverless)
    ctx.entry(stack)["duty_cycle"] = info
    ctx.say(render_duty_cycle(info))
    return True
