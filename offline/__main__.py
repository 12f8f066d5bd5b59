"""The offline main job: what `pulumi preview --policy-pack policies` would show, per stack.

bin/offline                 # plan + policy gate + cost per stack state, then a local pipeline run
bin/offline plan dev        # the resource tree only
bin/offline gate --json     # the gate, machine-readable; exit 1 on a mandatory violation
bin/offline duty-cycle      # each stack's windows, next resume and pause, active hours, cron lines
bin/offline dags dev        # the DAG folder MWAA would get, parsed by the stack's Airflow (exit 1 on a problem)
bin/offline requirements    # each stack's requirements.txt resolved as MWAA would (exit 1 on a problem)
bin/offline ui              # dev's Airflow in a browser, as MWAA runs it, until Ctrl-C

(`bin/offline` is `.venv/bin/python -m offline` after creating .venv; options go anywhere: `--timings prod` works.)

A duty-cycled stack is shown in both states, running (at its next resume, or now)
and paused (at its next pause, or now); `--at <ISO time>` shows the one state
`pulumi up` would produce at that time. Exit codes: offline/exits.py (0 passed,
1 a check failed, 2 bad input, 3 a bug). The commands are offline/commands/, one
module each, listed in its TABLE.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import datetime
from pathlib import Path

from offline import commands, forkserver
from offline.commands.run import Context, Prepared, finish, prepare, report_stacks, start_ahead, timings, workers
from offline.exits import BAD_INPUT, FAILED, report_error, run_main
from offline.gate import PolicyPackProcess
from offline.harness import preload_providers
from offline.stacks import PROJECT_DIR, stack_names

#: Each command and what it does (`--help` lists them).
COMMANDS = commands.helps()
#: Commands that check every stack (the rest have a main of their own: the project's generated files, the local UI).
STACK_COMMANDS = [name for name in commands.TABLE if not hasattr(commands.module(name), "main")]


def iso_time(value: str) -> datetime:
    """--at: an ISO time with a zone, like DUTY_CYCLE_AT."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO time such as 2026-11-23T04:30Z") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone; add Z (UTC) or an offset such as +05:30")
    return at


def common_options() -> argparse.ArgumentParser:
    """The options every stack command takes, wherever they stand on the line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("stacks", nargs="*", metavar="stack", help="stacks to run (default: every Pulumi.<stack>.yaml)")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    common.add_argument("--preview", action="store_true", help="plan, gate and cost as a first preview: IDs, ARNs and version ids unknown")
    common.add_argument("--at", type=iso_time, help="decide the duty cycle at this ISO time (e.g. 2026-11-23T04:30Z)")
    common.add_argument("--project", type=Path, default=PROJECT_DIR, help="the Pulumi program's folder (default: this repository)")
    common.add_argument("--timings", action="store_true", help="print where the time went, per phase, after the summary")
    common.add_argument("--no-cache", action="store_true", help="run the pipelines and resolve the requirements again (ignore .cache/)")
    return common


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser (its --help lists the table) and one subcommand parser per entry of the command table, each
    with the common options and its own."""
    listing = "\n".join(f"  {name:<13} {what}" for name, what in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="bin/offline",
        description=__doc__.splitlines()[0],
        epilog=f"commands:\n{listing}\n\nexit codes: 0 passed, 1 a check failed, 2 bad input, 3 a bug in these tools",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="[command]", help="one of the commands below (default: all)")
    common, subs = common_options(), {}
    for name in ["all", *STACK_COMMANDS]:
        subs[name] = subparsers.add_parser(name, parents=[common], prog=f"bin/offline {name}", description=COMMANDS[name])
        for owner in STACK_COMMANDS if name == "all" else [name]:
            if add_options := getattr(commands.module(owner), "add_options", None):
                add_options(subs[name])
    return parser, subs


def value_options() -> set[str]:
    """The options that take a value (`--at T`, `--scenario S`): their values are not command or stack words."""
    probe = argparse.ArgumentParser(parents=[common_options()], add_help=False)
    for name in STACK_COMMANDS:
        if add_options := getattr(commands.module(name), "add_options", None):
            add_options(probe)
    return {option for action in probe._actions if action.nargs != 0 for option in action.option_strings}


def parse(argv: list[str]) -> argparse.Namespace:
    """Options anywhere (`--timings prod` as `prod --timings`); `bin/offline dev` means `all dev`: a first word that is
    not a command starts the list of stacks (one without a Pulumi.<stack>.yaml is that stack's error, naming the others).
    The command word is moved first, as argparse's subcommands want it."""
    parser, subs = build_parser()
    if argv[:1] and argv[0] in ("-h", "--help"):
        parser.parse_args(argv)  # prints the help, with the command table, and exits
    word, rest = command_word(argv)
    command, rest = (word, rest) if word in subs else ("all", argv)  # else the first word is a stack's (or none is given)
    args = subs[command].parse_intermixed_args(rest)
    args.command = command
    return args


def command_word(argv: list[str]) -> tuple[str | None, list[str]]:
    """The first word that is neither an option nor an option's value, and the line without it."""
    takes_value = value_options()
    words = [i for i, word in enumerate(argv) if not word.startswith("-") and (i == 0 or argv[i - 1] not in takes_value)]
    return (argv[words[0]], argv[: words[0]] + argv[words[0] + 1 :]) if words else (None, argv)


def preload() -> None:
    """For the fork server (offline/forkserver.py): the provider modules every command's program imports."""
    preload_providers()


def main(argv: list[str]) -> int:
    command, rest = command_word(argv)
    if command in commands.TABLE and command not in STACK_COMMANDS:  # a command with its own options (workflows, docs, ui)
        return commands.module(command).main(rest)
    args = parse(argv)
    forkserver.session()  # before the threads and processes that share its fork servers
    timings.reset()
    chosen = STACK_COMMANDS if args.command == "all" else [args.command]
    needs = set().union(*(commands.module(name).NEEDS for name in chosen))
    ctx = Context(args, args.stacks or stack_names(args.project))
    with workers() as pool, contextlib.ExitStack() as running:
        try:
            # Each stack's pipeline run is its own process (moto + Airflow): they start first and run beside the rest.
            if "pipeline_runs" in needs:
                ctx.pipeline_runs = {stack: pool.submit(commands.module("pipeline").run, ctx, stack) for stack in ctx.stacks}
            prepare(ctx, needs)
            if "dag_checks" in needs:  # a local Airflow each, beside the rest too
                ctx.dag_checks = start_ahead(ctx, pool, commands.module("dags").check)
            if "analyzer" in needs:
                with timings("policy gate (pack over gRPC)"):  # one pack process for every stack, configured per analysis
                    ctx.analyzer = running.enter_context(PolicyPackProcess(ctx.pack_dir))
            worst = report_stacks(ctx, lambda ctx, stack, prepared: check_stack(ctx, stack, prepared, chosen))
            if args.command == "all":
                worst = check_project(ctx, worst)
            return finish(ctx, worst)
        finally:
            pool.shutdown(cancel_futures=True)  # after a failure, don't start the runs still queued


def check_stack(ctx: Context, stack: str, prepared: Prepared, chosen: list[str]) -> bool:
    """One stack's checks in the table's order, each state's after the stack's own; True when every one passed."""
    passed = True
    modules = [commands.module(name) for name in chosen]
    per_state = [m for m in modules if hasattr(m, "report_state")]
    for m in modules:
        if hasattr(m, "report"):
            passed &= m.report(ctx, stack, prepared)
        elif m is per_state[0]:  # the states' checks run together, state by state, where the first of them stands
            for index, (state, at, run) in enumerate(prepared.runs):
                ctx.entry(stack).setdefault("states", {}).setdefault(state, {"at": at.isoformat()})
                for each in per_state:
                    passed &= each.report_state(ctx, stack, prepared, index, state, at, run)
    return passed


def check_project(ctx: Context, worst: int) -> int:
    """The generated files that follow the stacks and the settings (workflows, docs): stale is a failed check."""
    for name in commands.TABLE:
        command = commands.module(name)
        if not hasattr(command, "stale"):
            continue
        with timings(f"{name} check"):
            try:  # the workflows follow every stack's settings, so one stack's bad config leaves them unchecked
                stale = command.stale(ctx.args.project, ctx.runs_of_every_state())
            except Exception as exc:
                if worst < BAD_INPUT:  # else the stack's own error above already says why
                    worst = max(worst, report_error(exc, where="stack all: "))
                ctx.row("all", "", name, "FAIL (not checked: a stack's config fails, see its error)")
                continue
        if stale:
            worst = max(worst, FAILED)
            ctx.row("all", "", name, f"FAIL (stale: run `{command.COMMAND}`)")
            ctx.report[name] = {"stale": stale, "fix": command.COMMAND}
            ctx.say("\n".join(command.what(found) for found in stale), end="\n")
    return worst


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
