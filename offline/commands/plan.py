"""`bin/offline plan`: the resource tree `pulumi up` would create, per duty-cycle state."""

from __future__ import annotations

from datetime import datetime

from offline.commands.run import Context, Prepared, state_title
from offline.harness import StackRun
from offline.plan import plan_as_json, render_plan, render_plan_diff

HELP = "the resource tree `pulumi up` would create, per duty-cycle state"
NEEDS = {"runs"}


def report_state(ctx: Context, stack: str, prepared: Prepared, index: int, state: str, at: datetime, run: StackRun) -> bool:
    ctx.entry(stack)["states"][state]["resources"] = plan_as_json(run)
    title = state_title(stack, state, at)
    first_state, _, first_run = prepared.runs[0]  # the tree once per stack; another state as its difference from it
    ctx.say(render_plan(run, title) if index == 0 else render_plan_diff(first_run, run, title, first_state))
    return True
