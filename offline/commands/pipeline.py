"""`bin/offline pipeline`: the DAG end to end on an embedded AWS with the deployed Lambda and Glue code, every scenario
(or one), each of which must end as it should."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from offline import forkserver
from offline.commands.run import Context, Prepared, timings
from offline.exits import FAILED, PASSED, check_child
from offline.pipeline_run import (
    add_options,  # noqa: F401  (the command's options are the run's: one definition)
    render_output,
)
from offline.stacks import PROJECT_DIR
from offline.state_round_trip import StateRoundTrip

HELP = "the DAG end to end on an embedded AWS with the deployed Lambda and Glue code (--scenario, --airflow-version)"
NEEDS = {"pipeline_runs"}


def run(ctx: Context, stack: str) -> tuple[bool, object]:
    """The stack's pipeline run, started ahead in its own process (it hosts moto and starts the stack's Airflow), forked
    from the session's server for it (offline/forkserver.py)."""
    args = ctx.args
    version = ["--airflow-version", args.airflow_version] if args.airflow_version else []
    flags = ["--no-cache"] if args.no_cache else []
    argv = [stack, "--project", str(args.project), "--scenario", args.scenario, *version, *flags, "--json"]
    done = forkserver.call(Path(sys.executable), "offline.pipeline_run", argv, PROJECT_DIR, dict(os.environ))
    check_child(done, f"pipeline run for {stack}", ok=(PASSED, FAILED), context=f"pipeline run for {stack}: ")
    return done.returncode == PASSED, json.loads(done.stdout)


def report(ctx: Context, stack: str, prepared: Prepared) -> bool:
    entry = ctx.entry(stack)
    if ctx.args.command == "all" and entry["dags"]["problems"]:
        entry["pipeline"] = "skipped: the DAG check failed (above), so no DAG would run"
        ctx.row(stack, "", "pipeline run", "skipped (DAG check failed)")
        ctx.say(f"Pipeline run for {stack} skipped: the DAG check failed (above), so no DAG would run", end="\n")
        return True  # the DAG check's FAIL says it
    with timings("waiting for the pipeline runs"):
        passed, output = ctx.pipeline_runs[stack].result()
    scenarios_passed = all(scenario["as_expected"] for scenario in output["scenarios"])
    ctx.row(stack, "", f"pipeline run ({ctx.args.scenario})", "PASS" if scenarios_passed else "FAIL")
    if state := output["state_round_trip"]:  # a duty-cycled stack's Airflow state across a pause (offline/state_round_trip.py)
        ctx.row(stack, "", "state across a pause", StateRoundTrip.from_json(state).verdict)
    entry["pipeline"] = output
    ctx.say(render_output(output), end="\n")
    return passed
