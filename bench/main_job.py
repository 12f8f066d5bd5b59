"""Time the main job (`python -m offline`) against the plan of the same stacks alone.

    .venv/bin/python bench/main_job.py

Prints the machine, the plan of every stack alone (`python -m offline plan`), then the main job twice: cold
(`--no-cache`: every pipeline run and requirements resolution done again) and warm (the cache of an unchanged
repository), each with its per-phase breakdown, and the warm run as a multiple of the plan. The Airflow environments
are assumed built (bin/setup and one run of bin/offline make them); nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.stacks import PROJECT_DIR


def plan_seconds() -> float:
    """`python -m offline plan` of every stack, as a user runs it: a fresh process, every state (best of 3)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "offline", "plan", "--json"], cwd=PROJECT_DIR, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main_job(*flags: str) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "offline", "--json", "--timings", *flags], cwd=PROJECT_DIR, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the main job failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return wall, json.loads(done.stdout)["timings"]


def show(label: str, wall: float, phases: dict[str, float]) -> None:
    print(f"{label}: {wall:.1f} s wall")
    for phase, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        print(f"    {phase:<38} {seconds:6.1f} s")


def main() -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    plan = plan_seconds()
    print(f"the plan alone (python -m offline plan, every stack and state): {plan:.2f} s wall\n")
    cold = main_job("--no-cache")
    show("main job, cold (--no-cache)", *cold)
    warm = main_job()
    show("main job, warm (nothing changed)", *warm)
    print(f"\nwarm main job / plan alone: {warm[0] / plan:.1f}x (cold: {cold[0] / plan:.1f}x)")


if __name__ == "__main__":
    main()
