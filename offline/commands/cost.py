"""`bin/offline cost`: the monthly estimate from policies/rules/pricing.json and a fork's policies/team-prices.json."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from offline.commands.run import Context, Prepared, state_title, timings
from offline.harness import StackRun
from offline.report import counted
from policies.rules.cost_model import TEAM_PRICING_NAME, estimate, load_pricing, render_estimate

HELP = "the monthly estimate from policies/rules/pricing.json (exit 1 when a price is missing)"
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
