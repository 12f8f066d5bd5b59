"""The offline CLI's commands: one module each in this folder, listed once in TABLE.

A command module has `HELP` and one of three scopes:
- `report(ctx, stack) -> bool`: a check of one stack (duty cycle, DAGs, requirements, the pipeline run);
- `report_state(ctx, stack, index, state, at, run) -> bool`: a check of one stack in one duty-cycle state (plan,
  gate, cost), shown for each state `pulumi up` may produce;
- `main(argv) -> int` with `stale(project, runs) -> list[str]`: a whole-project command that rewrites generated files
  (workflows, docs, bootstrap); the main job only reports them stale, passing the runs it recorded of every state
  (`Context.runs_of_every_state`, or None), so a check that follows the programs needn't run them again;
- `main(argv) -> int` alone: a command of its own that `all` doesn't run (ui: a local Airflow until Ctrl-C).
It may also have `add_options(parser)` for options of its own, and `NEEDS`, what the runner prepares for it (see
offline/commands/run.py). `bin/offline` with no command (`all`) runs every stack and state check in TABLE's order,
then the project checks. Adding a command is adding its module here and one line to TABLE.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: name -> module in this folder, in the order `all` runs them (the stack checks, the state checks, the project ones).
TABLE = {
    "duty-cycle": "duty_cycle",
    "dags": "dags",
    "requirements": "requirements",
    "plan": "plan",
    "gate": "gate",
    "cost": "cost",
    "pipeline": "pipeline",
    "workflows": "workflows",
    "docs": "docs",
    "bootstrap": "bootstrap",
    "ui": "ui",
}
ALL_HELP = "everything below, per stack (the default; `bin/offline` runs it)"


def module(name: str) -> ModuleType:
    return importlib.import_module(f"offline.commands.{TABLE[name]}")


def helps() -> dict[str, str]:
    """Each command and what it does, `all` first (`--help` lists them)."""
    return {"all": ALL_HELP} | {name: module(name).HELP for name in TABLE}
