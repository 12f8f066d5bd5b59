"""`bin/offline ui [stack]`: the stack's Airflow 3 in a browser, as MWAA runs it, until Ctrl-C (offline/local_ui.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from offline.local_ui import LocalUi, stopped_by_signals
from offline.stacks import PROJECT_DIR

HELP = "the stack's Airflow in a browser as MWAA runs it (UI and REST API on 127.0.0.1, the pipeline on a local AWS), until Ctrl-C"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bin/offline ui", description=HELP)
    parser.add_argument("stack", nargs="?", default="dev", help="the stack to run (default: dev)")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR, help="the Pulumi program's folder (default: this repository)")
    parser.add_argument(
        "--no-retries",
        action="store_true",
        help="a failed task fails its run at once, without its retries (minutes apart), so the alert shows within seconds",
    )
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    terminal = sys.stdout  # the UI sends what the Lambda and Glue code print to a log; its own lines come here

    def say(line: str) -> None:
        print(line, file=terminal, flush=True)

    ui = LocalUi(args.stack, args.project, say, args.no_retries)  # a stack's bad input is its one error, before anything starts
    say(f"starting Airflow {ui.version} for stack {args.stack}: the local AWS, then the API server, scheduler, DAG processor and triggerer")
    try:
        with stopped_by_signals(), ui:
            say(ui.introduction())
            ui.watch()
    except KeyboardInterrupt:
        say("stopped: every process the UI started has ended")
    return 0
