"""Deployment modes: which kinds of Airflow a stack may declare (prod: a provisioned environment only).

`mwaa.mode` in a stack file chooses between an MWAA environment and an MWAA Serverless workflow. The choice changes
what the pipeline runs on (Airflow 3.0.6, no UI, no requirements.txt), so the pack config decides which modes each
stack may use: an edit to prod's stack file can't move it to Serverless, nor a template declare one beside it.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ReportViolation, StackValidationArgs, StackValidationPolicy

from .library.graph import declared_environments, declared_workflows, guarded
from .mwaa import limit_lives_in

MODES = {"provisioned": "an MWAA environment", "serverless": "an MWAA Serverless workflow"}


@guarded
def _mode_allowed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    allowed = args.get_config()["allowedModes"]
    where = limit_lives_in("deployment-mode-allowed", "allowedModes")
    for mode, declared in (("provisioned", declared_environments), ("serverless", declared_workflows)):
        found, unreadable = declared(args.resources)
        if mode in allowed:
            continue
        for urn, reason in unreadable:  # fail closed: a template nobody can read may declare the forbidden kind
            report_violation(f"{reason}; it may declare {MODES[mode]}", urn)
        for item in found:
            report_violation(f"{item.label} is {MODES[mode]} (mode {mode}); this stack allows {', '.join(allowed)} {where}", item.urn)


mode_allowed = StackValidationPolicy(
    name="deployment-mode-allowed",
    description="A stack declares only the deployment modes its pack config allows (provisioned, serverless; prod: provisioned).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedModes": {"type": "array", "items": {"enum": list(MODES)}, "minItems": 1, "uniqueItems": True, "default": list(MODES)}
        }
    ),
    validate=_mode_allowed,
)

POLICIES = [mode_allowed]
