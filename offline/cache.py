"""Results of slow offline checks, cached by the content of everything they depend on.

A key is a digest of the stack's recorded plan (every input `pulumi up` would send, file assets by content: the DAGs,
requirements.txt, the Lambda and Glue code), the tools' own sources and pins, and the request (scenario, Airflow
version; for a requirements resolution, its lines and the day, since PyPI changes). Any change to any of those is a
new key, so a result is never served for inputs it wasn't computed from; nothing expires otherwise. `.cache/` is
disposable (`rm -rf .cache`), and `--no-cache` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offline.harness import StackRun, plan_fingerprint
from offline.stacks import PROJECT_DIR

CACHE_DIR = PROJECT_DIR / ".cache"
#: The tools' code and pins: a change to any of them may change a result.
TOOL_SOURCES = ("offline", "airflow_state", "serverless", "policies/rules", "mwaa-images", "requirements-airflow.txt",
                "requirements-dev.txt", "constraints.txt", "settings.py", "names.py", "schedule.py", "duty_cycle.py")  # fmt: skip


def files_digest(root: Path, files: Iterable[Path]) -> str:
    """A digest of `files`, each by its path relative to `root` and its content, in the order given."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _tree_digest(root: Path) -> str:
    files: list[Path] = []
    for relative in TOOL_SOURCES:
        path = root / relative
        files += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if path.is_dir() else [path]
    return files_digest(root, files)


def digest(kind: str, **request: Any) -> str:
    """The cache key of a `kind` result for `request` (JSON-serialisable values), the tools' sources and this Python."""
    parts = {"kind": kind, "tools": _tree_digest(PROJECT_DIR), "python": sys.version, **request}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def key(kind: str, run: StackRun, leave_out: tuple[str, ...] = (), **request: Any) -> str:
    """The cache key of a `kind` result for the stack `run` records and `request`: its whole plan but the resources
    whose type starts with one of `leave_out` (those the result never reads)."""
    plan = plan_fingerprint(run)
    return digest(kind, plan={r.urn: plan[r.urn] for r in run.resources if not r.type.startswith(leave_out)}, **request)


def _load(kind: str, digest: str) -> tuple[Any, str] | None:
    """(value, when it was stored) for `digest`, or None."""
    path = CACHE_DIR / kind / f"{digest}.json"
    if not path.exists():
        return None
    entry = json.loads(path.read_text())
    return entry["value"], entry["stored"]


def remembered(kind: str, digest: str, compute: Callable[[], Any], use_cache: bool = True) -> tuple[Any, str | None]:
    """(value, when it was stored) for `digest` if cached (and `use_cache`), else (compute(), None), stored for next time.
    The value is what JSON gives back (lists for tuples, dicts for dataclasses)."""
    if use_cache and (found := _load(kind, digest)):
        return found
    value = compute()
    _store(kind, digest, value)
    return value, None


def _store(kind: str, digest: str, value: Any) -> None:
    path = CACHE_DIR / kind / f"{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")  # parallel test workers may store the same entry
    temporary.write_text(json.dumps({"stored": datetime.now(UTC).isoformat(timespec="seconds"), "value": value}))
    temporary.replace(path)  # atomic: a concurrent reader sees the whole entry or none
