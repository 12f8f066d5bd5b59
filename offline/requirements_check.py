"""Resolve a stack's requirements.txt the way MWAA would, before a 20-minute environment update finds out.

MWAA installs the workers' requirements on top of its image with the file's `--constraint` line, and refuses to
change its essential pins. This resolves the same set without installing anything: `apache-airflow==<version>` plus
every requirement line, against that version's vendored constraints and MWAA's essential constraints, for MWAA's
platform (CPython 3.12, manylinux x86_64, wheels only), with `pip install --dry-run --report`. A line that conflicts
with a constraint, overrides an essential pin, has no wheel for that platform or doesn't exist fails with the line
named. It needs PyPI (the package index MWAA uses by default), not the constraint URL: the file is vendored.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from offline import cache
from offline.airflow_env import MATRIX, constraint_files, pins, requirement_file_lines
from settings import Settings

#: MWAA's images run Amazon Linux 2023 (glibc 2.34) on x86_64: every manylinux tag up to that, and pure wheels.
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(34, 16, -1)] + ["manylinux2014_x86_64", "manylinux1_x86_64"]


@dataclass
class RequirementsCheck:
    stack: str
    file: str
    airflow_version: str
    python_version: str
    problems: list[str] = field(default_factory=list)
    #: What MWAA would install for each requirement line (name -> version), when it resolves.
    resolved: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems


def check_requirements(settings: Settings, project_dir: Path, use_cache: bool = True) -> RequirementsCheck:
    version = settings.mwaa.airflow_version
    path = project_dir / settings.dag_bucket.requirements_file
    python = MATRIX["versions"][version]["python"]
    result = RequirementsCheck(settings.stack, settings.dag_bucket.requirements_file, version, python)
    airflow_pins, essential_pins = (pins(f) for f in constraint_files(version))
    requirements: list[tuple[int, Requirement]] = []
    for number, line in requirement_file_lines(path):
        where = f"{result.file}:{number}"
        if line.startswith("-"):
            if not line.startswith("--constraint"):  # the constraint line itself is checked by the program's settings
                result.problems.append(f"{where}: option {line.split()[0]} can't be checked here (only --constraint is); remove it")
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            result.problems.append(f"{where}: {line!r} is not a requirement ({exc})")
            continue
        requirements.append((number, requirement))
        name = canonicalize_name(requirement.name)
        for pinned, what in ((essential_pins, "MWAA's essential pin"), (airflow_pins, f"Airflow {version}'s constraint")):
            if name in pinned and not requirement.specifier.contains(pinned[name], prereleases=True):
                result.problems.append(
                    f"{where}: {line} conflicts with {what} {requirement.name}=={pinned[name]}"
                    + (", which MWAA does not let requirements override" if pinned is essential_pins else "")
                    + f"; drop the version and let the constraints pick it (or use {pinned[name]})"
                )
                break
    if result.problems:
        return result
    _resolve(result, requirements, python, use_cache)
    return result


def _pip_dry_run(requirement_lines: list[str], version: str, python: str, *options: str) -> tuple[bool, dict | str]:
    """(True, pip's install report) or (False, pip's errors) for installing these lines on MWAA's platform."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements_file = Path(tmp) / "requirements.txt"
        requirements_file.write_text("\n".join(requirement_lines) + "\n")
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
            "--report", str(report), "--target", str(Path(tmp) / "target"), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", ".".join(python.split(".")[:2]), *(arg for p in PLATFORMS for arg in ("--platform", p)),
            *options, "-r", str(requirements_file), *(arg for f in constraint_files(version) for arg in ("-c", str(f))),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            return True, json.loads(report.read_text())
    return False, "\n".join(line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING: Location"))


@functools.cache
def _resolution(
    requirement_lines: tuple[str, ...], version: str, python: str, use_cache: bool = True
) -> tuple[dict[str, str], tuple[str, ...]]:
    """({name: version} for the lines, ()) or ({}, problems as (line index, reason) strings). Cached: stacks share files,
    and a resolution is kept on disk for the day (offline/cache.py): PyPI may publish a release tomorrow."""
    key = cache.digest("requirements", lines=requirement_lines, version=version, python=python, day=datetime.now(UTC).date())
    resolve = functools.partial(_resolve_with_pip, requirement_lines, version, python)
    (resolved, problems), _ = cache.remembered("requirements", key, resolve, use_cache)
    return resolved, tuple(problems)


def _resolve_with_pip(requirement_lines: tuple[str, ...], version: str, python: str) -> tuple[dict[str, str], tuple[str, ...]]:
    ok, outcome = _pip_dry_run([f"apache-airflow=={version}", *requirement_lines], version, python)
    if ok:
        installed = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in outcome["install"]}
        return {line: installed[canonicalize_name(Requirement(line).name)] for line in requirement_lines}, ()
    # Which line can't be had at all? Each alone, without its dependencies, on the same platform and constraints.
    unavailable = tuple(
        f"{index}\t{_why_unavailable(line, version, python)}"
        for index, line in enumerate(requirement_lines)
        if not _pip_dry_run([line], version, python, "--no-deps")[0]
    )
    if unavailable:
        return {}, unavailable
    conflict = [line.removeprefix("ERROR: ").strip() for line in outcome.splitlines() if "ResolutionImpossible" not in line]
    return {}, ("-1\tpip can't resolve them together with MWAA's constraints:\n        " + "\n        ".join(conflict[-12:]),)


def _resolve(result: RequirementsCheck, requirements: list[tuple[int, Requirement]], python: str, use_cache: bool) -> None:
    resolved, problems = _resolution(tuple(str(r) for _, r in requirements), result.airflow_version, python, use_cache)
    result.resolved = {Requirement(line).name: version for line, version in resolved.items()}
    for problem in problems:
        index, reason = problem.split("\t", 1)
        where = f"{result.file}:{requirements[int(index)][0]}: {requirements[int(index)][1]}" if int(index) >= 0 else result.file
        result.problems.append(f"{where}: {reason}")


def _why_unavailable(line: str, version: str, python: str) -> str:
    """Not on PyPI at all, or no wheel for MWAA's platform for the version the line and the constraints allow."""
    name = Requirement(line).name
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name, "--disable-pip-version-check"], capture_output=True, text=True
    )
    if listing.returncode != 0:
        return f"no package {name} on PyPI; check the name"
    pinned = pins(constraint_files(version)[0]).get(canonicalize_name(name))
    allowed = f"{name}=={pinned} (pinned by Airflow {version}'s constraints)" if pinned else line
    return (
        f"no wheel of {allowed} for MWAA's platform (CPython {python[:4]}, manylinux x86_64), so every worker would "
        f"build it from source at start-up, which fails for compiled code; pick a version that ships a wheel"
    )


def render_requirements_check(check: RequirementsCheck) -> str:
    lines = [
        f"Requirements {check.file} of stack {check.stack}, as MWAA's Airflow {check.airflow_version} "
        f"(Python {check.python_version}) resolves them:"
    ]
    lines += [f"    {name:<40} {version}" for name, version in check.resolved.items()]
    lines += [f"    problem: {problem}" for problem in check.problems]
    lines.append(f"{check.stack}: requirements {'PASSED' if check.passed else 'FAILED'}")
    return "\n".join(lines)
