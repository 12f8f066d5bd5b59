"""`bin/offline bootstrap`: rewrite bootstrap/declared.json, what each stack declares (its environment name, region,
resource types with their auto-named logical names, the managed policies its roles are given), from which the
bootstrap program derives CI's permissions (bootstrap/permissions.py); the main job reports it stale."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from offline.exits import FAILED, PASSED
from offline.harness import StackRun
from offline.stacks import PROJECT_DIR, stack_names, stack_settings

COMMAND = "bin/offline bootstrap"
HELP = "rewrite bootstrap/declared.json (what each stack declares, for CI's roles) from the stacks (--check: report only)"
DECLARED = Path("bootstrap") / "declared.json"
#: Auto-named resources: CI's permissions are scoped to `<logical name>-*` (Pulumi's auto-name).
AUTO_NAMED = ("aws:iam/role:Role", "aws:s3/bucket:Bucket")
#: type -> the input whose values CI's permissions are conditioned on (the managed policies a role may be given).
CONDITIONED = {"aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn"}


def declared(project: Path = PROJECT_DIR, runs: dict[str, list[StackRun]] | None = None) -> list[dict[str, Any]]:
    """Every stack's declaration, over every state `pulumi up` may leave it in (a paused stack declares fewer types);
    from `runs` (stack -> its recorded runs of those states, e.g. the main job's) where given."""
    from offline.commands.run import states_from_now
    from offline.harness import run_stack

    found = []
    for stack in stack_names(project):
        settings = stack_settings(stack, project)
        resources: dict[str, set[str]] = {}
        recorded = (runs or {}).get(stack) or [run_stack(stack, project_dir=project, at=at) for _, at in states_from_now(settings)]
        for run in recorded:
            for resource in (r for r in run.resources if r.custom):  # not components
                named = resource.type in AUTO_NAMED and not resource.inputs.get("name")
                values = [resource.inputs[CONDITIONED[resource.type]]] if resource.type in CONDITIONED else []
                resources.setdefault(resource.type, set()).update([resource.name] if named else values)
        found.append(
            {
                "stack": stack,
                "environment": settings.name,
                "region": settings.region,
                "duty_cycle": settings.duty_cycle.enabled and not settings.serverless,
                "resources": {t: sorted(names) for t, names in sorted(resources.items())},
            }
        )
    return found


def rendered(project: Path = PROJECT_DIR, runs: dict[str, list[StackRun]] | None = None) -> str:
    return json.dumps(declared(project, runs), indent=2) + "\n"


def stale(project: Path, runs: dict[str, list[StackRun]] | None = None) -> list[str]:
    path = project / DECLARED
    return [] if path.exists() and path.read_text() == rendered(project, runs) else [str(DECLARED)]


def what(name: str) -> str:
    return f"Bootstrap: {name} does not follow the stacks (CI's roles would lack what they now declare); run `{COMMAND}`"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=HELP)
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale, without writing it")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    if args.check:
        found = stale(args.project)
        print("\n".join(what(name) for name in found) or f"{DECLARED} follows the stacks")
        return FAILED if found else PASSED
    (args.project / DECLARED).write_text(rendered(args.project))
    print(f"wrote {DECLARED}")
    return PASSED
