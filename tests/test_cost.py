"""The cost model on recorded stacks, and the budget policy through the real pack."""

from __future__ import annotations

import json

import pytest

from offline.commands.cost import render_estimate
from offline.gate import run_gate, stack_pack_config
from offline.harness import StackRun, run_stack
from offline.stacks import stack_settings
from policies.rules.library import cost_model
from policies.rules.library.cost_model import load_pricing
from tests.clikit import offline
from tests.stackkit import PRICED_REGION, RUNNING_AT, copy_project, in_priced_region, priced, set_region, with_setting

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
    text = render_estimate(estimate, "t")
    assert "INCOMPLETE: no price for regions" in text and "in policies/rules/data/pricing.json" in text


def test_an_unpriced_class_is_named_not_a_silent_zero():
    estimate = priced(run_stack("dev", config=in_priced_region("dev", "mwaa", "environmentClass", "mw1.xlarge")))
    assert estimate.missing == [
        f'regions["{PRICED_REGION}"].mwaa_environment_hour["mw1.xlarge"]',
        f'regions["{PRICED_REGION}"].mwaa_additional_instance_hour["mw1.xlarge"]',
    ]


def test_a_region_with_partial_prices_names_only_the_missing_figures(dev: StackRun):
    config = dict(dev.config) | {"aws:region": "ap-south-1"}
    resources = ((r.type, r.inputs) for r in run_stack("dev", config=config).resources)
    missing = cost_model.estimate(resources, load_pricing(team=None)).missing  # pricing.json's own, whatever a fork adds
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
        "[mandatory] estimated $433.07/month in us-east-1 exceeds the budget of $400.00 by $33.07; "
        "top items: MWAA mw1.small environment $357.70, NAT gateway hours $65.70, Public IPv4 addresses $7.30"
        " (the budget is monthly-cost-budget.monthlyBudgetUsd in the stack's pack config, policies/config/<stack>.json)"
    ]


@pytest.mark.reference
def test_the_budget_policy_only_warns_in_dev(dev: StackRun):
    (message,) = budget_violations(dev, 40)
    assert message.startswith("[advisory] estimated $56.80/month in us-east-1 exceeds the budget of $40.00")


@pytest.mark.reference
def test_the_budget_policy_decides_at_preview():
    assert budget_violations(run_stack("prod", preview=True), 400)[0].startswith("[mandatory] estimated $433.07/month")


def test_an_unpriceable_stack_fails_the_budget_closed(prod: StackRun):
    config = dict(prod.config) | {"aws:region": "eu-west-9"}
    (message,) = budget_violations(run_stack("prod", config=config))
    budget = stack_pack_config("prod")[0]["monthly-cost-budget"]["monthlyBudgetUsd"]  # shipped: $450
    assert message.startswith(
        f'[mandatory] can\'t judge the budget of ${budget:,.2f}: no price for regions["eu-west-9"].mwaa_environment_hour'
    )


# --- a team's own prices: policies/team-prices.json, merged over pricing.json by the pack and the offline tools -------


def team_prices(region: str, figures: dict | None = None) -> dict:
    """A team's file pricing `region` with every figure pricing.json has for PRICED_REGION (its own quote, say)."""
    table = figures if figures is not None else {key: _with_source(entry) for key, entry in PRICES.items()}
    return {"sources": {"quote": {"title": "our AWS quote", "as_of": "2026-12-01"}}, "regions": {region: table}}


def _with_source(entry: dict) -> dict:
    if "usd" in entry:
        return {"usd": entry["usd"], "source": "quote"}
    return {variant: {"usd": figure["usd"], "source": "quote"} for variant, figure in entry.items()}


def test_a_teams_prices_complete_a_region_for_the_cost_and_the_budget(tmp_path):
    project = copy_project(tmp_path)
    for stack in ("dev", "prod"):
        set_region(project, stack, "eu-west-1")
    (project / "policies" / "team-prices.json").write_text(json.dumps(team_prices("eu-west-1")))
    cost = offline("cost", "--project", str(project), "--at", RUNNING_AT.isoformat())
    assert cost.returncode == 0 and "INCOMPLETE" not in cost.stdout, cost.stdout[-3000:] + cost.stderr
    assert "estimated monthly cost in eu-west-1" in cost.stdout
    gate = offline("gate", "prod", "--project", str(project), "--json")  # the pack reads the same file: the budget is judged
    violations = json.loads(gate.stdout)["prod"]["states"]["running"]["policy"]["violations"]
    assert not [v for v in violations if v["policy"] == "monthly-cost-budget"], violations


def test_the_teams_figures_are_the_ones_priced(tmp_path):
    team = tmp_path / "team-prices.json"
    figures = {key: _with_source(entry) for key, entry in PRICES.items()}
    figures["mwaa_environment_hour"]["mw1.small"]["usd"] = 1.0  # a rate of the team's own, not pricing.json's
    team.write_text(json.dumps(team_prices("eu-west-1", figures)))
    config = in_priced_region("dev") | {"aws:region": "eu-west-1"}
    estimate = cost_model.estimate(((r.type, r.inputs) for r in run_stack("dev", config=config).resources), load_pricing(team=team))
    environment = next(item for item in estimate.items if item.name.startswith("MWAA mw1"))
    assert estimate.complete and environment.unit_usd == 1.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["regions"]["eu-west-1"]["nat_gateway_hour"].pop("source"), 'regions["eu-west-1"].nat_gateway_hour: needs source'),
        (lambda d: d["regions"]["eu-west-1"]["nat_gateway_hour"].update(usd=-1), 'regions["eu-west-1"].nat_gateway_hour: needs usd'),
        (lambda d: d["regions"]["eu-west-1"]["mwaa_environment_hour"]["mw1.small"].update(source="nowhere"),
         'regions["eu-west-1"].mwaa_environment_hour["mw1.small"]: needs source, the name of its entry in sources'),
        (lambda d: d["regions"]["eu-west-1"].update(nat_hour={"usd": 1, "source": "quote"}),
         'regions["eu-west-1"].nat_hour: unknown figure; pricing.json has'),
        (lambda d: d["sources"]["quote"].pop("as_of"), 'sources["quote"] needs a title and as_of (YYYY-MM-DD)'),
        (lambda d: d["sources"].update(mwaa={"title": "x", "as_of": "2026-01-01"}), 'sources["mwaa"]: pricing.json has a source'),
    ],
)  # fmt: skip
def test_a_bad_team_figure_is_named_with_the_fix(tmp_path, edit, message: str):
    document = team_prices("eu-west-1")
    edit(document)
    (team := tmp_path / "team-prices.json").write_text(json.dumps(document))
    with pytest.raises(cost_model.CostModelError) as caught:
        load_pricing(team=team)
    assert str(caught.value).startswith("policies/team-prices.json: ") and message in str(caught.value), str(caught.value)
    assert str(caught.value).endswith('(docs/cost.md, "Your own prices")')


def test_an_incomplete_total_reads_as_a_lower_bound():
    estimate = priced(run_stack("dev", config=in_priced_region("dev") | {"aws:region": "eu-west-9"}))
    text = render_estimate(estimate, "t")
    assert f"total: AT LEAST (a lower bound: {len(estimate.missing)} prices missing, below)" in text
    assert "add each, with its source, to policies/team-prices.json" in text


def test_extra_webservers_have_their_own_rate_where_sourced_and_say_so_where_not():
    config = in_priced_region("dev")
    config["mwaa-platform:mwaa"] = config["mwaa-platform:mwaa"] | {"minWebservers": 4, "maxWebservers": 4}
    webservers = lambda estimate: next(i for i in estimate.items if "webservers beyond" in i.name)  # noqa: E731
    cls = config["mwaa-platform:mwaa"].get("environmentClass", "mw1.small")
    here = priced(run_stack("dev", config=config))  # no source gives this region's webserver rate: the worker rate, flagged
    assert webservers(here).unit_usd == PRICES["mwaa_additional_instance_hour"][cls]["usd"] and "upper bound" in webservers(here).note
    assert "is an upper bound" in render_estimate(here, "t")
    tokyo = priced(run_stack("dev", config=config | {"aws:region": "ap-northeast-1"}))  # classmethod-tokyo prints it: about half
    tokyo_rates = load_pricing(team=None)["regions"]["ap-northeast-1"]
    assert webservers(tokyo).unit_usd == tokyo_rates["mwaa_additional_webserver_hour"][cls]["usd"] and webservers(tokyo).note == ""
    assert webservers(tokyo).unit_usd < tokyo_rates["mwaa_additional_instance_hour"][cls]["usd"]
