"""The tools' own Airflow-side code (offline/airflow_side/compat.py), on every supported version."""

from __future__ import annotations

import json
import os

from offline.airflow_side.compat import one_execution_api_per_process

from .airflowkit import PROJECT_DIR


def test_every_task_of_a_run_talks_to_one_execution_api():
    """One app per process, so Cadwyn generates its versioned routers once per pipeline run rather than once per task."""
    from airflow.sdk.execution_time import supervisor

    one_execution_api_per_process()
    one_execution_api_per_process()  # idempotent: a second call doesn't wrap the cache again
    first, second = supervisor.in_process_api_server(), supervisor.in_process_api_server()
    assert first is second
    assert supervisor.in_process_api_server.cache_info().currsize == 1


def test_a_forked_process_keeps_nothing_of_the_servers_home(tmp_path):
    """What the fork server's child does (initialize_as_imported), in a process that imported Airflow as a library with
    one home and then switches to another: every copy of the config and of the settings Airflow derives from the home
    follows, not only the modules' own attributes."""
    import subprocess
    import sys

    script = """
import json, os, sys
from pathlib import Path
import airflow.models.taskinstance as taskinstance
import airflow.serialization.serialized_objects as serialized
from airflow import configuration, settings
from offline.airflow_side.compat import initialize_as_imported
new = Path(sys.argv[1])
os.environ.update(AIRFLOW_HOME=str(new), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{new / 'airflow.db'}")
initialize_as_imported()
print(json.dumps({"names": [settings.__name__, configuration.__name__, settings.log.name],
                  "dags": [settings.DAGS_FOLDER, serialized.DAGS_FOLDER], "db": str(settings.engine.url),
                  "logs": [c.get("logging", "base_log_folder") for c in (configuration.conf, settings.conf, taskinstance.conf)]}))
"""
    old, new = tmp_path / "server", tmp_path / "child"
    environ = {**os.environ, "AIRFLOW_HOME": str(old), "_AIRFLOW__AS_LIBRARY": "1",
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{old / 'airflow.db'}"}  # fmt: skip
    environ.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    done = subprocess.run([sys.executable, "-c", script, str(new)], capture_output=True, text=True, env=environ, cwd=PROJECT_DIR)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["names"] == ["airflow.settings", "airflow.configuration", "airflow.settings"]  # only what was replaced
    assert seen["dags"] == [str(new / "dags")] * 2
    assert seen["db"] == f"sqlite:///{new / 'airflow.db'}"
    assert seen["logs"] == [str(new / "logs")] * 3
