"""`bin/offline requirements`: each stack's requirements.txt resolved as MWAA would, for MWAA's platform."""

from __future__ import annotations

from dataclasses import asdict

from offline.commands.run import Context, Prepared, timings
from offline.report import counted
from offline.requirements_check import check_requirements, render_requirements_check

HELP = "requirements.txt resolved as MWAA would, for MWAA's platform (needs PyPI)"
NEEDS: set[str] = set()


def report(ctx: Context, stack: str, prepared: Prepared) -> bool:
    if prepared.settings.serverless:
        ctx.entry(stack)["requirements"] = "none: an MWAA Serverless workflow runs the service's own operators, no requirements.txt"
        ctx.say(f"Requirements of stack {stack}: {ctx.entry(stack)['requirements']}")
        return True
    with timings("requirements (pip, PyPI)"):
        found = check_requirements(prepared.settings, ctx.args.project, use_cache=not ctx.args.no_cache)
    ctx.row(stack, "", "requirements", "PASS" if found.passed else f"FAIL ({counted(len(found.problems), 'problem')})")
    ctx.entry(stack)["requirements"] = asdict(found) | {"passed": found.passed}
    ctx.say(render_requirements_check(found))
    return found.passed
