"""The local Airflow, per supported version: exactly MWAA's package set, in its own environment.

MWAA builds each image from two files (vendored in mwaa-images/<version>/): the Airflow release's constraints and
MWAA's essential pins. `.venv-airflow/<version>` installs `apache-airflow==<version>` and requirements-airflow.txt
with both as constraints (uv, which honours constraint files as pip does, in seconds rather than minutes), on
Python 3.12 (MWAA's) when the machine has it. The toolchain in .venv (pulumi, the
policy pack, moto) pins several of the same packages differently (packaging, protobuf, pydantic), so the two never
share an interpreter: the toolchain starts `offline.airflow_side.*` in the Airflow environment and exchanges JSON.

A stack's DAGs are parsed with the stack's requirements.txt installed as well, as MWAA installs it before parsing:
`with_requirements` builds `.venv-airflow/<version>+<hash>`, the version's packages plus the file's under the same
constraints, keyed by the file's content, so each change is installed once (uv links the files from its cache).

python -m offline.airflow_env setup [version ...]     # create or refresh the DAG tests' environments (default: every version, concurrently)
python -m offline.airflow_env pytest <version> [args]  # run pytest in that version's environment
python -m offline.airflow_env pytest all [args]        # in every version's, concurrently (bin/test); outputs in turn

The Airflow-side modules are forked from a preloaded server per environment and module (offline/forkserver.py), shared
by every process of a session (a `bin/offline` run, a `bin/test`, a CI run) and by checkouts with the same offline/.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from offline import forkserver
from offline.airflow_side import EMPTY_DATABASE
from offline.exits import InputError, check_child, run_main
from settings import AIRFLOW_VERSIONS as MATRIX
from settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
IMAGES = PROJECT_DIR / "mwaa-images"
VENVS = PROJECT_DIR / ".venv-airflow"
REQUIREMENTS = PROJECT_DIR / "requirements-airflow.txt"
#: What the local Airflow needs beside MWAA's packages to load a serverless definition as the service does (dag-factory).
SERVERLESS_REQUIREMENTS = PROJECT_DIR / "serverless" / "requirements.txt"


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


@functools.cache
def find_python(version: str) -> str:
    """The interpreter for `version`'s environment: MWAA's Python minor (3.12) if the machine has one.

    Looks at $AIRFLOW_PYTHON, then python3.12 on PATH, then pyenv's versions; falls back to this Python with a note.
    Looked up once per process: every environment build and stamp asks.
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


def _uv() -> str:
    """uv from the toolchain (requirements-dev.txt pins it): it honours the same constraint files as pip, much faster."""
    found = Path(sys.executable).with_name("uv")
    return str(found) if found.exists() else shutil.which("uv") or "uv"


@contextlib.contextmanager
def _lock(venv: Path) -> Iterator[None]:
    """One builder per environment at a time (parallel test workers may ask for the same one)."""
    VENVS.mkdir(parents=True, exist_ok=True)
    with (VENVS / f".{venv.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(venv: Path, version: str, stamp: str, requirement_lines: list[str], what: str) -> Path:
    """The environment at `venv` with `requirement_lines` under `version`'s MWAA constraints, built unless its stamp says
    it already is. A failed build leaves nothing behind and says why."""
    python = venv / "bin" / "python"
    with _lock(venv):
        if (venv / ".stamp").exists() and (venv / ".stamp").read_text() == stamp:
            return python
        print(f"setting up {venv.relative_to(PROJECT_DIR)} ({what}; once per change of its inputs)", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            wanted = Path(tmp) / "requirements.txt"
            wanted.write_text("\n".join(requirement_lines) + "\n")
            constraints = [arg for f in constraint_files(version) for arg in ("-c", str(f))]
            for step in (
                [_uv(), "venv", "--quiet", "--python", find_python(version), str(venv)],
                [_uv(), "pip", "install", "--quiet", "--python", str(python), "-r", str(wanted), *constraints],
            ):
                done = subprocess.run(step, capture_output=True, text=True)
                if done.returncode != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    raise AirflowEnvError(f"setting up {what} failed: {' '.join(step[:3])} ...\n{done.stderr[-3000:]}")
        (venv / ".stamp").write_text(stamp)
    return python


def _base_lines(version: str) -> list[str]:
    """apache-airflow and requirements-airflow.txt, each of our pins dropped where MWAA's constraints already pin it."""
    pinned = pins(constraint_files(version)[0])
    lines = [f"apache-airflow=={version}"]
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            lines.append(requirement.name if canonicalize_name(requirement.name) in pinned else line)
    return lines


def _base_stamp(version: str) -> str:
    files = constraint_files(version)
    return hashlib.sha256(b"".join(p.read_bytes() for p in (*files, REQUIREMENTS)) + find_python(version).encode()).hexdigest()[:16]


def ensure(version: str) -> Path:
    """The Python of `version`'s environment, created or refreshed when its inputs changed."""
    return _build(VENVS / version, version, _base_stamp(version), _base_lines(version), f"Airflow {version}, MWAA's constraints")


def with_requirements(version: str, requirements_file: Path | None) -> Path:
    """The Python of `version`'s environment plus the packages of a stack's requirements file: the base itself when it
    already satisfies every line (the shipped file names only the Amazon provider, which MWAA's set has)."""
    lines = [line for _, line in requirement_file_lines(requirements_file) if not line.startswith("-")] if requirements_file else []
    base = ensure(version)
    if all(_satisfied(line, _installed(VENVS / version)) for line in lines):
        return base
    digest = hashlib.sha256("\n".join([_base_stamp(version), *lines]).encode()).hexdigest()[:12]
    what = f"Airflow {version} + {requirements_file}"
    try:
        return _build(VENVS / f"{version}+{digest}", version, digest, _base_lines(version) + lines, what)
    except AirflowEnvError as exc:
        raise AirflowEnvError(f"{exc}\n(run `bin/offline requirements` to see how MWAA would resolve it)") from None


def stack_requirements(settings: Settings, project: Path = PROJECT_DIR) -> Path:
    """What the stack's Airflow installs beside MWAA's packages: its requirements.txt (MWAA installs it before it parses
    a DAG), or for a serverless stack the service's loader. The DAG check, the pipeline run and the DAG tests all use
    it, so one run never calls a DAG both parsed and broken."""
    return SERVERLESS_REQUIREMENTS if settings.serverless else project / settings.dag_bucket.requirements_file


def _installed(venv: Path) -> dict[str, str]:
    """name -> version of what an environment has installed (its dist-info folders; canonical names)."""
    found = {}
    for info in venv.glob("lib/python*/site-packages/*.dist-info"):
        name, _, installed = info.name.removesuffix(".dist-info").rpartition("-")
        found[canonicalize_name(name)] = installed
    return found


def _satisfied(line: str, installed: dict[str, str]) -> bool:
    """Whether a requirement line needs nothing the environment lacks (no extras, no markers: those are installed)."""
    try:
        requirement = Requirement(line)
    except ValueError:
        return False  # not a plain requirement: let the installer say what it is
    have = installed.get(canonicalize_name(requirement.name))
    return have is not None and not requirement.extras and not requirement.marker and requirement.specifier.contains(have, prereleases=True)


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
    version: str,
    module: str,
    args: list[str],
    home: Path,
    stdin: str | None = None,
    requirements: Path | None = None,
    preloaded_by: str | None = None,
    **environ: str,
) -> dict | list:
    """Run `python -m <module> <args>` in `version`'s environment (plus `requirements`), forked from its preloaded
    server (offline/forkserver.py, which imports Airflow as a library; `preloaded_by`: another module's server, whose
    preload covers this one's); returns the JSON it prints."""
    python = with_requirements(version, requirements)
    done = _forked(python, module, args, airflow_environ(home, environ), stdin or "", preloaded_by)
    check_child(done, f"{module} on Airflow {version}")
    return json.loads(done.stdout)


def _forked(
    python: Path, module: str, args: list[str], environ: dict[str, str], stdin: str = "", preloaded_by: str | None = None
) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` forked from the session's server of the Airflow side in that environment, which
    imports Airflow as a library (read at import only) and stands for the content of offline/, not for a checkout. A
    new metadata database is copied from the session's first one on that interpreter (compat.new_database)."""
    session = forkserver.session()
    server = airflow_environ(session / "airflow-home", {"_AIRFLOW__AS_LIBRARY": "1"})
    environ = environ | {EMPTY_DATABASE: str(session / "empty-airflow-{interpreter}.db")}
    return forkserver.call(
        python, module, args, PROJECT_DIR, environ, stdin, server_env=server, shared_by=Path(__file__).parent, preloaded_by=preloaded_by
    )


def pytest_in(wanted: list[str], args: list[str]) -> int:
    """pytest `args` inside each of the `wanted` versions' environments, against dev's DAG folder as `pulumi up` uploads
    it (rendered once). Several versions run concurrently, each on its own copy of the folder, home and database; their
    outputs are printed one after another in version order, and a failure in any fails the whole; each is forked from
    the session's pipeline-run server of its version (Airflow and the execution API's routers preloaded, as the suite
    reuses it). One version's output streams as it comes (-s, --pdb), from a new process. Each version's environment
    has dev's requirements.txt installed, as the DAG check and the pipeline run have it (a DAG that imports a provider the
    file adds parses there)."""
    from offline.harness import render_dag_folder, run_stack

    for version in wanted:
        constraint_files(version)  # an unsupported version says so before anything is rendered
    capture = len(wanted) > 1
    with tempfile.TemporaryDirectory(prefix="airflow-tests-") as tmp:
        rendered = render_dag_folder(run_stack("dev"), Path(tmp) / "dags")

        def run_in(version: str) -> subprocess.CompletedProcess:  # builds the environment too, if it must, beside the others
            folder = shutil.copytree(rendered, Path(tmp) / version / "dags")
            environ = airflow_environ(Path(tmp) / version / "airflow", {"MWAA_AIRFLOW_VERSION": version, "MWAA_DAGS_FOLDER": str(folder)})
            # --confcutdir: tests/conftest.py belongs to the toolchain (pulumi), which this environment doesn't have. Plugins
            # that Airflow itself imports (anyio's, by FastAPI; time_machine's, on 3.0) are in the server already, too
            # late for pytest to rewrite their asserts; the tests' own modules are imported, and rewritten, in the child.
            quiet = "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"
            pytest_args = ["--confcutdir", "tests/airflow", "-W", quiet, *args]
            python = for_dag_tests(version)
            if capture:
                return _forked(python, "pytest", pytest_args, environ, preloaded_by="offline.airflow_side.run_dag")
            return subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=PROJECT_DIR, env=environ, text=True)

        with concurrent.futures.ThreadPoolExecutor(len(wanted)) as pool:
            done = dict(zip(wanted, pool.map(run_in, wanted), strict=True))
    if not capture:
        return done[wanted[0]].returncode
    for version, result in done.items():
        print(f"DAG tests on Airflow {version}:\n{result.stdout}{result.stderr}", end="", flush=True)
    failed = [version for version, result in done.items() if result.returncode != 0]
    if failed:
        print(f"pytest failed on Airflow {', '.join(failed)} (above)", file=sys.stderr)
    return 1 if failed else 0


def for_dag_tests(version: str) -> Path:
    """The environment `pytest_in` runs the DAG tests in: the version's, plus dev's requirements where they add any."""
    from offline.stacks import stack_settings

    return with_requirements(version, stack_requirements(stack_settings("dev")))


def main(argv: list[str]) -> int:
    if argv[:1] == ["setup"]:
        wanted = argv[1:] or versions()
        with concurrent.futures.ThreadPoolExecutor(len(wanted)) as pool:
            for version, python in zip(wanted, pool.map(for_dag_tests, wanted), strict=True):
                print(f"Airflow {version}: {python}")
        return 0
    if argv[:1] == ["pytest"] and len(argv) >= 2:
        return pytest_in(versions() if argv[1] == "all" else [argv[1]], argv[2:])
    raise InputError("usage: python -m offline.airflow_env setup [version ...] | pytest <version>|all [pytest args]")


if __name__ == "__main__":
    sys.exit(run_main(lambda: main(sys.argv[1:])))
