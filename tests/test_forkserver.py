"""The fork servers (offline/forkserver.py): a forked child reports exactly what a new process reports, on every
supported Airflow; a session's servers go when the session does, Ctrl-C included; checkouts with the same offline/ share
the Airflow side's servers; and the commands' preload leaves none of its provider modules to load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from offline import airflow_env, forkserver
from offline.harness import render_dag_folder
from offline.stacks import PROJECT_DIR
from tests.stackkit import RUNNING_AT, copy_project

pytestmark = [pytest.mark.tools, pytest.mark.long]

CHECK = "offline.airflow_side.check_dags"


def without_parse_times(report: dict) -> dict:
    """The report without what timing decides: parse times, and the order of files (Airflow sorts them by duration)."""
    files = sorted(({k: v for k, v in f.items() if k != "seconds"} for f in report["files"]), key=lambda f: f["file"])
    return report | {"files": files}


@pytest.mark.parametrize("version", airflow_env.versions())
def test_a_forked_check_reports_what_a_new_process_reports(version: str, dev, tmp_path: Path):
    folder = render_dag_folder(dev, tmp_path / "dags")  # the real DAG, and beside it one that fails to import
    (folder / "broken.py").write_text("from airflow.sdk import DAG\nimport no_such_module\n")
    args = [str(folder), RUNNING_AT.isoformat()]
    python = airflow_env.ensure(version)
    fresh = subprocess.run([str(python), "-m", CHECK, *args], capture_output=True, text=True, cwd=PROJECT_DIR,
                           env=airflow_env.airflow_environ(tmp_path / "fresh"))  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    forked = [airflow_env.run(version, CHECK, args, tmp_path / f"forked-{n}") for n in range(2)]
    expected = without_parse_times(json.loads(fresh.stdout))
    assert expected["import_errors"] and expected["dags"][0]["runs"]  # the comparison covers an error and the runs
    assert [without_parse_times(report) for report in forked] == [expected, expected]


def test_a_forked_pipeline_run_reports_what_new_processes_report():
    """dev's run of bad input both ways: the Lambda succeeds, the Glue job fails, its task's alert goes out and the
    missed-run alarm fires (one scenario: a new process per run costs seconds of imports and routers)."""

    def reports(fork: str) -> list[dict]:
        command = [sys.executable, "-m", "offline.pipeline_run", "dev", "--scenario", "bad-input", "--no-cache", "--json"]
        done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600,
                              env=os.environ | {forkserver.FORK: fork})  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        # An alert names the failed task and its error's type; what follows has request ids, job run ids and dates.
        return [r | {"alerts": [alert.split("(")[0] for alert in r["alerts"]]} for r in json.loads(done.stdout)["scenarios"]]

    forked = reports("1")
    assert any(r["alerts"] for r in forked) and forked == reports("0")


def test_a_session_replaces_a_killed_server_and_stops_its_servers_when_it_ends(tmp_path: Path):
    """A command run in a session of its own (`--session`, as .ci/run runs): its server is killed mid-session, the next
    check starts another, and when the command exits, with its own exit code, no server of its session is left."""
    version = airflow_env.default_version()
    script = f"""
import json, os, signal, sys
from pathlib import Path
from offline import airflow_env, forkserver
folder = Path(os.environ[forkserver.SERVERS])
first = airflow_env.run({version!r}, {CHECK!r}, [{str(PROJECT_DIR / "dags")!r}], Path({str(tmp_path)!r}) / "a")
(pid_file,) = folder.glob("*.pid")
killed = int(pid_file.read_text())
os.kill(killed, signal.SIGKILL)
second = airflow_env.run({version!r}, {CHECK!r}, [{str(PROJECT_DIR / "dags")!r}], Path({str(tmp_path)!r}) / "b")
pids = [int(p.read_text()) for p in folder.glob("*.pid")]
print(json.dumps({{"folder": str(folder), "killed": killed, "pids": pids, "same": first["dags"] == second["dags"]}}))
sys.exit(5)
"""
    env = {k: v for k, v in os.environ.items() if k != forkserver.SERVERS}  # its own session, not the suite's
    command = [sys.executable, "-m", "offline.forkserver", "--session", sys.executable, "-c", script]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 5, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["same"] and len(result["pids"]) == 1 and result["killed"] not in result["pids"]
    assert not Path(result["folder"]).exists()
    deadline = time.monotonic() + 10
    while alive := [pid for pid in result["pids"] if _running(pid)]:
        assert time.monotonic() < deadline, f"fork server {alive} outlived its session"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has stopped; init reaps it later
    except FileNotFoundError:
        return False


def test_the_commands_preload_leaves_none_of_its_provider_modules_for_a_run_to_load():
    """A forked command runs its stack's program without loading the providers' modules the preload names (a module a
    fork adds is loaded on first use). pulumi_aws's submodules are lazy (pulumi/_utils.py), so importing one by name
    loads nothing: the preload has to read it."""
    script = """
import json, sys
import offline.__main__ as command
from offline.harness import PROVIDER_MODULES, run_stack
command.preload()
before = set(sys.modules)
for stack in ("dev", "prod", "lite"):
    run_stack(stack)
inside = tuple(f"{name}." for name in PROVIDER_MODULES)
print(json.dumps(sorted(n for n in set(sys.modules) - before if n in PROVIDER_MODULES or n.startswith(inside))))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == []


def test_checkouts_with_the_same_airflow_side_share_its_servers(dev, tmp_path: Path):
    """CI's fork-like copy forks its DAG checks from the servers the main checkout started, since its offline/ is the
    same (the children import only from there and from the request's paths); a checkout whose offline/ differs gets a
    server of its own."""
    copy = copy_project(tmp_path)
    (copy / ".venv-airflow").symlink_to(PROJECT_DIR / ".venv-airflow")  # as tests/fork/apply.py links it
    folder = render_dag_folder(dev, tmp_path / "dags")
    script = f"""
import json, sys
from pathlib import Path
from offline import airflow_env
print(json.dumps(airflow_env.run({airflow_env.default_version()!r}, {CHECK!r}, [{str(folder)!r}], Path(sys.argv[1]))))
"""
    session = Path(tempfile.mkdtemp(prefix="fork-servers-", dir="/tmp"))  # this test's own
    env = os.environ | {forkserver.SERVERS: str(session)}

    def check(checkout: Path, home: str) -> tuple[dict, int]:
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / home)], cwd=checkout, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        return without_parse_times(json.loads(done.stdout)), len(list(session.glob("*.pid")))

    try:
        main, servers = check(PROJECT_DIR, "main")
        assert main["dags"] and check(copy, "copy") == (main, servers)
        module = copy / "offline" / "airflow_side" / "check_dags.py"
        module.write_text(module.read_text() + "\n# edited in this checkout only\n")
        assert check(copy, "edited") == (main, servers + 1)
    finally:
        forkserver.stop_servers(session)


def test_ctrl_c_stops_a_session_with_its_command_and_no_traceback():
    """Ctrl-C reaches the whole foreground group: the command stops as it would alone, and the session adds nothing."""
    quiet = "import signal, sys, time; signal.signal(signal.SIGINT, lambda *_: sys.exit(130)); print('up', flush=True); time.sleep(60)"
    command = [sys.executable, "-m", "offline.forkserver", "--session", sys.executable, "-c", quiet]
    env = {k: v for k, v in os.environ.items() if k != forkserver.SERVERS}
    with subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as session:  # fmt: skip
        assert session.stdout is not None and session.stdout.readline() == "up\n"
        os.killpg(session.pid, signal.SIGINT)
        _, stderr = session.communicate(timeout=30)
    assert (session.returncode, stderr) == (128 + signal.SIGINT, "")
