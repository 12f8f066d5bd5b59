"""Does a duty-cycled stack need a `pulumi up` now? The scheduler's cheap first step, before any AWS login.

python -m reconcile <stack> --export state.json --history history.json [--head SHA] [--at <ISO time>]
    [--github-output FILE]   (apply, repair, want: running|paused, environment: whether the state has one)

`state.json` is `pulumi stack export`, `history.json` is `pulumi stack history --json --page-size 10`: both come from
the state backend with the Pulumi token alone. An `up` is needed when the windows want the environment and the state
has none (or the reverse: an environment or a NAT gateway while paused), when the last update did not succeed (a
create that timed out, a job that was cancelled), when an update was interrupted (pending operations), or when the
commit of the last update that succeeded (its `git.head`, which the CLI records with every update) is not `--head`,
the branch's head: a push's deploy that GitHub cancelled while it waited in the stack's concurrency group (it keeps
one pending job and cancels it when another queues) is deployed here instead of lost. Otherwise the scheduler stops
here, so a check costs a minute or two of CI instead of a gated preview against AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi

from duty_cycle import DutyCycle, decision_time
from offline.exits import FAILED, PASSED, InputError, run_main
from offline.stacks import PROJECT_DIR, StackFileError, stack_settings

#: The longest any job that updates a stack may run (the `timeout-minutes` of the deploy and duty-cycle jobs; a test
#: keeps them within it): an update still "in progress" after that was left by a job GitHub killed, not one running.
LONGEST_JOB_MINUTES = 180
ENVIRONMENTS = ("aws:mwaa/environment:Environment",)
#: What bills by the hour besides the environment: a pause must have removed these too.
EGRESS = ("aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip")


def deployed_commit(history: list[dict[str, Any]]) -> str | None:
    """The commit of the newest update that succeeded (`git.head` in its environment), if the history holds one."""
    done = next((h for h in history if h.get("kind", "update") == "update" and h.get("result") == "succeeded"), None)
    return (done or {}).get("environment", {}).get("git.head")


def repair(state: dict[str, Any], history: list[dict[str, Any]], at: datetime) -> tuple[str, str]:
    """(action, why) before an `up` can succeed after a job was killed mid-update: "cancel" a stale lock, "refresh" the
    state of an interrupted update, "page" when neither is safe, "" when nothing is wrong.

    A job killed by its timeout or a cancel leaves the update "in-progress" (the stack locked: every later update gets
    409) and its resources' operations pending. The scheduler's job is alone in the stack's concurrency group, so an
    update older than the longest job is stale: `pulumi cancel` releases it. A younger one was started outside the
    group (a laptop), and cancelling it could break a person's update: that pages a person. Pending operations are
    resolved by `pulumi refresh`, which reads each resource back (Pulumi's "Interrupted updates" guide); a pending
    create is dropped with `--clear-pending-creates` (in CI there is no one to answer the question refresh asks). If
    that create did finish in AWS (an MWAA environment does, after 20-30 minutes), the next `up` fails on the existing
    name and pages a person: import it (`pulumi import`) or delete it, as docs/duty-cycle.md says."""
    last = history[0] if history else {}
    if last.get("result") == "in-progress":
        started = datetime.fromisoformat(str(last.get("startTime", "")).replace("Z", "+00:00") or at.isoformat())
        age = (at - started).total_seconds() / 60
        if age <= LONGEST_JOB_MINUTES:
            return "page", (
                f"an update started {age:.0f} min ago is still in progress and no job of this stack's group runs it: someone "
                "updates the stack outside CI; let it finish, or `pulumi cancel` it yourself"
            )
        return "cancel", f"an update left in progress {age:.0f} min ago by a job that was killed holds the stack's lock"
    if (state.get("deployment") or {}).get("pending_operations"):
        return "refresh", "an interrupted update left pending operations: refresh reads them back from AWS"
    return "", ""


def resource_types(state: dict[str, Any]) -> set[str]:
    """The types of the resources a `pulumi stack export` holds."""
    return {resource.get("type") for resource in (state.get("deployment") or {}).get("resources") or []}


def decide(
    cycle: DutyCycle, at: datetime, state: dict[str, Any], history: list[dict[str, Any]], head: str | None = None
) -> tuple[bool, str]:
    """(apply, why) for a stack whose exported state and last updates are these, at `at`; `head`: the branch's commit."""
    deployment = state.get("deployment") or {}
    types = resource_types(state)
    want = cycle.running(at)
    wanted = "running" if want else "paused"
    if deployment.get("pending_operations"):
        return True, "an update was interrupted (the state has pending operations)"
    if history and history[0].get("result") != "succeeded":
        return True, f"the last update {history[0].get('result', 'did not report a result')} ({history[0].get('startTime', '?')})"
    if head and history and (deployed := deployed_commit(history)) != head:
        why = "a push's deploy was cancelled or still waits; this run deploys the head"
        return True, f"the deployed commit {deployed or '(none recorded)'} is not the branch head {head}: {why}"
    has_environment, has_egress = bool(types & set(ENVIRONMENTS)), bool(types & set(EGRESS))
    if want and not has_environment:
        return True, "the windows want the environment running and the stack has none"
    if not want and (has_environment or has_egress):
        return True, "the windows want the stack paused and it still has " + ("the environment" if has_environment else "NAT egress")
    return False, f"already {wanted}, as the windows want, and the last update succeeded"


def _load(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text() or "null")
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: can't read {what} ({exc}); produce it with the command in this module's docstring") from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconcile", description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--export", type=Path, required=True, help="`pulumi stack export` of the stack")
    parser.add_argument("--history", type=Path, required=True, help="`pulumi stack history --json --page-size 10`")
    parser.add_argument("--head", help="the branch's head commit (a scheduled run's GITHUB_SHA): deploy it when it isn't deployed")
    parser.add_argument("--at", help="decide at this ISO time (default: DUTY_CYCLE_AT, else the clock)")
    parser.add_argument("--github-output", type=Path, help="append apply=true|false here (the step's $GITHUB_OUTPUT)")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    at = decision_time({"DUTY_CYCLE_AT": args.at} if args.at else None)
    cycle = DutyCycle.from_settings(stack_settings(args.stack, args.project))
    history, state = _load(args.history, "the stack history") or [], _load(args.export, "the stack export") or {}
    when = f"{args.stack} at {at.astimezone(UTC):%a %Y-%m-%d %H:%M} UTC"
    action, because = repair(state, history, at)
    if action == "page":
        print(f"error: {when}: {because}", file=sys.stderr)
        return FAILED
    apply, why = decide(cycle, at, state, history[1:] if action == "cancel" else history, args.head)
    apply = apply or bool(action)
    print(f"{when}: {'apply' if apply else 'nothing to do'}: {because + '; then ' if action else ''}{why}")
    if args.github_output:
        with args.github_output.open("a") as output:
            # want and environment: whether the up pauses or resumes, so the job keeps Airflow's state (airflow_state/)
            # before a pause deletes the environment and restores it after a resume created a new one.
            output.write(
                f"apply={'true' if apply else 'false'}\nrepair={action}\nwant={'running' if cycle.running(at) else 'paused'}\n"
                f"environment={'true' if resource_types(state) & set(ENVIRONMENTS) else 'false'}\n"
            )
    return PASSED


if __name__ == "__main__":
    # The scheduler installs only what this needs (pulumi, pydantic, PyYAML), so the bad-input errors are named here.
    sys.exit(run_main(lambda: main(sys.argv[1:]), bad_input=(InputError, pulumi.RunError, StackFileError)))
