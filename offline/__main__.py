"""The offline main job: what `pulumi preview --policy-pack policies` would show, per stack.

python -m offline            # plan for every stack
python -m offline plan dev
"""

from __future__ import annotations

import argparse
import sys

from offline.harness import PROJECT_DIR, run_stack
from offline.plan import render_plan

STACKS = sorted(p.name.split(".")[1] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=["all", "plan"])
    parser.add_argument("stacks", nargs="*", default=STACKS, help=f"stacks to run (default: {' '.join(STACKS)})")
    args = parser.parse_args(argv)
    for stack in args.stacks:
        print(render_plan(run_stack(stack)), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
