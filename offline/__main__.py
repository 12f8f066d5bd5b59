"""The offline main job: what `pulumi preview --policy-pack policies` would show, per stack.

bin/offline                 # plan + policy gate + cost per stack state, then a local pipeline run
bin/offline plan dev        # the resource tree only
bin/offline gate --json     # the gate, machine-readable; exit 1 on a mandatory violation
bin/offline duty-cycle      # each stack's windows, next resume and pause, active hours, cron lines
bin/offline dags dev        # the DAG folder MWAA would get, parsed by the stack's Airflow (exit 1 on a problem)
bin/offline requirements    # each stack's requirements.txt resolved as MWAA would (exit 1 on a problem)

(`bin/offline` is `.venv/bin/python -m offline` after creating .venv; options go anywhere: `--timings prod` works.)

A duty-cycled stack is shown in both states, running (at its next resume, or now)
and paused (at its next pause, or now); `--at <ISO time>` shows the one state
`pulumi up` would produce at that time. Exit codes: offline/exits.py (0 passed,
1 a check failed, 2 bad input, 3 a bug).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from duty_cycle import GITHUB_MINUTE_USD, RECHECK_MINUTES, DutyCycle
from offline import forkserver
from offline.airflow_env import stack_requirements, versions
from offline.dags import DagCheck, check_dags, check_workflow
from offline.dags import render as render_dags
from offline.docs import COMMAND as DOCS_COMMAND
from offline.docs import DOC as DOCS_FILE
from offline.docs import main as docs_main
from offline.docs import stale as stale_docs
from offline.exits import BAD_INPUT, BUG, FAILED, PASSED, check_child, input_errors, run_main
from offline.gate import PolicyPackProcess, as_json, render, run_gate, stack_pack_config
from offline.harness import PROJECT_DIR, StackRun, preload_providers, run_stack, stack_names, stack_settings
from offline.pipeline_run import SCENARIOS
from offline.plan import plan_as_json, render_plan, render_plan_diff
from offline.report import counted, render_summary
from offline.requirements_check import check_requirements
from offline.requirements_check import render as render_requirements
from offline.workflows import COMMAND as WORKFLOWS_COMMAND
from offline.workflows import main as workflows_main
from offline.workflows import stale as stale_workflows
from policies.rules.cost_model import TEAM_PRICING_NAME, billed_hours, estimate, load_pricing
from policies.rules.cost_model import render as render_cost
from settings import Settings

#: Each command and what it does (`--help` lists them).
COMMANDS = {
    "all": "everything below, per stack (the default; `bin/offline` runs it)",
    "plan": "the resource tree `pulumi up` would create, per duty-cycle state",
    "gate": "the policy pack over the Analyzer protocol, as `pulumi preview --policy-pack` (exit 1 on a mandatory violation)",
    "cost": "the monthly estimate from policies/rules/pricing.json (exit 1 when a price is missing)",
    "pipeline": "the DAG end to end on an embedded AWS with the deployed Lambda and Glue code (--scenario, --airflow-version)",
    "duty-cycle": "windows, next resume and pause, active hours, the scheduler's cron lines and CI minutes",
    "dags": "the DAG folder MWAA would get, parsed by the stack's Airflow plus its requirements (and fitted to its windows)",
    "requirements": "requirements.txt resolved as MWAA would, for MWAA's platform (needs PyPI)",
    "workflows": "rewrite the cron lines, stack matrices and regions in .github/workflows/ from the stacks (--check: report only)",
    "docs": "rewrite the settings table in docs/configuration.md from settings.py (--check: report only)",
}


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


def pipeline(stack: str, project: Path, as_json: bool, scenario: str, version: str | None, use_cache: bool) -> tuple[bool, object]:
    """The DAG's run for `scenario`, in its own process (it hosts moto and starts the stack's Airflow), forked from the
    session's server for it (offline/forkserver.py)."""
    args = [stack, "--project", str(project), "--scenario", scenario, *(["--airflow-version", version] if version else []),
            *(["--json"] if as_json else []), *([] if use_cache else ["--no-cache"])]  # fmt: skip
    done = forkserver.call(Path(sys.executable), "offline.pipeline_run", args, PROJECT_DIR, dict(os.environ))
    check_child(done, f"pipeline run for {stack}", ok=(PASSED, FAILED), context=f"pipeline run for {stack}: ")
    return done.returncode == PASSED, json.loads(done.stdout) if as_json else done.stdout


def states(cycle: DutyCycle, at: datetime | None, serverless: bool = False) -> list[tuple[str, datetime]]:
    """(label, decision time) for each state to show: both for a duty-cycled stack, else the one at hand."""
    now = at or _now()
    if serverless:  # nothing to run or pause
        return [("serverless", now)]
    running = cycle.running(now)
    if at is not None or cycle.always_on:
        return [("running" if running else "paused", now)]
    resume, pause = cycle.next_edges(now)
    return [("running", now if running else resume), ("paused", pause if running else now)]


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def state_title(stack: str, state: str, at: datetime) -> str:
    return f"Stack {stack} ({state} at {at:%a %Y-%m-%d %H:%M} UTC)"


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
        # MWAA bills a paused environment until its deletion ends (policies/rules/pricing.json's assumption).
        "teardown_minutes": load_pricing()["assumptions"]["mwaa_teardown_minutes_per_cycle"]["value"],
        "cron": cycle.cron_lines(),
        "scheduler_minutes_per_month": cycle.scheduler_minutes_per_month,
    }


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
            f"billed {info['billed_hours_per_month']:,.2f} h with each pause's {info['teardown_minutes']:g} min of teardown (see the cost)",
            *(f"    scheduler cron  {line}" for line in info["cron"]),
            f"    scheduler CI    {info['scheduler_minutes_per_month']:,.1f} min/month "
            f"(about ${info['scheduler_minutes_per_month'] * GITHUB_MINUTE_USD:,.2f} at ${GITHUB_MINUTE_USD}/min; each edge is checked "
            f"again {RECHECK_MINUTES} min later)",
        ]
    )


def iso_time(value: str) -> datetime:
    """--at: an ISO time with a zone, like DUTY_CYCLE_AT."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO time such as 2026-11-23T04:30Z") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone; add Z (UTC) or an offset such as +05:30")
    return at


def build_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:<13} {what}" for name, what in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="bin/offline",
        description=__doc__.splitlines()[0],
        epilog=f"commands:\n{commands}\n\nexit codes: 0 passed, 1 a check failed, 2 bad input, 3 a bug in these tools",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "words",
        nargs="*",
        metavar="[command] [stack ...]",
        help="one of the commands below (default: all), then the stacks to run (default: every Pulumi.<stack>.yaml)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--preview", action="store_true", help="plan, gate and cost as a first preview: IDs, ARNs and version ids unknown")
    parser.add_argument("--at", type=iso_time, help="decide the duty cycle at this ISO time (e.g. 2026-11-23T04:30Z)")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR, help="the Pulumi program's folder (default: this repository)")
    parser.add_argument(
        "--scenario",
        choices=[*SCENARIOS, "all"],
        default="all",
        help="pipeline: which day to run (default: all, each of which must end as it should: a success without an alert, "
        "a failure with its alerts)",
    )
    parser.add_argument("--airflow-version", choices=versions(), help="pipeline: run on this Airflow (default: the stack's)")
    parser.add_argument("--timings", action="store_true", help="print where the time went, per phase, after the summary")
    parser.add_argument("--no-cache", action="store_true", help="run the pipelines and resolve the requirements again (ignore .cache/)")
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    """Options anywhere (`--timings prod` as `prod --timings`); `bin/offline dev` means `all dev`: a first word that is
    not a command starts the list of stacks (one without a Pulumi.<stack>.yaml is that stack's error, naming the others)."""
    args = build_parser().parse_intermixed_args(argv)
    words = args.words
    args.command, args.stacks = (words[0], words[1:]) if words and words[0] in COMMANDS else ("all", words)
    return args


def preload() -> None:
    """For the fork server (offline/forkserver.py): the provider modules every command's program imports."""
    preload_providers()


def main(argv: list[str]) -> int:
    if argv[:1] == ["workflows"]:
        return workflows_main(argv[1:])
    if argv[:1] == ["docs"]:
        return docs_main(argv[1:])
    args = parse(argv)
    forkserver.session()  # before the threads and processes that share its fork servers
    timings.reset()
    stacks = args.stacks or stack_names(args.project)
    pack_dir = args.project / "policies"
    # Each stack's pipeline run is its own process (moto + Airflow): they start now and run beside the other checks.
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as workers:
        runs_ahead = {
            stack: workers.submit(pipeline, stack, args.project, args.json, args.scenario, args.airflow_version, not args.no_cache)
            for stack in (stacks if args.command in ("all", "pipeline") else [])
        }
        try:
            return check_stacks(args, stacks, pack_dir, runs_ahead)
        finally:
            workers.shutdown(cancel_futures=True)  # after a failure, don't start the runs still queued


def _check_dags(deployed: StackRun, settings: Settings, cycle: DutyCycle, args: argparse.Namespace) -> DagCheck:
    """The stack's DAG folder, or its serverless definition, on the Airflow it runs; a duty-cycled stack's runs must fit
    its windows."""
    if settings.serverless:
        return check_workflow(deployed, settings, args.at or _now(), args.project)
    return check_dags(
        deployed,
        settings.airflow_version,
        args.at or _now(),
        cycle=cycle,
        settings=settings.duty_cycle,
        requirements=stack_requirements(settings, args.project),
    )


def check_stacks(args: argparse.Namespace, stacks: list[str], pack_dir: Path, runs_ahead: dict) -> int:
    """Every check the command asks for, stack by stack, then the summary."""
    # First every stack's recorded runs (the mocked program swaps modules, so nothing else runs meanwhile), then their DAG
    # checks in parallel: each is its own local-Airflow process, like the pipeline runs already under way.
    # A stack whose config or program fails keeps its error, reported as its own FAIL row; the other stacks go on.
    prepared: dict[str, tuple | Exception] = {}
    deployed = {}
    for stack in stacks:
        try:
            settings = stack_settings(stack, args.project)
            cycle = DutyCycle.from_settings(settings)
            shown = states(cycle, args.at, settings.serverless) if args.command in ("all", "plan", "gate", "cost", "dags") else []
            with timings("program under mocks (plan)"):
                runs = [(state, at, run_stack(stack, project_dir=args.project, preview=args.preview, at=at)) for state, at in shown]
                if args.command in ("all", "dags"):  # both states upload the same DAGs; a preview can't render them (ARNs unknown)
                    deployed[stack] = run_stack(stack, project_dir=args.project, at=runs[0][1]) if args.preview else runs[0][2]
        except Exception as exc:
            prepared[stack] = exc
            continue
        prepared[stack] = (settings, cycle, runs)
    with contextlib.ExitStack() as running:
        dag_workers = running.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2))
        dag_checks = {stack: dag_workers.submit(_check_dags, run, *prepared[stack][:2], args) for stack, run in deployed.items()}
        with timings("policy gate (pack over gRPC)"):  # one pack process for every stack, configured per analysis
            analyzer = running.enter_context(PolicyPackProcess(pack_dir)) if args.command in ("all", "gate") else None
        return _report(args, stacks, pack_dir, runs_ahead, prepared, dag_checks, analyzer)


def _report(
    args: argparse.Namespace, stacks: list[str], pack_dir: Path, runs_ahead: dict, prepared: dict, dag_checks: dict, analyzer: Any
) -> int:
    """Each stack's results in order as they come in, then the summary. An error in one stack (bad input, or a crash of
    these tools) is that stack's FAIL row with its message; the other stacks are still checked, and the exit code is the
    worst of all (offline/exits.py)."""
    report: dict[str, dict] = {}
    worst = PASSED
    summary: list[tuple[str, str, str, str]] = []  # (stack, state, check, verdict), printed last
    for stack in stacks:
        entry = report.setdefault(stack, {})
        rows_before = len(summary)  # a stack that fails midway keeps the rows of the checks it finished
        try:
            if isinstance(prepared[stack], Exception):
                raise prepared[stack]
            if not _report_stack(args, stack, pack_dir, runs_ahead, prepared[stack], dag_checks.get(stack), analyzer, entry, summary):
                worst = max(worst, FAILED)
        except Exception as exc:
            code = stack_error(stack, exc)
            worst = max(worst, code)
            kind = "bad input" if code == BAD_INPUT else "a bug in the offline tools"
            summary.append((stack, "", "checks" if len(summary) == rows_before else "the rest", f"FAIL ({kind}): {gist(exc)}"))
            entry["error"] = str(exc)
    with timings("workflows check"):
        try:  # the workflows follow every stack's settings, so one stack's bad config leaves them unchecked
            outdated = stale_workflows(args.project) if args.command == "all" else []
        except Exception as exc:
            outdated = []
            if worst < BAD_INPUT:  # else the stack's own error above already says why
                worst = max(worst, stack_error("all", exc))
            summary.append(("all", "", "workflows", "FAIL (not checked: a stack's config fails, see its error)"))
    if outdated:
        worst = max(worst, FAILED)
        summary.append(("all", "", "workflows", f"FAIL (stale: run `{WORKFLOWS_COMMAND}`)"))
        report["workflows"] = {"stale": outdated, "fix": WORKFLOWS_COMMAND}
        if not args.json:
            print("\n".join(f"Workflows: {name} does not follow the stacks; run `{WORKFLOWS_COMMAND}`" for name in outdated))
    if args.command == "all" and stale_docs(args.project):
        worst = max(worst, FAILED)
        summary.append(("all", "", "docs", f"FAIL (stale: run `{DOCS_COMMAND}`)"))
        report["docs"] = {"stale": str(DOCS_FILE), "fix": DOCS_COMMAND}
        if not args.json:
            print(f"Docs: {DOCS_FILE}'s settings table does not follow settings.py; run `{DOCS_COMMAND}`")
    if args.timings:
        report["timings"] = timings.seconds
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    elif len(summary) > 1:
        print(render_summary(summary, worst != PASSED))
    if args.timings and not args.json:
        print(timings.render())
    return worst


def _report_stack(
    args: argparse.Namespace,
    stack: str,
    pack_dir: Path,
    runs_ahead: dict,
    prepared: tuple,
    dag_check_ahead: Any,
    analyzer: Any,
    entry: dict,
    summary: list[tuple[str, str, str, str]],
) -> bool:
    """One stack's checks, printed as they come in, its rows added to `summary`; True when every one passed."""
    settings, cycle, runs = prepared
    serverless = settings.serverless
    failed = False
    if args.command in ("all", "duty-cycle"):
        entry["duty_cycle"] = describe_duty_cycle(stack, cycle, args.at or _now(), serverless)
        if not args.json:
            print(render_duty_cycle(entry["duty_cycle"]), end="\n\n")
    if dag_check_ahead is not None:
        with timings("waiting for the DAG checks"):
            dag_check = dag_check_ahead.result()
        failed |= not dag_check.passed
        problems = counted(len(dag_check.report["problems"]), "problem")
        summary.append((stack, "", "DAGs", "PASS" if dag_check.passed else f"FAIL ({problems})"))
        if named := [n["dag_id"] or n["file"] for n in dag_check.report.get("not_run", [])]:  # said, never dropped silently
            summary.append((stack, "", "DAGs it doesn't run", f"{counted(len(named), 'DAG')} named above: {', '.join(named)}"))
        entry["dags"] = dag_check.report
        if not args.json:
            print(render_dags(dag_check), end="\n\n")
    if args.command in ("all", "requirements") and serverless:
        entry["requirements"] = "none: an MWAA Serverless workflow runs the service's own operators, no requirements.txt"
        if not args.json:
            print(f"Requirements of stack {stack}: {entry['requirements']}", end="\n\n")
    elif args.command in ("all", "requirements"):
        with timings("requirements (pip, PyPI)"):
            requirements = check_requirements(settings, args.project, use_cache=not args.no_cache)
        failed |= not requirements.passed
        problems = counted(len(requirements.problems), "problem")
        summary.append((stack, "", "requirements", "PASS" if requirements.passed else f"FAIL ({problems})"))
        entry["requirements"] = asdict(requirements) | {"passed": requirements.passed}
        if not args.json:
            print(render_requirements(requirements), end="\n\n")
    for index, (state, at, run) in enumerate(runs if args.command in ("all", "plan", "gate", "cost") else []):
        shown = entry.setdefault("states", {}).setdefault(state, {"at": at.isoformat()})
        title = state_title(stack, state, at)
        if args.command in ("all", "plan"):
            shown["resources"] = plan_as_json(run)
            if not args.json:  # the tree once per stack; another state as its difference from it
                first_state, _, first_run = runs[0]
                plan = render_plan(run, title) if index == 0 else render_plan_diff(first_run, run, title, first_state)
                print(plan, end="\n\n")
        if args.command in ("all", "gate"):
            with timings("policy gate (pack over gRPC)"):
                result = run_gate(run, *stack_pack_config(stack, pack_dir), pack_dir=pack_dir, analyzer=analyzer)
            failed |= not result.passed
            advisories = f" ({len(result.advisory)} advisory)" if result.advisory else ""
            verdict = f"PASS{advisories}" if result.passed else f"FAIL ({len(result.mandatory)} mandatory){advisories}"
            summary.append((stack, state, "policy gate", verdict))
            shown["policy"] = as_json(result)
            if not args.json:
                print(render(result, title), end="\n\n")
        if args.command in ("all", "cost"):
            with timings("cost"):
                priced = estimate(((r.type, r.inputs) for r in run.resources), load_pricing(team=args.project / TEAM_PRICING_NAME))
            failed |= not priced.complete  # every missing figure is named; the other checks still run
            verdict = f"${priced.total:,.2f}/month"
            if not priced.complete:
                verdict = f"INCOMPLETE: at least {verdict}, {counted(len(priced.missing), 'price')} missing"
            summary.append((stack, state, "cost", verdict))
            shown["cost"] = {
                **asdict(priced),
                "total": priced.total,
                "always_on_total": priced.always_on_total,
                "complete": priced.complete,
            }
            if not args.json:
                print(render_cost(priced, title), end="\n\n")
    if args.command == "all" and entry["dags"]["problems"]:
        entry["pipeline"] = "skipped: the DAG check failed (above), so no DAG would run"
        summary.append((stack, "", "pipeline run", "skipped (DAG check failed)"))
        if not args.json:
            print(f"Pipeline run for {stack} skipped: the DAG check failed (above), so no DAG would run")
    elif args.command in ("all", "pipeline"):
        with timings("waiting for the pipeline runs"):
            as_expected, output = runs_ahead[stack].result()
        failed |= not as_expected
        summary.append((stack, "", f"pipeline run ({args.scenario})", "PASS" if as_expected else "FAIL"))
        entry["pipeline"] = output
        if not args.json:
            print(output)
    return not failed


def gist(exc: Exception, width: int = 110) -> str:
    """The line of an error's message that says what is wrong (not a heading ending in a colon), cut to `width`."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    line = next((line for line in lines if not line.endswith(":")), lines[0])
    return line if len(line) <= width else line[: width - 1] + "…"


def stack_error(stack: str, exc: Exception) -> int:
    """Report an error raised while checking one stack as `run_main` reports a command's (offline/exits.py): bad input is
    one `error:` message, anything else a bug with its traceback; returns the exit code it stands for."""
    if isinstance(exc, input_errors()):
        print(f"error: stack {stack}: {exc}", file=sys.stderr)
        return BAD_INPUT
    traceback.print_exception(exc)
    print(f"error: stack {stack}: that is a bug in the offline tools, not in your input: the traceback above says where", file=sys.stderr)
    return BUG


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
