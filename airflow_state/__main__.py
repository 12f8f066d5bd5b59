"""Keep an MWAA environment's Airflow state across a pause, or move it to another environment.

python -m airflow_state export  --outputs outputs.json [--stack dev] [--retry-minutes 10]
python -m airflow_state restore --outputs outputs.json [--stack dev] [--wait-minutes 15]
python -m airflow_state move    --from-environment OLD --to-environment NEW [--stack dev]

`outputs.json` is `pulumi stack output --json` (environment_name, dag_bucket_name, alert_topic_arn); the region and
credentials are the AWS SDK's own (the duty-cycle job's deploy role). `--stack` reads the pools declared in config.

Failure semantics (docs/duty-cycle.md): an export that keeps failing is retried for `--retry-minutes`, then the pause
goes ahead and the alert says that nothing since the previous export is kept (the environment would bill by the hour
while it waited; the previous export stays in the versioned bucket and is what the next resume restores). A restore
that fails alerts and exits non-zero, after giving every DAG its pause state back, so the day's run is never held.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_state import mwaa
from airflow_state.snapshot import export as read_state
from airflow_state.snapshot import restore
from offline.exits import FAILED, PASSED, InputError, run_main


def _outputs(path: Path) -> dict[str, Any]:
    try:
        outputs = json.loads(path.read_text())
        return {key: outputs[key] for key in ("environment_name", "dag_bucket_name", "alert_topic_arn")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not the stack's outputs ({exc!r}); write it with `pulumi stack output --json --stack <stack>`") from None


def _pools(stack: str | None) -> dict[str, int]:
    if not stack:
        return {}
    from offline.stacks import stack_settings

    return stack_settings(stack).mwaa.pools


def export(args: argparse.Namespace, clients: Callable[[str], Any]) -> int:
    out = _outputs(args.outputs)
    environment = out["environment_name"]
    deadline = time.monotonic() + args.retry_minutes * 60
    while True:
        try:
            snapshot = read_state(mwaa.call_through(clients("mwaa"), environment))
            break
        except Exception as exc:  # any failure: the API, the network, throttling; retried, then reported
            if time.monotonic() >= deadline:
                why = f"the export failed ({exc}); the pause goes ahead, and the next resume restores the previous export"
                mwaa.alert(clients("sns"), out["alert_topic_arn"], environment, "not kept at this pause", [why])
                print(f"warning: {environment}: {why}", file=sys.stderr)
                return PASSED
            time.sleep(60)
    version = mwaa.save(clients("s3"), out["dag_bucket_name"], environment, snapshot)
    runs = sum(len(dag["runs"]) for dag in snapshot["dags"].values())
    print(
        f"{environment}: exported {len(snapshot['variables'])} Variables, {len(snapshot['pools'])} pools, {len(snapshot['dags'])} DAGs, "
        f"{runs} runs to s3://{out['dag_bucket_name']}/{mwaa.key(environment)} (version {version})"
    )
    if snapshot["not_kept"]:
        mwaa.alert(clients("sns"), out["alert_topic_arn"], environment, "partly not kept at this pause", snapshot["not_kept"])
        print(*(f"  not kept: {item}" for item in snapshot["not_kept"]), sep="\n")
    return PASSED


def restore_state(args: argparse.Namespace, clients: Callable[[str], Any]) -> int:
    out = _outputs(args.outputs)
    environment = out["environment_name"]
    snapshot = mwaa.load(clients("s3"), out["dag_bucket_name"], environment)
    if snapshot is None:
        print(f"{environment}: no export yet (the first resume); nothing to restore")
        return PASSED
    try:
        done = restore(mwaa.call_through(clients("mwaa"), environment), snapshot, _pools(args.stack), args.wait_minutes * 60)
    except Exception as exc:  # reported, never raised: the environment is up and its DAGs have their pause states back
        mwaa.alert(clients("sns"), out["alert_topic_arn"], environment, "not restored after the resume", [str(exc)])
        print(f"error: {environment}: the restore failed: {exc}", file=sys.stderr)
        return FAILED
    print(f"{environment}: {done.summary()}")
    if done.problems:
        mwaa.alert(clients("sns"), out["alert_topic_arn"], environment, "partly not restored after the resume", done.problems)
        print(*(f"  not restored: {item}" for item in done.problems), sep="\n")
    return PASSED


def move(args: argparse.Namespace, clients: Callable[[str], Any]) -> int:
    client = clients("mwaa")
    snapshot = read_state(mwaa.call_through(client, args.from_environment))
    done = restore(mwaa.call_through(client, args.to_environment), snapshot, _pools(args.stack), args.wait_minutes * 60)
    print(f"{args.from_environment} -> {args.to_environment}: {done.summary()}")
    print(*(f"  not kept: {item}" for item in snapshot["not_kept"]), *(f"  not restored: {item}" for item in done.problems), sep="\n")
    return PASSED if not done.problems else FAILED


def main(argv: list[str], clients: Callable[[str], Any] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_state", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, what in (
        ("export", export, "before a pause: the environment's state into the stack's bucket, and an alert naming what isn't kept"),
        ("restore", restore_state, "after a resume: the last export into the new environment, then the declared pools"),
        ("move", move, "one running environment's state into another (disaster recovery, an Airflow upgrade)"),
    ):
        command = commands.add_parser(name, help=what, description=what)
        command.set_defaults(run=run)
        command.add_argument("--stack", help="read the pools declared in this stack's config (mwaa.pools)")
        if name == "move":
            command.add_argument("--from-environment", required=True)
            command.add_argument("--to-environment", required=True)
        else:
            command.add_argument("--outputs", type=Path, required=True, help="`pulumi stack output --json` of the stack")
        command.add_argument("--retry-minutes", type=float, default=10, help="export: keep trying this long before the pause goes ahead")
        command.add_argument(
            "--wait-minutes", type=float, default=15, help="restore: wait this long for the new environment to parse a DAG"
        )
    args = parser.parse_args(argv)
    if clients is None:
        import boto3

        clients = boto3.client
    return args.run(args, clients)


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
