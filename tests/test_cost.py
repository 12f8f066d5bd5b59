"""The cost model on recorded stacks, and the budget policy through the real pack."""

from __future__ import annotations

import pytest

from offline.gate import run_gate, stack_pack_config
from offline.harness import StackRun, run_stack, stack_settings
from policies.rules.cost_model import load_pricing, render
from tests.stackkit import PRICED_REGION, in_priced_region, priced, with_setting

PRICES = load_pricing()["regions"][PRICED_REGION]
HOURS = 730


@pytest.mark.reference
def test_the_reference_setup_costs_about_425_a_month(prod: StackRun):
    # prod is the reference: mw1.small, 2 schedulers, 2 webservers, max 10 workers, 2 NATs, us-east-1
    total = priced(prod).total
    assert abs(total - 425) / 425 < 0.02, total
    items = {i.name: i.monthly_usd for i in priced(prod).items}
    assert items["MWAA mw1.small environment"] == 357.70 and items["NAT gateway hours"] == 65.70


@pytest.mark.reference
def test_dev_is_cheaper_by_exactly_one_nat_gateway(dev: StackRun, prod: StackRun):
    assumptions = load_pricing()["assumptions"]
    one_nat = (
        HOURS * PRICES["nat_gateway_hour"]["usd"]
        + assumptions["nat_processed_gb_per_gateway"]["value"] * PRICES["nat_gateway_gb"]["usd"]
        + HOURS * PRICES["public_ipv4_hour"]["usd"]
    )
    kms_requests = assumptions["kms_requests_per_key_month"]["value"] / 10_000
    prods_key = PRICES["kms_key_month"]["usd"] + kms_requests * PRICES["kms_10k_requests"]["usd"]
    assert priced(prod).always_on_total - priced(dev).always_on_total == pytest.approx(one_nat + prods_key, abs=0.01)


@pytest.mark.parametrize(("key", "value", "extra_instances"), [("minWorkers", 3, 2), ("schedulers", 3, 1), ("minWebservers", 4, 2)])
def test_more_always_on_instances_cost_their_hourly_rate(key: str, value: int, extra_instances: int):
    config = in_priced_region("dev", "mwaa", key, value)
    if key == "minWebservers":
        config["mwaa-platform:mwaa"]["maxWebservers"] = value
    base = priced(run_stack("dev", config=in_priced_region("dev")))
    raised = priced(run_stack("dev", config=config)).always_on_total - base.always_on_total
    environment_class = stack_settings("dev").mwaa.environment_class
    rate = PRICES["mwaa_additional_instance_hour"][environment_class]["usd"]
    assert raised == pytest.approx(extra_instances * HOURS * rate, abs=0.01)


def test_glue_cost_follows_the_schedule_and_the_minimum_bill(dev: StackRun):
    weekly = run_stack("dev", config=with_setting("pipeline", "runDays", ["MON"]))
    glue = lambda run: next(i for i in priced(run).items if i.name.startswith("Glue job"))  # noqa: E731
    runs = stack_settings("dev").pipeline.runs_per_month  # 21.73 for the shipped weekdays
    assert glue(dev).quantity == pytest.approx(runs * 0.0625 * 2 / 60, abs=1e-4)  # 2 expected minutes
    assert glue(weekly).quantity == pytest.approx(4.35 * 0.0625 * 2 / 60, abs=1e-4)


def test_an_unknown_region_is_incomplete_and_names_every_missing_figure(dev: StackRun):
    config = dict(dev.config) | {"aws:region": "eu-west-9"}
    estimate = priced(run_stack("dev", config=config))
    assert not estimate.complete and estimate.total == 0
    assert estimate.missing[:3] == [
        'regions["eu-west-9"].mwaa_environment_hour["mw1.small"]',
        'regions["eu-west-9"].mwaa_additional_instance_hour["mw1.small"]',
        'regions["eu-west-9"].mwaa_metadata_gb_month',
    ]
    assert 'regions["eu-west-9"].nat_gateway_hour' in estimate.missing and len(estimate.missing) == len(set(estimate.missing))
    assert "INCOMPLETE: no price for regions" in render(estimate, "t") and "in policies/rules/pricing.json" in render(estimate, "t")


def test_an_unpriced_class_is_named_not_a_silent_zero():
    estimate = priced(run_stack("dev", config=in_priced_region("dev", "mwaa", "environmentClass", "mw1.xlarge")))
    assert estimate.missing == [
        f'regions["{PRICED_REGION}"].mwaa_environment_hour["mw1.xlarge"]',
        f'regions["{PRICED_REGION}"].mwaa_additional_instance_hour["mw1.xlarge"]',
    ]


def test_a_region_with_partial_prices_names_only_the_missing_figures(dev: StackRun):
    config = dict(dev.config) | {"aws:region": "ap-south-1"}
    missing = priced(run_stack("dev", config=config)).missing
    assert 'regions["ap-south-1"].mwaa_environment_hour["mw1.small"]' in missing
    assert not [m for m in missing if "nat_gateway_hour" in m or "public_ipv4_hour" in m]  # those are priced


def budget_violations(run: StackRun, budget: float | None = None) -> list[str]:
    config, source = stack_pack_config(run.stack)
    if budget is not None:
        config = config | {"monthly-cost-budget": config["monthly-cost-budget"] | {"monthlyBudgetUsd": budget}}
    return [f"[{v.level}] {v.message}" for v in run_gate(run, config, source).violations if v.policy == "monthly-cost-budget"]


@pytest.mark.reference
def test_the_budget_policy_blocks_prod_over_budget(prod: StackRun):
    assert budget_violations(prod) == []  # $450 budget
    assert budget_violations(prod, 400) == [
        "[mandatory] estimated $432.97/month in us-east-1 exceeds the budget of $400.00 by $32.97; "
        "top items: MWAA mw1.small environment $357.70, NAT gateway hours $65.70, Public IPv4 addresses $7.30"
        " (the budget is monthly-cost-budget.monthlyBudgetUsd in the stack's pack config, policies/config/<stack>.json)"
    ]


@pytest.mark.reference
def test_the_budget_policy_only_warns_in_dev(dev: StackRun):
    (message,) = budget_violations(dev, 40)
    assert message.startswith("[advisory] estimated $56.30/month in us-east-1 exceeds the budget of $40.00")


@pytest.mark.reference
def test_the_budget_policy_decides_at_preview():
    assert budget_violations(run_stack("prod", preview=True), 400)[0].startswith("[mandatory] estimated $432.97/month")


def test_an_unpriceable_stack_fails_the_budget_closed(prod: StackRun):
    config = dict(prod.config) | {"aws:region": "eu-west-9"}
    (message,) = budget_violations(run_stack("prod", config=config))
    budget = stack_pack_config("prod")[0]["monthly-cost-budget"]["monthlyBudgetUsd"]  # shipped: $450
    assert message.startswith(
        f'[mandatory] can\'t judge the budget of ${budget:,.2f}: no price for regions["eu-west-9"].mwaa_environment_hour'
    )
