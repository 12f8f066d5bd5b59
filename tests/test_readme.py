"""The README stays true: its commands exist, its config table covers every key, its cost tables are the tool's."""

from __future__ import annotations

import os
import re

import pytest
from pydantic import BaseModel

from offline.__main__ import state_title
from offline.harness import PROJECT_DIR, StackRun, run_stack
from policies.rules.cost_model import render
from settings import Settings
from tests.stackkit import RUNNING_AT
from tests.test_cost import priced

README = (PROJECT_DIR / "README.md").read_text()


def test_the_two_commands_exist_and_ci_runs_the_test_command():
    assert "bin/offline   # the main job" in README and "bin/test      # the whole test suite" in README
    for command in ("bin/offline", "bin/test", "bin/setup", ".ci/run"):
        assert os.access(PROJECT_DIR / command, os.X_OK), command
    assert re.search(r"^bin/test$", (PROJECT_DIR / ".ci" / "run").read_text(), re.MULTILINE)


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        nested = field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) else None
        keys += setting_keys(nested, f"{key}.") if nested else [key]
    return keys


def test_every_setting_is_documented():
    documented = README.split("## Configuration", 1)[1].split("## Policy pack", 1)[0]
    missing = [key for key in setting_keys(Settings) if key not in ("stack", "region") and key.rsplit(".", 1)[-1] not in documented]
    assert missing == []


@pytest.mark.reference
def test_the_cost_tables_are_the_tools_output(dev: StackRun, prod: StackRun):
    lite = run_stack("lite")
    for run, state in ((dev, "running"), (prod, "running"), (lite, "serverless")):  # decided at RUNNING_AT, as the README's command says
        table = render(priced(run), state_title(run.stack, state, RUNNING_AT))
        assert table in README, (
            f"README's {run.stack} cost table is stale; paste `python -m offline cost --at {RUNNING_AT:%Y-%m-%dT%H:%MZ}`"
        )


#: An offline command as the README writes it: in a code block or inline, through bin/offline or python -m offline.
OFFLINE_COMMAND = re.compile(r"(?:bin/offline|python -m offline(?=[ `\n]))([^`\n#]*)")


def readme_offline_commands() -> list[list[str]]:
    commands = []
    for match in OFFLINE_COMMAND.finditer(README):
        words = match[1].replace("<stack>", "dev").replace("[dev|prod|lite]", "dev").split()
        if "|" in " ".join(words) or "..." in words:  # a synopsis such as plan|gate|cost, not a command line
            continue
        commands.append(words)
    return commands


def test_every_offline_command_in_the_readme_is_accepted():
    from offline.__main__ import parse

    commands = readme_offline_commands()
    assert ["pipeline", "dev", "--scenario", "missing-input"] in commands or any("--scenario" in c for c in commands)
    assert ["dev"] in commands  # `bin/offline dev`
    for words in commands:
        try:
            parse(words)
        except SystemExit:
            raise AssertionError(f"README command `python -m offline {' '.join(words)}` is rejected") from None


def readme_yaml_examples() -> list[dict]:
    """Every YAML example: fenced yaml blocks, and inline `windows: [...]` snippets, as mwaa-platform config."""
    import yaml

    examples = []
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        document = yaml.safe_load(block)
        examples.append(document.get("config", document))
    for snippet in re.findall(r"`(?:dutyCycle\.)?(windows: \[.*?\])`", README):
        examples.append({"mwaa-platform:dutyCycle": {"enabled": True, **yaml.safe_load(snippet)}})
    return examples


def test_every_yaml_example_in_the_readme_is_valid_config():
    import copy

    from offline.harness import stack_config
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
