"""The README and docs/ stay true: the commands exist, the settings table is the model's, the cost tables are the tool's,
every command and YAML example is accepted."""

from __future__ import annotations

import os
import re

import pytest

from offline.commands.cost import render_estimate
from offline.commands.run import state_title
from offline.harness import StackRun, run_stack
from offline.stacks import PROJECT_DIR
from tests.stackkit import RUNNING_AT, priced

README = (PROJECT_DIR / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((PROJECT_DIR / "docs").glob("*.md"))}
#: The front door and the reference material together: what the text tests below check.
TEXT = "\n".join([README, *DOCS.values()])


def test_the_two_commands_exist_and_ci_runs_the_test_command():
    assert "bin/offline   # the main job" in README and "bin/test      # the whole test suite" in README
    for command in ("bin/offline", "bin/test", "bin/setup", ".ci/run"):
        assert os.access(PROJECT_DIR / command, os.X_OK), command
    assert re.search(r"^bin/test$", (PROJECT_DIR / ".ci" / "run").read_text(), re.MULTILINE)


def test_the_settings_table_is_the_models_and_covers_every_key():
    from offline.docs import rendered, rows

    assert rendered(DOCS["configuration.md"]) == DOCS["configuration.md"], "stale: run `bin/offline docs`"
    keys = [key for key, _, description in rows()]
    assert "mwaa.mode" in keys and "pipeline.glue.expectedRunMinutes" in keys and "aws:region" in keys
    assert not [key for key, _, description in rows() if not description], "a setting without a docstring in settings.py"


def test_a_changed_description_makes_the_table_stale():
    from offline.docs import rendered

    assert rendered(DOCS["configuration.md"].replace("the validate-input function's memory", "memory")) == DOCS["configuration.md"]
    assert rendered(DOCS["configuration.md"].replace("| `mwaa.mode` |", "| `mwaa.modes` |")) != DOCS["configuration.md"].replace(
        "| `mwaa.mode` |", "| `mwaa.modes` |"
    )


def test_the_readme_links_the_reference_and_every_link_resolves():
    for name in DOCS:
        assert f"docs/{name}" in README, f"README doesn't link docs/{name}"
    for source, text in [("README.md", README), *((f"docs/{n}", t) for n, t in DOCS.items())]:
        base = PROJECT_DIR if source == "README.md" else PROJECT_DIR / "docs"
        for target in re.findall(r"\]\(((?:\.\./)?[\w./-]+\.md)(?:#[\w-]+)?\)", text):
            assert (base / target).exists(), f"{source} links {target}, which doesn't exist"


@pytest.mark.reference
def test_the_cost_tables_are_the_tools_output(dev: StackRun, prod: StackRun):
    lite = run_stack("lite")
    for run, state in ((dev, "running"), (prod, "running"), (lite, "serverless")):  # decided at RUNNING_AT, as the README's command says
        table = render_estimate(priced(run), state_title(run.stack, state, RUNNING_AT))
        assert table in TEXT, f"the {run.stack} cost table in docs/ is stale; paste `bin/offline cost --at {RUNNING_AT:%Y-%m-%dT%H:%MZ}`"


#: An offline command as the README writes it: in a code block or inline, through bin/offline or python -m offline.
OFFLINE_COMMAND = re.compile(r"(?:bin/offline|python -m offline(?=[ `\n]))([^`\n#]*)")


def readme_offline_commands() -> list[list[str]]:
    commands = []
    for match in OFFLINE_COMMAND.finditer(TEXT):
        words = match[1].replace("<stack>", "dev").replace("[dev|prod|lite]", "dev").split()
        if "|" in " ".join(words) or "..." in words:  # a synopsis such as plan|gate|cost, not a command line
            continue
        commands.append(words)
    return commands


def test_every_offline_command_in_the_readme_is_accepted():
    from offline import commands as table
    from offline.__main__ import parse

    commands = readme_offline_commands()
    assert ["ui"] in commands
    assert ["pipeline", "dev", "--scenario", "missing-input"] in commands or any("--scenario" in c for c in commands)
    assert ["dev"] in commands  # `bin/offline dev`
    for words in commands:
        own = table.module(words[0]) if words and words[0] in table.TABLE else None
        try:
            own.parser().parse_args(words[1:]) if hasattr(own, "parser") else parse(words)  # a command with its own parser
        except SystemExit:
            raise AssertionError(f"README command `bin/offline {' '.join(words)}` is rejected") from None


def readme_yaml_examples() -> list[dict]:
    """Every YAML example: fenced yaml blocks, and inline `windows: [...]` snippets, as mwaa-platform config."""
    import yaml

    examples = []
    for block in re.findall(r"```yaml\n(.*?)```", TEXT, re.S):
        document = yaml.safe_load(block)
        examples.append(document.get("config", document))
    for snippet in re.findall(r"`(?:dutyCycle\.)?(windows: \[.*?\])`", TEXT):
        examples.append({"mwaa-platform:dutyCycle": {"enabled": True, **yaml.safe_load(snippet)}})
    return examples


def test_every_yaml_example_in_the_readme_is_valid_config():
    import copy

    from offline.stacks import stack_config
    from settings import load_settings

    examples = readme_yaml_examples()
    assert len(examples) >= 5, examples  # the project file, plugins, and the windows examples
    for example in examples:
        config = copy.deepcopy(stack_config("dev"))
        for key, value in example.items():
            key = key if ":" in key else f"mwaa-platform:{key}"
            value = value.get("value", value) if isinstance(value, dict) and "value" in value else value
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
        load_settings("dev", config.get)  # raises ConfigError naming the key when an example is wrong
