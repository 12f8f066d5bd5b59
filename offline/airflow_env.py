"""The local Airflow, per supported version: exactly MWAA's package set, in its own environment.

MWAA builds each image from two files (vendored in mwaa-images/<version>/): the Airflow release's constraints and
MWAA's essential pins. `.venv-airflow/<version>` installs `apache-airflow==<version>` and requirements-airflow.txt
with both as constraints, on Python 3.12 (MWAA's) when the machine has it. The toolchain in .venv (pulumi, the
policy pack, moto) pins several of the same packages differently (packaging, protobuf, pydantic), so the two never
share an interpreter: the toolchain starts `offline.airflow_side.*` in the Airflow environment and exchanges JSON.

A stack's DAGs are parsed with the stack's requirements.txt installed as well, as MWAA installs it before parsing:
`with_requirements` layers those packages over the version's environment in `.venv-airflow/<version>+<hash>` (a
venv that sees the base environment's packages through a .pth file), keyed by the file's content, so each change
is installed once.

python -m offline.airflow_env setup [version ...]     # create or refresh the environments (default: every version)
python -m offline.airflow_env pytest <version> [args]  # run pytest in that version's environment
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from offline.exits import InputError, check_child, run_main
from settings import AIRFLOW_VERSIONS as MATRIX

PROJECT_DIR = Path(__file__).resolve().parent.parent
IMAGES = PROJECT_DIR / "mwaa-images"
VENVS = PROJECT_DIR / ".venv-airflow"
REQUIREMENTS = PROJECT_DIR / "requirements-airflow.txt"


class AirflowEnvError(InputError):
    """The local Airflow for a version can't be set up; the message says why and what to do."""


def versions() -> list[str]:
    return list(MATRIX["versions"])


def default_version() -> str:
    return MATRIX["default"]


def constraint_files(version: str) -> tuple[Path, Path]:
    """(Airflow's constraints, MWAA's essential constraints) for `version`, as MWAA's image uses them."""
    if version not in MATRIX["versions"]:
        raise AirflowEnvError(f"Airflow {version} is not supported here; supported: {', '.join(versions())}")
    return IMAGES / version / "airflow_constraints.txt", IMAGES / version / "mwaa_essential_constraints.txt"


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version of a constraints file (canonical names)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return found


def find_python(version: str) -> str:
    """The interpreter for `version`'s environment: MWAA's Python minor (3.12) if the machine has one.

    Looks at $AIRFLOW_PYTHON, then python3.12 on PATH, then pyenv's versions; falls back to this Python with a note.
    """
    minor = ".".join(MATRIX["versions"][version]["python"].split(".")[:2])
    candidates = [os.environ.get("AIRFLOW_PYTHON"), shutil.which(f"python{minor}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{minor}.*/bin/python{minor}"))
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "--version"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.split()[-1].startswith(f"{minor}."):
            return candidate
    print(f"note: no Python {minor} found (MWAA runs {minor}); Airflow {version} runs on {sys.version.split()[0]}", file=sys.stderr)
    return sys.executable


def _requirements(version: str, folder: Path) -> Path:
    """requirements-airflow.txt with each of our pins dropped where MWAA's constraints already pin the package."""
    pinned = pins(constraint_files(version)[0])
    lines = [f"apache-airflow=={version}"]
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            lines.append(requirement.name if canonicalize_name(requirement.name) in pinned else line)
    path = folder / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def ensure(version: str) -> Path:
    """The Python of `version`'s environment, created or refreshed when its inputs changed."""
    files = constraint_files(version)
    venv = VENVS / version
    python = find_python(version)
    stamp = hashlib.sha256(b"".join(p.read_bytes() for p in (*files, REQUIREMENTS)) + python.encode()).hexdigest()[:16]
    stamp_file = venv / ".stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return venv / "bin" / "python"
    print(f"setting up {venv.relative_to(PROJECT_DIR)} (Airflow {version}, MWAA's constraints; about a minute)", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        steps = [
            [python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(_requirements(version, Path(tmp))), *(arg for f in files for arg in ("-c", str(f)))],
        ]  # fmt: skip
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
                raise AirflowEnvError(f"setting up Airflow {version} failed: {' '.join(step[:4])} ...\n{errors[-3000:]}")
    stamp_file.write_text(stamp)
    return venv / "bin" / "python"


def with_requirements(version: str, requirements_file: Path | None) -> Path:
    """The Python of `version`'s environment plus the packages of a stack's requirements file (the base when none)."""
    base = ensure(version)
    lines = [line for _, line in requirement_file_lines(requirements_file) if not line.startswith("-")] if requirements_file else []
    if not lines:
        return base
    files = constraint_files(version)
    digest = hashlib.sha256("\n".join([(VENVS / version / ".stamp").read_text(), *lines]).encode()).hexdigest()[:12]
    venv = VENVS / f"{version}+{digest}"
    python = venv / "bin" / "python"
    if (venv / ".stamp").exists():
        return python
    print(f"installing {requirements_file.name} over Airflow {version} ({venv.name}; once per change of the file)", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([find_python(version), "-m", "venv", str(venv)], check=True, capture_output=True)
        base_site = next((VENVS / version / "lib").glob("python3*/site-packages"))
        next((venv / "lib").glob("python3*/site-packages")).joinpath("mwaa_base.pth").write_text(f"{base_site}\n")
        wanted = Path(tmp) / "requirements.txt"
        wanted.write_text("\n".join(lines) + "\n")
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(wanted),
                   *(arg for f in files for arg in ("-c", str(f)))]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location"))
        raise AirflowEnvError(
            f"installing {requirements_file} over Airflow {version} failed (run `python -m offline requirements`):\n{errors[-3000:]}"
        )
    (venv / ".stamp").write_text(digest)
    return python


def requirement_file_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line) of a requirements file without comments and blank lines (options such as --constraint kept)."""
    numbered = [(n, line.split(" #", 1)[0].strip()) for n, line in enumerate(path.read_text().splitlines(), start=1)]
    return [(n, line) for n, line in numbered if line and not line.startswith("#")]


def airflow_environ(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an Airflow-side process: its own home and SQLite DB, examples off, this project importable."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "DO_NOT_TRACK": "1",  # dag-factory's usage telemetry (a serverless definition's loader)
        **(extra or {}),
    }


def run(
    version: str, module: str, args: list[str], home: Path, stdin: str | None = None, requirements: Path | None = None, **environ: str
) -> dict | list:
    """Run `python -m <module> <args>` in `version`'s environment (plus `requirements`); returns the JSON it prints."""
    python = with_requirements(version, requirements)
    done = subprocess.run(
        [str(python), "-m", module, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=airflow_environ(home, environ),
    )
    check_child(done, f"{module} on Airflow {version}")
    return json.loads(done.stdout)


def main(argv: list[str]) -> int:
    if argv[:1] == ["setup"]:
        for version in argv[1:] or versions():
            print(f"Airflow {version}: {ensure(version)}")
        return 0
    if argv[:1] == ["pytest"] and len(argv) >= 2:
        from offline.harness import render_dag_folder, run_stack

        python = ensure(argv[1])
        with tempfile.TemporaryDirectory(prefix="airflow-tests-") as tmp:
            folder = render_dag_folder(run_stack("dev"), Path(tmp) / "dags")  # what `pulumi up` uploads for dev
            environ = airflow_environ(Path(tmp) / "airflow", {"MWAA_AIRFLOW_VERSION": argv[1], "MWAA_DAGS_FOLDER": str(folder)})
            # --confcutdir: tests/conftest.py belongs to the toolchain (pulumi), which this environment doesn't have.
            command = [str(python), "-m", "pytest", "--confcutdir", "tests/airflow", *argv[2:]]
            return subprocess.run(command, cwd=PROJECT_DIR, env=environ).returncode
    raise InputError("usage: python -m offline.airflow_env setup [version ...] | pytest <version> [pytest args]")


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
