"""`bin/offline gate`: the policy pack over the Analyzer protocol, as `pulumi preview --policy-pack` runs it."""

from __future__ import annotations

from datetime import datetime

from offline.commands.run import Context, Prepared, state_title, timings
from offline.gate import as_json, render_gate, run_gate, stack_pack_config
from offline.harness import StackRun

HELP = "the policy pack over the Analyzer protocol, as `pulumi preview --policy-pack` (exit 1 on a mandatory violation)"
NEEDS = {"runs", "analyzer"}


def report_state(ctx: Context, stack: str, prepared: Prepared, index: int, state: str, at: datetime, run: StackRun) -> bool:
    with timings("policy gate (pack over gRPC)"):
        result = run_gate(run, *stack_pack_config(stack, ctx.pack_dir), pack_dir=ctx.pack_dir, analyzer=ctx.analyzer)
    advisories = f" ({len(result.advisory)} advisory)" if result.advisory else ""
    ctx.row(stack, state, "policy gate", f"PASS{advisories}" if result.passed else f"FAIL ({len(result.mandatory)} mandatory){advisories}")
    ctx.entry(stack)["states"][state]["policy"] = as_json(result)
    ctx.say(render_gate(result, state_title(stack, state, at)))
    return result.passed
