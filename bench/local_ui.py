"""Time `bin/offline ui` to a ready UI, and its memory.

    .venv/bin/python bench/local_ui.py [stack]      (default: dev)

Starts `python -m offline ui <stack>` as a user does and reads its output until it prints that it is ready, then sums
the resident memory of its whole process tree (the UI process with the local AWS, the four Airflow components, their
workers) and stops it with SIGINT, as Ctrl-C does. Twice from a first start (no migrated metadata database kept in
.cache/airflow-ui: `airflow db migrate` runs), then three warm starts. The Airflow environment is assumed built (one
run of bin/offline makes it). Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.local_ui import DATABASES, process_tree
from offline.stacks import PROJECT_DIR


def rss_mib(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def start(stack: str) -> tuple[float, float, float]:
    """(seconds to the ready line, peak MiB of the tree while it ran to there and 10 s after, seconds to stop)."""
    begun = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "offline", "ui", stack], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True)
    ready = threading.Event()
    threading.Thread(target=lambda: [ready.set() for line in process.stdout if "is ready at" in line], daemon=True).start()
    peak, ready_at = 0.0, None
    while ready_at is None or time.perf_counter() - ready_at < 10:
        peak = max(peak, rss_mib(process_tree(process.pid) | {process.pid}))
        if ready_at is None and ready.is_set():
            ready_at = time.perf_counter()
        if process.poll() is not None:
            raise SystemExit(f"bin/offline ui {stack} exited with {process.returncode} before it was ready")
        time.sleep(0.2)
    stopping = time.perf_counter()
    process.send_signal(signal.SIGINT)
    process.wait(60)
    return ready_at - begun, peak, time.perf_counter() - stopping


def main() -> None:
    stack = sys.argv[1] if len(sys.argv) > 1 else "dev"
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"bin/offline ui {stack}: seconds from the command to the ready line; peak resident memory of its process tree")
    for label, runs, cold in (("first start (db migrate)", 2, True), ("warm start", 3, False)):
        for _ in range(runs):
            if cold:
                shutil.rmtree(DATABASES, ignore_errors=True)
            seconds, peak, stop = start(stack)
            print(f"  {label:<26} ready in {seconds:5.1f} s   peak {peak:6.0f} MiB   Ctrl-C to all ended {stop:4.1f} s")


if __name__ == "__main__":
    main()
