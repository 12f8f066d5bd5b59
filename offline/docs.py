"""The settings table in docs/configuration.md, generated from the settings model (settings.py).

bin/offline docs           # rewrite the table from the model's fields, defaults and docstrings
bin/offline docs --check   # exit 1 when the file differs (bin/offline runs this)

Each field's docstring is its description (pydantic `use_attribute_docstrings`), so a key, its default and what it
means are written once, beside the validation that enforces them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from offline.exits import FAILED, PASSED, run_main
from offline.stacks import PROJECT_DIR
from settings import Settings

COMMAND = "bin/offline docs"  # as printed: runs from the project folder, venv or not
DOC = Path("docs") / "configuration.md"
BEGIN = "<!-- generated: settings table from settings.py's docstrings (regenerate: the docs command of offline) -->"
END = "<!-- end of generated settings table -->"
#: Config keys outside the project's namespace.
OWN_KEYS = {"region": "aws:region"}


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None or value is PydanticUndefined:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | dict):
        return "`" + json.dumps(value).replace('"', "") + "`"
    return f"`{value}`"


def rows(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, description) of every setting, nested sections flattened to dotted keys."""
    found = []
    for name, field in model.model_fields.items():
        if name == "stack":
            continue
        key = OWN_KEYS.get(name) or f"{prefix}{field.alias or name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += rows(annotation, f"{key}.")
        else:
            found.append((key, _default(field), " ".join((field.description or "").split())))
    return found


def table() -> str:
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {default} | {description} |" for key, default, description in rows()]
    return "\n".join([BEGIN, *lines, END])


def rendered(text: str) -> str:
    """`text` with its generated block replaced by the model's table."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + table() + tail


def stale(project: Path = PROJECT_DIR) -> bool:
    """The project's settings table differs from what settings.py makes of it (bin/offline reports it)."""
    text = (project / DOC).read_text()
    return rendered(text) != text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report a stale table instead of rewriting it")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    path = args.project / DOC
    text = path.read_text()
    if BEGIN not in text or END not in text:
        print(f"error: {DOC} lacks the markers {BEGIN} ... {END}", file=sys.stderr)
        return FAILED
    updated = rendered(text)
    if updated == text:
        print(f"{DOC}: the settings table follows settings.py")
        return PASSED
    if args.check:
        print(f"stale: {DOC}'s settings table differs from settings.py; run `{COMMAND}`")
        return FAILED
    path.write_text(updated)
    print(f"rewrote {DOC}")
    return PASSED


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
