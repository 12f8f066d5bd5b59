"""Run the tools' commands as a user does (`python -m offline ...` in this repository), forked from the session's
preloaded server (offline/forkserver.py): the same process a new one would be, without repeating its imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from offline import forkserver
from offline.stacks import PROJECT_DIR


def cli(module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` with this environment, as `subprocess.run(..., capture_output=True, text=True)`
    reports it."""
    return forkserver.call(Path(sys.executable), module, list(args), PROJECT_DIR, dict(os.environ))


def offline(*args: str) -> subprocess.CompletedProcess:
    """`python -m offline <args>`: the CLI's commands."""
    return cli("offline", *args)
