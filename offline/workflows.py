"""The parts of `.github/workflows/` and of docs/real-path.md that follow the stacks: the duty-cycle cron lines, the
drift check's hour (outside every window), the stack matrices, the regions; in the doc, the windows, the drift hour
and the `DUTY_CYCLE_AT` example (followed as written, a shipped value would deploy a fork's dev paused).

bin/offline workflows           # rewrite them from the Pulumi.<stack>.yaml files
bin/offline workflows --check   # exit 1, naming each stale file, when they differ (bin/offline runs this)

Each generated line carries a `# generated:` marker (in the doc, `<!-- generated: ... -->` around the text), so a
fork's own edits elsewhere in the files are kept. The deploy chain itself (dev, then prod after approval) is fixed.
Previews and drift checks cover the stacks CI deploys (`deployed`): a stack beyond dev and prod (lite) joins them once
it has a `deploy-<stack>` job of its own, or is duty-cycled (the scheduler deploys it).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from duty_cycle import RECHECK_MINUTES, DutyCycle, pipeline_run_minutes
from offline.exits import FAILED, PASSED, run_main
from offline.stacks import PROJECT_DIR, stack_names, stack_settings
from schedule import WEEK

COMMAND = "bin/offline workflows"  # as printed: runs from the project folder, venv or not
#: A week to look at (any week: the windows repeat weekly).
WEEK_OF = datetime(2026, 11, 23, tzinfo=UTC)
_MATRIX = re.compile(r"^(?P<indent>\s+)include: .*# generated: (?P<which>deployed stacks|duty-cycled stacks)$", re.M)
_DEPLOY_JOB = re.compile(r"^  deploy-(?P<stack>[\w-]+):$", re.M)
_REGION = re.compile(r"^(?P<indent>\s+)aws-region: \S+(?P<pad>\s+)# generated: region of (?P<stack>[\w-]+)$", re.M)
_DRIFT = re.compile(r'^(?P<indent>\s+)- cron: "[^"]*"(?P<pad>\s+)# generated: drift check.*$', re.M)
_SCHEDULE = re.compile(r"(?P<head>  schedule:  # generated: duty-cycle edges\n)(?P<lines>(?:    - cron: .*\n)*)")


#: The docs whose generated parts follow the stacks.
DOCS = ("docs/real-path.md",)
_GENERATED = re.compile(r"<!-- generated: (?P<what>[\w -]+) -->(?P<text>.*?)<!-- /generated -->", re.S)
_WINDOW = re.compile(r"^(?P<day>\w+) (?P<start>\S+) - (?P=day) (?P<end>\S+) UTC$")


@dataclass(frozen=True)
class StackFacts:
    name: str
    region: str
    cycle: DutyCycle
    #: The pipeline's first run in WEEK_OF: a time at which the stack's environment is up.
    first_run: datetime


def stack_facts(project: Path = PROJECT_DIR) -> list[StackFacts]:
    facts = []
    for stack in stack_names(project):
        settings = stack_settings(stack, project)
        first_run = WEEK_OF + timedelta(minutes=min(pipeline_run_minutes(settings.pipeline)))
        facts.append(StackFacts(stack, settings.region, DutyCycle.from_settings(settings), first_run))
    return facts


def _windows(cycle: DutyCycle) -> str:
    """The windows as a person reads them: 03:30-07:45 UTC on MON, TUE, WED (one span per time of day)."""
    spans: dict[str, list[str]] = {}
    for window in cycle.windows:
        match = _WINDOW.match(str(window))
        span, day = (f"{match['start']}-{match['end']} UTC", match["day"]) if match else (str(window), "")
        spans.setdefault(span, []).append(day)
    return "; ".join(f"{span} on {', '.join(days)}" if all(days) else span for span, days in spans.items())


def doc_parts(stacks: list[StackFacts]) -> dict[str, str]:
    """What each `<!-- generated: ... -->` span of the docs says, from the stacks."""
    cycled = [s for s in stacks if not s.cycle.always_on]
    first = cycled[0] if cycled else stacks[0]
    return {
        "duty-cycled windows": "; ".join(f"{s.name}: {_windows(s.cycle)}" for s in cycled) or "no stack is duty-cycled",
        "resume example": f"`DUTY_CYCLE_AT={first.first_run:%Y-%m-%dT%H:%MZ} pulumi up -s {first.name}`",
        "drift hour": f"{drift_hour(stacks):02d}:00 UTC",
    }


def render_doc(text: str, stacks: list[StackFacts]) -> str:
    """`text` with every generated span rewritten from `stacks` (an unknown span name is kept as it is)."""
    parts = doc_parts(stacks)
    return _GENERATED.sub(lambda m: f"<!-- generated: {m['what']} -->{parts.get(m['what'], m['text'])}<!-- /generated -->", text)


def _include(stacks: list[StackFacts]) -> str:
    return "[" + ", ".join(f"{{stack: {s.name}, region: {s.region}}}" for s in stacks) + "]"


def _cron_block(stacks: list[StackFacts]) -> str:
    lines = []
    for stack in stacks:
        starts = {w.start % WEEK for w in stack.cycle.windows}
        edges = {(e % 1440 // 60, e % 60): "resume" if e in starts else "pause" for e in stack.cycle.edges()}
        for line in stack.cycle.cron_lines():
            minute, hour = map(int, line.split()[:2])
            what = edges.get((hour, minute))
            if what is None:
                earlier = (hour * 60 + minute - RECHECK_MINUTES) % 1440
                what = f"{edges.get((earlier // 60, earlier % 60), 'edge')}, recheck {RECHECK_MINUTES} min later"
            lines.append(f'    - cron: "{line}"{" " * max(1, 22 - len(line))}# {stack.name}: {what}\n')
    return "".join(lines)


def drift_hour(stacks: list[StackFacts]) -> int:
    """The first whole hour from 12:00 UTC on when no stack is in a window, pausing or being rechecked on any day."""
    cycled = [(s.cycle, " ".join(s.cycle.cron_lines())) for s in stacks if not s.cycle.always_on]
    for hour in [*range(12, 24), *range(12)]:
        moments = [WEEK_OF + timedelta(days=day, hours=hour) for day in range(7)]
        busy = any(
            f"0 {hour} " in cron or cycle.running(at) or cycle.running(at - timedelta(minutes=30))
            for cycle, cron in cycled
            for at in moments
        )
        if not busy:
            return hour
    raise ValueError("every hour of the week has a duty-cycle window; the drift check has no settled time left")


def deployed(stacks: list[StackFacts], pulumi_workflow: str) -> list[StackFacts]:
    """The stacks CI creates: each with a `deploy-<stack>` job in pulumi.yml, and each duty-cycled one (duty-cycle.yml
    runs its `up`). Previews and drift checks cover these only: a stack nothing deploys doesn't exist in the backend, so
    its preview would fail on every pull request. A stack opts in with a deploy job of its own (docs/real-path.md)."""
    jobs = set(_DEPLOY_JOB.findall(pulumi_workflow))
    return [s for s in stacks if s.name in jobs or not s.cycle.always_on]


def render_workflow(name: str, text: str, stacks: list[StackFacts], pulumi_workflow: str = "") -> str:
    """`text` with every generated part rewritten from `stacks` (`pulumi_workflow`: pulumi.yml's text, its deploy jobs)."""
    cycled = [s for s in stacks if not s.cycle.always_on]
    by_name = {s.name: s for s in stacks}
    matrices = {"deployed stacks": deployed(stacks, pulumi_workflow or text), "duty-cycled stacks": cycled}
    text = _MATRIX.sub(lambda m: f"{m['indent']}include: {_include(matrices[m['which']])}  # generated: {m['which']}", text)
    text = _REGION.sub(
        lambda m: f"{m['indent']}aws-region: {by_name[m['stack']].region}{m['pad']}# generated: region of {m['stack']}", text
    )
    if name == "duty-cycle.yml":
        text = _SCHEDULE.sub(lambda m: m["head"] + _cron_block(cycled), text)
    hour = drift_hour(stacks)
    text = _DRIFT.sub(
        lambda m: f'{m["indent"]}- cron: "0 {hour} * * *"{m["pad"]}# generated: drift check, outside every duty-cycle window', text
    )
    return text


def _rendered(project: Path, stacks: list[StackFacts]) -> dict[Path, tuple[str, str]]:
    """path -> (its text, the text with its generated parts from `stacks`), for every file that follows the stacks."""
    found = {path: path.read_text() for path in sorted((project / ".github" / "workflows").glob("*.yml"))}
    pulumi_workflow = found.get(project / ".github" / "workflows" / "pulumi.yml", "")
    found |= {project / doc: (project / doc).read_text() for doc in DOCS if (project / doc).exists()}
    return {
        path: (text, render_doc(text, stacks) if path.suffix == ".md" else render_workflow(path.name, text, stacks, pulumi_workflow))
        for path, text in found.items()
    }


def stale(project: Path = PROJECT_DIR) -> list[str]:
    """Files (relative to the project) whose generated parts differ from what the stacks say."""
    return [path.relative_to(project).as_posix() for path, (text, new) in _rendered(project, stack_facts(project)).items() if text != new]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument("--project", type=Path, default=PROJECT_DIR)
    args = parser.parse_args(argv)
    if args.check:
        found = stale(args.project)
        for name in found:
            print(f"stale: {name} does not follow the stacks; run `{COMMAND}`")
        return FAILED if found else PASSED
    for path, (text, updated) in _rendered(args.project, stack_facts(args.project)).items():
        if updated != text:
            path.write_text(updated)
            print(f"rewrote {path.relative_to(args.project).as_posix()}")
    return PASSED


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
