"""The type checker over the programs (the platform's, bootstrap/) and the pack (pyproject.toml's [tool.basedpyright]),
cached by content.

python -m offline.typecheck [--no-cache]   (bin/test)

A pass is kept under a key of the files the checker reads: those its `include` names, every project module they import
(followed through their imports), its config, and the pins of the environment it resolves other imports from
(offline/cache.py adds the tools' own sources). A change to any of them checks again, while a DAG, stack or
requirements edit, which no checked file reads, is answered from the last pass. A failure is never kept.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from offline import cache
from offline.stacks import PROJECT_DIR

#: Read by the checker besides the Python files: its config, and the pins of the packages it resolves imports from.
CONFIG_FILES = ("pyproject.toml", "requirements.txt", "policies/requirements.txt", "requirements-dev.txt", "constraints.txt")


class TypeCheckError(RuntimeError):
    """The checker failed; its output is the message."""


def _python_files(path: Path, excluded: list[Path]) -> list[Path]:
    """The Python files at `path` (a module or a folder), but under `excluded` or in bytecode folders."""
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.suffix == ".py" and path.exists() else []
    return [f for f in files if "__pycache__" not in f.parts and not any(f.is_relative_to(e) for e in excluded)]


def checked_files(project: Path) -> list[Path]:
    """The Python files the checker reads from `project`: its `include`, and the project modules they import."""
    config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["basedpyright"]
    excluded = [project / pattern for pattern in config.get("exclude", []) if not pattern.startswith("**/")]  # **/__pycache__
    roots = [project, *(project / extra for extra in config.get("extraPaths", []))]
    pending = [f for include in config["include"] for f in _python_files(project / include, excluded)]
    seen: set[Path] = set()
    while pending:
        file = pending.pop()
        if file in seen:
            continue
        seen.add(file)
        for node in ast.walk(ast.parse(file.read_bytes())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for top in {name.split(".")[0] for name in names}:
                for root in roots:
                    pending += _python_files(root / top, excluded) + _python_files(root / f"{top}.py", excluded)
    return sorted(seen)


def sources_digest(project: Path) -> str:
    """A digest of CONFIG_FILES and the checked files."""
    config = [project / name for name in CONFIG_FILES if (project / name).exists()]
    return cache.files_digest(project, [*config, *checked_files(project)])


def check(project: Path) -> str:
    """Run the checker in `project`; its summary line on a pass, TypeCheckError with its whole output otherwise."""
    done = subprocess.run([str(project / ".venv" / "bin" / "basedpyright")], cwd=project, capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise TypeCheckError(output or f"basedpyright exited {done.returncode} without output")
    return output.splitlines()[-1] if output else "basedpyright passed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.typecheck", description=__doc__.splitlines()[0])
    parser.add_argument("--no-cache", action="store_true", help="check even if the same sources passed before")
    args = parser.parse_args(argv)
    key = cache.digest("typecheck", sources=sources_digest(PROJECT_DIR))
    try:
        summary, stored = cache.remembered("typecheck", key, lambda: check(PROJECT_DIR), use_cache=not args.no_cache)
    except TypeCheckError as exc:
        print(exc)
        print("basedpyright found type errors (above)")
        return 1
    print(f"{summary} (the same sources passed at {stored}: not checked again)" if stored else summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
