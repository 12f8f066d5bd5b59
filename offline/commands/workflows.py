"""`bin/offline workflows`: rewrite the parts of .github/workflows/ and docs/real-path.md that follow the stacks
(offline/workflows.py); the main job reports them stale."""

from __future__ import annotations

from pathlib import Path

from offline import workflows
from offline.harness import StackRun
from offline.workflows import COMMAND, main

__all__ = ["COMMAND", "HELP", "main", "stale", "what"]

HELP = "rewrite the cron lines, stack matrices and regions in .github/workflows/ from the stacks (--check: report only)"


def stale(project: Path, runs: dict[str, list[StackRun]] | None = None) -> list[str]:
    return workflows.stale(project)  # from the stacks' settings alone: the runs add nothing


def what(name: str) -> str:
    return f"Workflows: {name} does not follow the stacks; run `{COMMAND}`"
