"""The offline main job: what `pulumi preview --policy-pack policies` would show, per stack.

python -m offline                 # plan + policy gate for every stack
python -m offline plan dev        # the resource tree only
python -m offline gate --json     # the gate, machine-readable; exit 1 on a mandatory violation
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from offline.gate import as_json, render, run_gate, stack_pack_config
from offline.harness import PROJECT_DIR, run_stack
from offline.plan import render_plan
from policies.rules.cost_model import estimate
from policies.rules.cost_model import render as render_cost

COMMANDS = ("all", "plan", "gate", "cost", "pipeline")


def pipeline(stack: str, project: Path, as_json: bool) -> tuple[bool, object]:
    """The DAG's success-path run, in its own process: Airflow reads its config once, at import."""
    command = [sys.executable, "-m", "offline.pipeline_run", stack, *(["--json"] if as_json else [])]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"pipeline run for {stack} crashed:\n{done.stderr[-4000:]}")
    return done.returncode == 0, json.loads(done.stdout) if as_json else done.stdout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=COMMANDS)
    parser.add_argument("stacks", nargs="*", help="stacks to run (default: every Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--preview", action="store_true", help="simulate a first preview: IDs, ARNs and version ids unknown")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR, help="the Pulumi program's folder (default: this repository)")
    args = parser.parse_args(argv)
    stacks = args.stacks or sorted(p.name.split(".")[1] for p in args.project.glob("Pulumi.*.yaml"))
    pack_dir = args.project / "policies"

    report: dict[str, dict] = {}
    failed = False
    for stack in stacks:
        run = run_stack(stack, project_dir=args.project, preview=args.preview)
        entry = report.setdefault(stack, {})
        if args.command in ("all", "plan"):
            entry["resources"] = len(run.resources)
            if not args.json:
                print(render_plan(run), end="\n\n")
        if args.command in ("all", "gate"):
            result = run_gate(run, *stack_pack_config(stack, pack_dir), pack_dir=pack_dir)
            failed |= not result.passed
            entry["policy"] = as_json(result)
            if not args.json:
                print(render(result), end="\n\n")
        if args.command in ("all", "cost"):
            priced = estimate((r.type, r.inputs) for r in run.resources)
            entry["cost"] = {**asdict(priced), "total": priced.total}
            if not args.json:
                print(render_cost(priced, f"Stack {stack}"), end="\n\n")
        if args.command in ("all", "pipeline"):
            succeeded, output = pipeline(stack, args.project, args.json)
            failed |= not succeeded
            entry["pipeline"] = output
            if not args.json:
                print(output)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
