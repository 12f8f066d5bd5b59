"""What a stack is: the project's folder, its Pulumi.<stack>.yaml files and the validated settings they give, read the
way the Pulumi CLI reads them. No Pulumi SDK here: the tools that only need a stack's settings or the project's paths
import this, not the mocked run (offline/harness.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from offline.exits import InputError
from settings import Settings, load_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


class StackFileError(InputError):
    """The stack's Pulumi.<stack>.yaml is missing or not a stack file."""


def stack_names(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The stacks that have a Pulumi.<stack>.yaml in the project."""
    return sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))


def stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The stack's config: Pulumi.yaml's project-level values, then Pulumi.<stack>.yaml's (a missing or malformed file is a
    clear error)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = stack_names(project_dir)
        raise StackFileError(
            f"{path.name} not found; stacks here: {', '.join(known)}. For a new stack, copy one (cp Pulumi.dev.yaml {path.name}) "
            f"and edit it; the real CLI then needs `pulumi stack init {stack}` once"
        )
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise StackFileError(f"{path.name} must be a map with a `config:` map of settings")
    # A key in the stack file replaces the project-level value whole (no deep merge), as in the CLI.
    return project_config(project_dir) | (document.get("config") or {})


def project_config(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """Project-level `config:` of Pulumi.yaml, as the CLI reads it: a plain value, or `{value: ...}` for an object or list
    (a `{default: ...}` declaration gives its default); an unqualified key is the project's own."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    found = {}
    for key, entry in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{project['name']}:{key}"
        if isinstance(entry, dict):
            if "value" not in entry and "default" not in entry:
                raise StackFileError(f"Pulumi.yaml: config {key} is a map; give an object as `{key}: {{value: ...}}`")
            entry = entry.get("value", entry.get("default"))
        found[full_key] = entry
    return found


def stack_settings(stack: str, project_dir: Path = PROJECT_DIR) -> Settings:
    """The stack's validated settings, read from its file the way the program reads its config."""
    return load_settings(stack, stack_config(stack, project_dir).get)


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
