"""`bin/offline workflows`: rewrite the parts of .github/workflows/ and docs/real-path.md that follow the stacks
(offline/workflows.py); the main job reports them stale."""

from __future__ import annotations

from offline.workflows import COMMAND, main, stale

__all__ = ["COMMAND", "HELP", "main", "stale", "what"]

HELP = "rewrite the cron lines, stack matrices and regions in .github/workflows/ from the stacks (--check: report only)"


def what(name: str) -> str:
    return f"Workflows: {name} does not follow the stacks; run `{COMMAND}`"
