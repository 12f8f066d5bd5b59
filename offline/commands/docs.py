"""`bin/offline docs`: rewrite the settings table in docs/configuration.md from settings.py (offline/docs.py); the main
job reports it stale."""

from __future__ import annotations

from pathlib import Path

from offline import docs
from offline.docs import COMMAND, main
from offline.harness import StackRun

__all__ = ["COMMAND", "HELP", "main", "stale", "what"]

HELP = "rewrite the settings table in docs/configuration.md from settings.py (--check: report only)"


def stale(project: Path, runs: dict[str, list[StackRun]] | None = None) -> list[str]:
    return [str(docs.DOC)] if docs.stale(project) else []  # from settings.py alone: the runs add nothing


def what(name: str) -> str:
    return f"Docs: {name}'s settings table does not follow settings.py; run `{COMMAND}`"
