"""What every command shares: the context it reads (arguments, each stack's prepared runs, the checks under way),
one stack's errors kept to that stack, and the one report that ends a run (JSON, or the summary table).

The runner prepares only what the chosen commands need (their `NEEDS`): each stack's settings and duty cycle always,
its recorded runs per state (`runs`), the run whose DAG folder the DAG check parses (`deployed`), the DAG checks and
pipeline runs started ahead so they run beside the rest (`dag_checks`, `pipeline_runs`), one policy pack process
for every stack (`analyzer`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duty_cycle import DutyCycle
from offline.exits import BAD_INPUT, FAILED, PASSED, report_error
from offline.gate import PolicyPackProcess
from offline.harness import StackRun, run_stack
from offline.report import render_summary
from offline.stacks import stack_settings
from settings import Settings


class Timings:
    """Wall-clock seconds per phase of one run (`--timings`): where the main job's time goes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = round(self.seconds.get(phase, 0.0) + time.perf_counter() - start, 3)

    def render(self) -> str:
        total = time.perf_counter() - self.started
        lines = ["", f"Timings (wall clock; {total:.1f} s in this command after start-up)"]
        for phase, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            lines.append(f"    {phase:<38} {seconds:7.1f} s  {seconds / total:6.1%}")
        return "\n".join(lines)


timings = Timings()


@dataclass
class Prepared:
    settings: Settings
    cycle: DutyCycle
    #: (state, decision time, recorded run) for each state shown.
    runs: list[tuple[str, datetime, StackRun]]
    #: The run whose DAG folder `pulumi up` uploads (the DAG check's), when a command needs it.
    deployed: StackRun | None = None


@dataclass
class Context:
    args: argparse.Namespace
    stacks: list[str]
    prepared: dict[str, Prepared | Exception] = field(default_factory=dict)
    dag_checks: dict[str, Future] = field(default_factory=dict)
    pipeline_runs: dict[str, Future] = field(default_factory=dict)
    analyzer: PolicyPackProcess | None = None
    #: The JSON document (`--json`): stack -> what each check found.
    report: dict[str, Any] = field(default_factory=dict)
    #: (stack, state, check, verdict), printed last.
    summary: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def pack_dir(self) -> Path:
        return self.args.project / "policies"

    def runs_of_every_state(self) -> dict[str, list[StackRun]] | None:
        """Each stack's recorded runs of every state `pulumi up` may leave it in, when this run recorded exactly those
        (no --at, no --preview) and every stack's program ran; else None (a command then runs the stacks itself)."""
        if self.args.at is not None or self.args.preview or not all(isinstance(p, Prepared) and p.runs for p in self.prepared.values()):
            return None
        return {stack: [run for _, _, run in p.runs] for stack, p in self.prepared.items() if isinstance(p, Prepared)}

    def entry(self, stack: str) -> dict[str, Any]:
        return self.report.setdefault(stack, {})

    def row(self, stack: str, state: str, check: str, verdict: str) -> None:
        self.summary.append((stack, state, check, verdict))

    def say(self, text: str, end: str = "\n\n") -> None:
        """Text output as it comes in (nothing with --json: the document says it all)."""
        if not self.args.json:
            print(text, end=end)


def now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def states(cycle: DutyCycle, at: datetime | None, serverless: bool = False) -> list[tuple[str, datetime]]:
    """(label, decision time) for each state to show: both for a duty-cycled stack, else the one at hand."""
    current = at or now()
    if serverless:  # nothing to run or pause
        return [("serverless", current)]
    running = cycle.running(current)
    if at is not None or cycle.always_on:
        return [("running" if running else "paused", current)]
    resume, pause = cycle.next_edges(current)
    return [("running", current if running else resume), ("paused", pause if running else current)]


def states_from_now(settings: Settings) -> list[tuple[str, datetime]]:
    """The states a stack's `pulumi up` may leave it in from now (its running state first), for a command that follows
    the stack as deployed rather than as `--at` says."""
    return states(DutyCycle.from_settings(settings), None, settings.serverless)


def state_title(stack: str, state: str, at: datetime) -> str:
    return f"Stack {stack} ({state} at {at:%a %Y-%m-%d %H:%M} UTC)"


def prepare(ctx: Context, needs: set[str]) -> None:
    """Every stack's settings and recorded runs, one after another (the mocked program swaps modules, so nothing else
    runs meanwhile). A stack whose config or program fails keeps its error, reported as its own FAIL row."""
    args = ctx.args
    for stack in ctx.stacks:
        try:
            settings = stack_settings(stack, args.project)
            cycle = DutyCycle.from_settings(settings)
            shown = states(cycle, args.at, settings.serverless) if needs & {"runs", "deployed"} else []
            with timings("program under mocks (plan)"):
                runs = [(state, at, run_stack(stack, project_dir=args.project, preview=args.preview, at=at)) for state, at in shown]
                deployed = None
                if "deployed" in needs:  # both states upload the same DAGs; a preview can't render them (ARNs unknown)
                    deployed = run_stack(stack, project_dir=args.project, at=runs[0][1]) if args.preview else runs[0][2]
            ctx.prepared[stack] = Prepared(settings, cycle, runs, deployed)
        except Exception as exc:
            ctx.prepared[stack] = exc


def start_ahead(ctx: Context, workers: concurrent.futures.Executor, work: Callable[[Context, str, Prepared], Any]) -> dict[str, Future]:
    """`work` started for every prepared stack in `workers`, by stack: it runs beside the rest of the checks."""
    return {stack: workers.submit(work, ctx, stack, p) for stack, p in ctx.prepared.items() if isinstance(p, Prepared)}


def gist(exc: Exception, width: int = 110) -> str:
    """The line of an error's message that says what is wrong (not a heading ending in a colon), cut to `width`."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    line = next((line for line in lines if not line.endswith(":")), lines[0])
    return line if len(line) <= width else line[: width - 1] + "…"


def report_stacks(ctx: Context, check_stack: Callable[[Context, str, Prepared], bool]) -> int:
    """Each stack's checks in order as they come in; an error in one stack (bad input, or a crash of these tools) is
    that stack's FAIL row with its message, the other stacks are still checked; returns the worst exit code."""
    worst = PASSED
    for stack in ctx.stacks:
        rows_before = len(ctx.summary)  # a stack that fails midway keeps the rows of the checks it finished
        try:
            prepared = ctx.prepared[stack]
            if isinstance(prepared, Exception):
                raise prepared
            if not check_stack(ctx, stack, prepared):
                worst = max(worst, FAILED)
        except Exception as exc:
            code = report_error(exc, where=f"stack {stack}: ")
            worst = max(worst, code)
            kind = "bad input" if code == BAD_INPUT else "a bug in the offline tools"
            ctx.row(stack, "", "checks" if len(ctx.summary) == rows_before else "the rest", f"FAIL ({kind}): {gist(exc)}")
            ctx.entry(stack)["error"] = str(exc)
    return worst


def finish(ctx: Context, worst: int) -> int:
    """The one report: the JSON document, or the summary table, and the timings when asked for."""
    if ctx.args.timings:
        ctx.report["timings"] = timings.seconds
    if ctx.args.json:
        print(json.dumps(ctx.report, indent=2, default=str))
    elif len(ctx.summary) > 1:
        print(render_summary(ctx.summary, worst != PASSED))
    if ctx.args.timings and not ctx.args.json:
        print(timings.render())
    return worst


def workers() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
