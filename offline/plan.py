"""A `pulumi preview`-style tree of what a stack would create, from the mocked run."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from offline.harness import Recorded, StackRun, plain

#: Inputs worth showing next to a resource in the plan.
_HIGHLIGHTS = {
    "aws:mwaa/environment:Environment": ("name", "environmentClass", "airflowVersion", "schedulers", "minWorkers", "maxWorkers"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZoneId"),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("key",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:lambda/function:Function": ("name", "runtime"),
    "aws:glue/job:Job": ("name", "glueVersion", "maxCapacity"),
}


def _detail(resource: Recorded) -> str:
    shown = [f"{k}={resource.inputs[k]:g}" if isinstance(resource.inputs.get(k), float) else f"{k}={resource.inputs[k]}"
             for k in _HIGHLIGHTS.get(resource.type, ()) if k in resource.inputs]  # fmt: skip
    flags = [flag for flag, on in (("protect", resource.protect), ("retain", resource.retain_on_delete)) if on]
    return "  ".join(shown + flags)


def render_plan(run: StackRun, title: str | None = None) -> str:
    children: dict[str, list[Recorded]] = defaultdict(list)
    for resource in run.resources:
        children[resource.parent].append(resource)
    lines = [
        f"{title or f'Stack {run.stack}'}: {len(run.resources)} resources to create "
        f"({run.outputs.get('environment_name')}, {run.config.get('aws:region')})"
    ]

    def walk(parent: str, depth: int) -> None:
        # Registration order varies from run to run (outputs resolve concurrently): by type, then name, is stable.
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name)):
            lines.append(f"{'    ' * depth}+ {resource.type:<58} {resource.name:<34} {_detail(resource)}".rstrip())
            walk(resource.urn, depth + 1)

    walk(next(r.parent for r in run.resources if r.type == "pulumi:providers:aws"), 1)  # the stack is the provider's parent
    lines.append("Outputs (from Pulumi's mocks: names are the program's, IDs, ARNs and URLs are placeholders):")
    lines += [f"    {key:<22} {'(known after apply)' if value is None else value}" for key, value in run.outputs.items()]
    return "\n".join(lines)


def plan_as_json(run: StackRun) -> list[dict[str, Any]]:
    """Every resource `pulumi up` would create, as `plan --json` prints it: type, name, URN, parent, provider,
    dependencies and inputs (file assets by content digest), in the stable order the text tree uses."""
    fields = ("type", "name", "urn", "parent", "provider", "protect")
    ordered = sorted(run.resources, key=lambda r: (r.type, r.name))
    return [{f: getattr(r, f) for f in fields} | {"dependencies": sorted(r.dependencies), "inputs": plain(r.inputs)} for r in ordered]


def render_plan_diff(shown: StackRun, other: StackRun, title: str, shown_title: str) -> str:
    """`other` as the difference from the plan already shown: resources it removes (-) and adds (+), by type and name."""
    key = lambda r: (r.type, r.name)  # noqa: E731
    theirs, ours = {key(r): r for r in other.resources}, {key(r): r for r in shown.resources}
    removed = sorted(k for k in ours if k not in theirs)
    added = sorted(k for k in theirs if k not in ours)
    changed = sorted(k for k in ours.keys() & theirs.keys() if ours[k].wire != theirs[k].wire)  # as sent to the engine
    lines = [f"{title}: {len(other.resources)} resources, the plan of {shown_title} with these differences:"]
    lines += [f"    - {kind:<58} {name}" for kind, name in removed]
    lines += [f"    + {kind:<58} {name}" for kind, name in added]
    lines += [f"    ~ {kind:<58} {name} (inputs differ)" for kind, name in changed]
    if not (removed or added or changed):
        lines.append("    (none)")
    return "\n".join(lines)
