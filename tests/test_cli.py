"""What a person reads: the plan tree once per stack with the other state as a diff, a summary table with a verdict,
`--help` describing every command, and placeholders labelled as such."""

from __future__ import annotations

import pytest

from offline.__main__ import COMMANDS
from offline.harness import run_stack
from offline.stacks import PROJECT_DIR
from tests.clikit import offline
from tests.stackkit import priced

AT_RUN = "2026-11-23T04:30Z"


def test_the_plan_shows_the_tree_once_and_the_paused_state_as_its_difference():
    done = offline("plan", "dev")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Outputs (from Pulumi's mocks: names are the program's, IDs, ARNs and URLs are placeholders):") == 1
    diff = done.stdout.split("the plan of running with these differences:", 1)[1].strip().splitlines()
    assert sorted(line.split()[1] for line in diff if line.strip().startswith("-")) == [
        "aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway", "aws:ec2/route:Route", "aws:ec2/route:Route", "aws:mwaa/environment:Environment"
    ]  # fmt: skip
    assert not [line for line in diff if line.strip().startswith(("+", "~"))]  # nothing kept changes


def test_a_run_of_several_checks_ends_with_one_summary_and_a_verdict():
    done = offline("gate")
    assert done.returncode == 0, done.stderr
    summary = done.stdout.split("\nSummary\n", 1)[1].splitlines()
    assert summary[-1] == "PASSED: all 4 checks"
    assert [line.split()[:3] for line in summary[1:-1]] == [
        ["dev", "running", "policy"],
        ["dev", "paused", "policy"],
        ["lite", "serverless", "policy"],
        ["prod", "running", "policy"],
    ]
    assert all(" PASS" in line for line in summary[1:-1])


def test_help_describes_every_command():
    done = offline("--help")
    assert done.returncode == 0
    for command, what in COMMANDS.items():
        assert f"  {command:<13} {what}" in done.stdout, command


@pytest.mark.reference
def test_the_cost_says_why_billed_hours_exceed_the_window_hours():
    done = offline("cost", "dev", "--at", AT_RUN)
    assert "billed 103.93 of 730 h/month: 92.34 h in its windows + 21.73 pauses x 32 min of state export and teardown" in done.stdout
    assert "billed 103.93 h with each pause's 32 min of state export and teardown" in offline("duty-cycle", "dev").stdout


def test_preview_works_for_every_command_that_takes_it():
    # A first preview knows no IDs, ARNs or version ids: the plan shows them as unknown, the DAGs are checked as `up`
    # would write them (their rendered config holds ARNs), the gate and the cost decide from literals.
    shown = {command: offline(command, "dev", "--preview", "--at", AT_RUN) for command in ("plan", "gate", "cost", "dags")}
    # A region pricing.json doesn't price yet is a failed cost check (every missing figure named), not a crash.
    cost = 0 if priced(run_stack("dev", preview=True)).complete else 1
    assert {command: done.returncode for command, done in shown.items()} == dict.fromkeys(shown, 0) | {"cost": cost}, shown
    assert "alert_topic_arn        (known after apply)" in shown["plan"].stdout


def test_the_offline_modules_import_in_one_direction():
    import ast

    imports: dict[str, set[str]] = {}
    for path in (PROJECT_DIR / "offline").rglob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("offline."):
                found.add(".".join(node.module.split(".")[1:3]))  # offline.airflow_side.compat -> airflow_side.compat
            elif isinstance(node, ast.ImportFrom) and node.module == "offline":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.Import):  # `import offline.x` (and `import offline.x as y`) counts too
                found |= {".".join(a.name.split(".")[1:3]) for a in node.names if a.name.startswith("offline.")}
        imports.setdefault(".".join(path.relative_to(PROJECT_DIR / "offline").with_suffix("").parts), set()).update(found)

    def reaches(start: str, target: str, seen: frozenset = frozenset()) -> bool:
        return any(d == target or (d not in seen and reaches(d, target, seen | {d})) for d in imports.get(start, ()))

    assert [module for module in imports if reaches(module, module)] == []


def test_every_command_module_is_in_the_table_with_one_scope():
    """A command is a module in offline/commands/ and a line in TABLE: nothing else lists it (help, parser, `all`)."""
    from offline import commands

    modules = {p.stem for p in (PROJECT_DIR / "offline" / "commands").glob("*.py")} - {"__init__", "run"}
    assert modules == set(commands.TABLE.values())
    for name in commands.TABLE:
        module = commands.module(name)
        # A stack check (report, report_state), a project command (main with stale) or a command of its own (main alone).
        scopes = [scope for scope in ("report", "report_state", "main") if hasattr(module, scope)]
        assert module.HELP and len(scopes) == 1, (name, scopes)
        assert hasattr(module, "NEEDS") != (scopes == ["main"]), name  # a stack check says what it needs prepared
