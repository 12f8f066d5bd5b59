"""`bin/offline docs`: rewrite the settings table in docs/configuration.md from settings.py (offline/docs.py); the main
job reports it stale."""

from __future__ import annotations

from pathlib import Path

from offline import docs
from offline.docs import COMMAND, main

__all__ = ["COMMAND", "HELP", "main", "stale", "what"]

HELP = "rewrite the settings table in docs/configuration.md from settings.py (--check: report only)"


def stale(project: Path) -> list[str]:
    return [str(docs.DOC)] if docs.stale(project) else []


def what(name: str) -> str:
    return f"Docs: {name}'s settings table does not follow settings.py; run `{COMMAND}`"
