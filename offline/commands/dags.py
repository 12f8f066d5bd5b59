"""`bin/offline dags`: the DAG folder MWAA would get, parsed by the stack's Airflow plus its requirements and fitted to
its windows; a serverless stack's definition as the service loads it, and every other DAG it doesn't run named."""

from __future__ import annotations

import yaml_workflows
from offline.airflow_env import stack_requirements
from offline.commands.run import Context, Prepared, now, timings
from offline.dags import DagCheck, check_dags, check_workflow, render_dag_check
from offline.report import counted

HELP = "the DAG folder MWAA would get, parsed by the stack's Airflow plus its requirements (and fitted to its windows)"
NEEDS = {"deployed", "dag_checks"}


def check(ctx: Context, stack: str, prepared: Prepared) -> DagCheck:
    """Started ahead for every stack (each its own local Airflow process), beside the other checks."""
    args, settings, run = ctx.args, prepared.settings, prepared.deployed
    if settings.serverless:
        return check_workflow(run, settings, args.at or now(), args.project)
    requirements = stack_requirements(settings, args.project)
    yaml_files = {dag_id: w.file for w in yaml_workflows.load(settings, args.project) for dag_id in w.document}
    return check_dags(run, settings.airflow_version, args.at or now(), cycle=prepared.cycle, settings=settings.duty_cycle,
                      requirements=requirements, yaml_files=yaml_files)  # fmt: skip


def report(ctx: Context, stack: str, prepared: Prepared) -> bool:
    with timings("waiting for the DAG checks"):
        dag_check = ctx.dag_checks[stack].result()
    problems = counted(len(dag_check.report["problems"]), "problem")
    ctx.row(stack, "", "DAGs", "PASS" if dag_check.passed else f"FAIL ({problems})")
    if named := [n["dag_id"] or n["file"] for n in dag_check.report.get("not_run", [])]:  # said, never dropped silently
        ctx.row(stack, "", "DAGs it doesn't run", f"{counted(len(named), 'DAG')} named above: {', '.join(named)}")
    ctx.entry(stack)["dags"] = dag_check.report
    ctx.say(render_dag_check(dag_check))
    return dag_check.passed
