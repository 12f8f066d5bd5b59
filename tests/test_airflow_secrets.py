"""Connections and Variables from Secrets Manager, declared by name (mwaa.connections, mwaa.variables): what survives
every pause without an export, since the environment reads it from outside its metadata database."""

from __future__ import annotations

import json

import pytest

from components.airflow_secrets import BACKEND
from names import secret_prefixes
from offline.harness import ACCOUNT_ID, run_stack
from offline.stacks import stack_settings
from policies.rules.library.cost_model import estimate
from tests.stackkit import with_setting


@pytest.fixture(scope="module")
def declared():
    config = with_setting("mwaa", "connections", ["partner_api", "warehouse"])
    config["mwaa-platform:mwaa"]["variables"] = ["orders_threshold"]
    config["mwaa-platform:dutyCycle"] = {**config.get("mwaa-platform:dutyCycle", {}), "forceRunning": True}
    return run_stack("dev", config=config)


def test_each_declared_name_is_a_secret_without_a_value_under_the_stack_s_prefix(declared):
    env = stack_settings("dev").name
    prefixes = secret_prefixes(env)
    secrets = {s.inputs["name"] for s in declared.of_type("aws:secretsmanager/secret:Secret")}
    assert secrets == {
        f"{prefixes['connections']}/partner_api",
        f"{prefixes['connections']}/warehouse",
        f"{prefixes['variables']}/orders_threshold",
    }
    assert not declared.of_type("aws:secretsmanager/secretVersion:SecretVersion")  # values are set outside git and the state
    assert all(s.parent.endswith("mwaa:airflow:AirflowSecrets::secrets") for s in declared.of_type("aws:secretsmanager/secret:Secret"))


def test_the_environment_reads_them_through_the_secrets_manager_backend(declared):
    options = declared.one("aws:mwaa/environment:Environment").inputs["airflowConfigurationOptions"]
    prefixes = secret_prefixes(stack_settings("dev").name)
    assert options["secrets.backend"] == BACKEND
    assert json.loads(options["secrets.backend_kwargs"]) == {
        "connections_prefix": prefixes["connections"],
        "variables_prefix": prefixes["variables"],
    }


def test_the_execution_role_reads_its_own_prefixes_only(declared):
    policy = json.loads(declared.by_name("airflow-execution-policy").inputs["policy"])
    (read,) = [s for s in policy["Statement"] if s.get("Sid") == "ReadOwnSecrets"]
    dev = stack_settings("dev")
    arn = f"arn:aws:secretsmanager:{dev.region}:{ACCOUNT_ID}:secret:airflow/{dev.name}"
    assert sorted(read["Resource"]) == [f"{arn}/connections/*", f"{arn}/variables/*"]
    assert "secretsmanager:GetSecretValue" in read["Action"] and not any("*" in action for action in read["Action"])


def test_a_stack_that_declares_none_has_no_backend_and_no_secret_permissions():
    dev = run_stack("dev", config=with_setting("dutyCycle", "forceRunning", True))
    assert not dev.of_type("aws:secretsmanager/secret:Secret")
    assert not any(
        key.startswith("secrets.") for key in dev.one("aws:mwaa/environment:Environment").inputs.get("airflowConfigurationOptions", {})
    )
    assert "secretsmanager" not in dev.by_name("airflow-execution-policy").inputs["policy"]


def test_each_secret_is_priced(declared):
    items = {item.name: item for item in estimate([(r.type, r.inputs) for r in declared.resources]).items}
    assert items["Secrets Manager secrets"].quantity == 3 and items["Secrets Manager secrets"].monthly_usd == pytest.approx(1.20)
