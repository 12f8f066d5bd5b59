"""`bin/offline cost`: the monthly estimate from policies/rules/data/pricing.json and a fork's policies/team-prices.json."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from offline.commands.run import Context, Prepared, state_title, timings
from offline.harness import StackRun
from offline.report import counted
from policies.rules.library.cost_model import TEAM_PRICING_NAME, Estimate, estimate, load_pricing, missing_prices

HELP = "the monthly estimate from policies/rules/data/pricing.json (exit 1 when a price is missing)"
NEEDS = {"runs"}


def report_state(ctx: Context, stack: str, prepared: Prepared, index: int, state: str, at: datetime, run: StackRun) -> bool:
    with timings("cost"):
        priced = estimate(((r.type, r.inputs) for r in run.resources), load_pricing(team=ctx.args.project / TEAM_PRICING_NAME))
    verdict = f"${priced.total:,.2f}/month"  # every missing figure is named, the total a lower bound; the other checks still run
    if not priced.complete:
        verdict = f"INCOMPLETE: at least {verdict}, {counted(len(priced.missing), 'price')} missing"
    ctx.row(stack, state, "cost", verdict)
    totals = {"total": priced.total, "always_on_total": priced.always_on_total, "complete": priced.complete}
    ctx.entry(stack)["states"][state]["cost"] = asdict(priced) | totals
    ctx.say(render_estimate(priced, state_title(stack, state, at)))
    return priced.complete


def render_estimate(estimate_: Estimate, title: str) -> str:
    hours = estimate_.active_hours
    if hours is None and any(item.unit == "task-hour" for item in estimate_.items):
        running = "no environment: MWAA Serverless bills each run's task time"
    elif hours is None:
        running = "no MWAA environment declared now"
    elif hours < estimate_.hours_per_month:
        running = (
            f"the environment is billed {hours:,.2f} of {estimate_.hours_per_month:g} h/month: {estimate_.window_hours:,.2f} h in its "
            f"windows + {estimate_.pauses:,.2f} pauses x {estimate_.teardown_minutes:g} min of state export and teardown"
        )
    else:
        running = f"the environment runs all {estimate_.hours_per_month:g} h/month"
    lines = [f"{title}: estimated monthly cost in {estimate_.region} ({running})"]
    lines += [f"    {'item':<52}{'quantity':>12} {'unit':<14}{'unit $':>12}{'monthly $':>12}{'always on $':>13}"]
    for item in estimate_.items:
        lines.append(
            f"    {item.name:<52}{item.quantity:>12,.2f} {item.unit:<14}{item.unit_usd:>12.6g}{item.monthly_usd:>12,.2f}"
            f"{item.always_on_usd:>13,.2f}"
        )
    total = "total" if estimate_.complete else f"total: AT LEAST (a lower bound: {len(estimate_.missing)} prices missing, below)"
    lines.append(f"    {total:<52}{'':>12} {'':<14}{'':>12}{estimate_.total:>12,.2f}{estimate_.always_on_total:>13,.2f}")
    if estimate_.always_on_worker_ceiling_usd:
        lines.append(
            f"    (not in the total) autoscaling to maxWorkers while it runs would add up to ${estimate_.worker_ceiling_usd:,.2f}"
            f" (always on: ${estimate_.always_on_worker_ceiling_usd:,.2f})"
        )
    lines += [
        f"    note: {item.name}: ${item.unit_usd:g}/{item.unit} is an upper bound: {item.note}" for item in estimate_.items if item.note
    ]
    if estimate_.missing:
        lines.append(f"    INCOMPLETE: {missing_prices(estimate_)}")
    return "\n".join(lines)
