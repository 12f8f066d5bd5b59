"""Reading your fork's CI workflows as data, and the safety rules every job that touches AWS must keep.

`problems(workflows)` returns one line per broken rule; the tests run it on the real files (expecting none) and on
mutated copies (expecting the one line the mutation breaks), so each rule is shown able to fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from offline.stacks import PROJECT_DIR

WORKFLOWS_DIR = PROJECT_DIR / ".github" / "workflows"
PULUMI_ACTION = "pulumi/actions@"
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
#: The step every job that runs Pulumi starts with, so its preview and its `up` decide the duty cycle at one time.
PIN_DECISION_TIME = 'echo "DUTY_CYCLE_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$GITHUB_ENV"'
SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
#: The state backend and the secrets passphrase, chosen by the repository (docs/real-path.md, "State and secrets"):
#: unset, Pulumi Cloud and its own secrets; else e.g. s3://bucket and a passphrase or an awskms:// provider.
BACKEND, PASSPHRASE = "${{ vars.PULUMI_BACKEND_URL }}", "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def workflow(name: str, folder: Path = WORKFLOWS_DIR) -> dict:
    document = yaml.safe_load((folder / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def workflows(folder: Path = WORKFLOWS_DIR) -> dict[str, dict]:
    return {path.name: workflow(path.name, folder) for path in sorted(folder.glob("*.yml"))}


def cli_pin() -> str:
    """The `pulumi` SDK version requirements.txt pins: the CLI the workflows install must be the same release."""
    (version,) = re.findall(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), flags=re.M)
    return version


def pulumi_steps(job: dict) -> list[tuple[int, dict]]:
    """Every pulumi/actions step (one without a command only installs the CLI)."""
    return [(i, step["with"]) for i, step in enumerate(job["steps"]) if step.get("uses", "").startswith(PULUMI_ACTION)]


def _gate_problem(job: dict, index: int, up: dict) -> str | None:
    """An `up` must follow a preview of the same stack with the same pack and config, which can stop the job."""
    for i, preview in pulumi_steps(job):
        same_target = all(preview.get(k) == up.get(k) for k in ("stack-name", "policyPacks", "policyPackConfigs"))
        gate = job["steps"][i]
        same_condition = gate.get("if") == job["steps"][index].get("if")  # a gate skipped while its `up` runs is no gate
        if i < index and preview.get("command") == "preview" and same_target and same_condition and not gate.get("continue-on-error"):
            return None
    return f"`up` of {up.get('stack-name')} has no gated `pulumi preview` of that stack with the pack before it"


def job_problems(name: str, job: dict) -> list[str]:
    found = []
    steps = pulumi_steps(job)
    if steps:
        pins = [i for i, step in enumerate(job["steps"]) if step.get("run", "").strip() == PIN_DECISION_TIME]
        if not pins or pins[0] > steps[0][0]:
            found.append(f"{name}: DUTY_CYCLE_AT is not pinned before the first Pulumi step")
    for index, step in steps:
        if step.get("pulumi-version") != cli_pin():
            found.append(f"{name}: Pulumi CLI {step.get('pulumi-version')} is not the pulumi=={cli_pin()} of requirements.txt")
        command = step.get("command")
        if command and (step.get("policyPacks"), bool(step.get("policyPackConfigs"))) != ("policies", True):
            found.append(f"{name}: a `pulumi {command}` runs without the pack and its stack's config")
        if command == "up" and (problem := _gate_problem(job, index, step)):
            found.append(f"{name}: {problem}")
        if command and step.get("cloud-url") != BACKEND:
            found.append(f"{name}: a `pulumi {command}` ignores the backend the repository chooses (cloud-url: {BACKEND})")
        passphrase = {**job.get("env", {}), **job["steps"][index].get("env", {})}.get("PULUMI_CONFIG_PASSPHRASE")
        if command and passphrase != PASSPHRASE:
            found.append(f"{name}: a `pulumi {command}` can't decrypt a passphrase-protected stack (PULUMI_CONFIG_PASSPHRASE)")
    deploys = any(step.get("command") == "up" for _, step in steps)
    if deploys and not str(job.get("concurrency", {}).get("group", "")).startswith("pulumi-"):
        found.append(f"{name}: runs `pulumi up` outside the stack's concurrency group pulumi-<stack>")
    for step in job["steps"]:
        if not step.get("uses", "").startswith(CREDENTIALS_ACTION):
            continue
        session, timeout = int(step["with"].get("role-duration-seconds", 3600)), job.get("timeout-minutes", 360)
        if session < timeout * 60:
            found.append(f"{name}: the AWS session ({session} s) ends before the job's timeout ({timeout} min)")
        role = step["with"]["role-to-assume"]
        wanted = "AWS_DEPLOY_ROLE_ARN" if deploys else "AWS_PREVIEW_ROLE_ARN"
        if wanted not in role:
            found.append(f"{name}: assumes {role}; a job that {'deploys' if deploys else 'only previews'} uses {wanted}")
    for step in job["steps"]:
        uses = step.get("uses")
        if uses and not SHA_PINNED.match(uses):
            found.append(f"{name}: {uses} is not pinned to a commit SHA")
        if uses and uses.startswith("actions/checkout@") and step.get("with", {}).get("persist-credentials") is not False:
            found.append(f"{name}: checkout keeps the token for later steps (persist-credentials: false)")
    if "id-token" in job.get("permissions", {}) and not any(s.get("uses", "").startswith(CREDENTIALS_ACTION) for s in job["steps"]):
        found.append(f"{name}: id-token: write without an AWS login")
    return found


def problems(documents: dict[str, dict]) -> list[str]:
    """Every broken rule in the workflows: permissions per job, then each job's rules."""
    found = []
    for file, document in documents.items():
        if document.get("permissions") != {}:
            found.append(f"{file}: workflow-level permissions must be {{}}; grant them per job")
        for name, job in document["jobs"].items():
            found += [f"{file}: {problem}" for problem in job_problems(name, job)]
    return found
