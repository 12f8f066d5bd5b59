"""Cost: the stack's monthly estimate stays within its budget (advisory in dev, mandatory in prod)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ReportViolation, StackValidationArgs, StackValidationPolicy

from .library.cost_model import CostModelError, estimate, missing_prices
from .library.graph import guarded


@guarded
def _within_budget(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    budget, top = config["monthlyBudgetUsd"], int(config["topItems"])
    try:
        result = estimate((r.resource_type, r.props) for r in args.resources)
    except CostModelError as exc:  # fail closed: an unpriced stack is not a stack within budget
        report_violation(f"can't estimate the monthly cost: {exc}", None)
        return
    if not result.complete:  # fail closed: a lower bound can't show the stack is within budget
        report_violation(f"can't judge the budget of ${budget:,.2f}: {missing_prices(result)}", None)
        return
    if result.total > budget:
        items = ", ".join(f"{item.name} ${item.monthly_usd:,.2f}" for item in result.top(top))
        report_violation(
            f"estimated ${result.total:,.2f}/month in {result.region} exceeds the budget of ${budget:,.2f} "
            f"by ${result.total - budget:,.2f}; top items: {items} "
            "(the budget is monthly-cost-budget.monthlyBudgetUsd in the stack's pack config, policies/config/<stack>.json)",
            None,
        )


monthly_cost_budget = StackValidationPolicy(
    name="monthly-cost-budget",
    description="The stack's estimated monthly cost (rules/data/pricing.json, 730 h/month) stays within its budget.",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "monthlyBudgetUsd": {"type": "number", "default": 500, "exclusiveMinimum": 0},
            "topItems": {"type": "integer", "default": 3, "minimum": 1},
        }
    ),
    validate=_within_budget,
)

POLICIES = [monthly_cost_budget]
