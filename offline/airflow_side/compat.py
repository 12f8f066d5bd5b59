"""The few Airflow APIs the tools use that moved between 3.0 and 3.3, behind one name each."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from offline.airflow_side import EMPTY_DATABASE

try:  # Airflow 3.1+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0
    from airflow.models.dagbag import DagBag

try:  # Airflow 3.3+
    from airflow.serialization.serialized_objects import DagSerialization as _Serializer
except ImportError:  # Airflow 3.0-3.2
    from airflow.serialization.serialized_objects import SerializedDAG as _Serializer


def dag_bag(folder: Path) -> DagBag:
    """The folder parsed as the DAG processor does (examples off through AIRFLOW__CORE__LOAD_EXAMPLES)."""
    return DagBag(dag_folder=str(folder))


def new_database() -> None:
    """A new, empty metadata database at this process's home: a copy of the one this session's first process on this
    interpreter migrated, which is what `airflow db migrate` makes every time, in a fraction of its 1.5 s."""
    from airflow import settings
    from airflow.utils import db

    database = Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"
    template = Path(os.environ[EMPTY_DATABASE].format(interpreter=hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]))
    if template.exists():
        shutil.copyfile(template, database)
        settings.engine.dispose()  # a connection opened at set-up holds the file the copy replaced
        return
    db.initdb()
    settings.engine.dispose()  # every write in the file before it is copied
    partial = template.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(database, partial)
    partial.replace(template)  # atomic: a concurrent process copies a whole database or migrates its own


def sync_to_db(bag: DagBag) -> None:
    """The parsed DAGs written to the metadata database under the DAG folder's bundle, as the DAG processor does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    try:  # Airflow 3.2+
        from airflow.dag_processing.dagbag import sync_bag_to_db
    except ImportError:  # Airflow 3.0
        bag.sync_to_db("dags-folder", None)
    else:
        sync_bag_to_db(bag, "dags-folder", None)


def as_scheduled(dag: Any) -> Any:
    """The DAG as the scheduler sees it: through serialization, which is what MWAA's scheduler reads."""
    return _Serializer.from_dict(_Serializer.to_dict(dag))


def first_scheduled_run(dag: Any) -> datetime | None:
    """When a scheduler with no previous run of this DAG (a new metadata DB) would first run it, at the current time."""
    scheduled = as_scheduled(dag)
    parameters = inspect.signature(scheduled.next_dagrun_info).parameters
    info = (
        scheduled.next_dagrun_info(last_automated_run_info=None)  # 3.3+
        if "last_automated_run_info" in parameters
        else scheduled.next_dagrun_info(None)
    )
    return info.run_after if info else None


def next_run_after(dag: Any, moment: datetime) -> datetime | None:
    """The timetable's next run strictly after a run at `moment` (unrestricted, as after a completed run)."""
    from airflow.timetables.base import DataInterval, TimeRestriction

    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(moment, moment),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    return info.run_after if info else None


def build_execution_api() -> None:
    """The in-process execution API `dag.test()` talks to, with Cadwyn's routers generated (the fork server's preload).

    Cadwyn generates the routers of every API version on the app's first request (`Cadwyn._cadwyn_initialize`, the
    same in the Cadwyn of 3.0, 3.2 and 3.3); generating them here means no forked run pays for it again.
    """
    from airflow.sdk.execution_time import supervisor

    one_execution_api_per_process()
    app = supervisor.in_process_api_server().app
    if not app._cadwyn_initialized:
        app._cadwyn_initialize()


def one_execution_api_per_process() -> None:
    """Every task of `dag.test()` talks to one in-process execution API, as Airflow 3.3 does upstream.

    Before 3.3, `supervisor.in_process_api_server()` built a new FastAPI app per task, and each build generates Cadwyn's
    routers for every API version (seconds each). Airflow 3.3 caches it (`functools.lru_cache(maxsize=1)` on the same
    function in airflow/sdk/execution_time/supervisor.py), so older versions get the same cache here; the tasks'
    per-DAG dependency overrides are set on each call either way (`InProcessTestSupervisor._api_client`).
    """
    from airflow.sdk.execution_time import supervisor

    if not hasattr(supervisor.in_process_api_server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(supervisor.in_process_api_server)


def initialize_as_imported() -> None:
    """Airflow set up from this process's environment, in a process forked from one that imported it as a library.

    The fork server (offline/forkserver.py) imports Airflow with `_AIRFLOW__AS_LIBRARY`, so `import airflow` skipped
    `settings.initialize()`, but the config objects were still built from the server's environment: they are built
    again here from this one, as `import airflow` would, then `settings.initialize()` runs. Every module that copied
    one of the replaced values (`from airflow.settings import DAGS_FOLDER`, `from airflow.configuration import conf`)
    is pointed at its replacement, so nothing keeps the server's home, database or DAG folder.
    """
    from airflow import configuration, settings

    os.environ.pop("_AIRFLOW__AS_LIBRARY", None)
    old_configuration = dict(vars(configuration))
    configuration.AIRFLOW_HOME = configuration.get_airflow_home()
    configuration.AIRFLOW_CONFIG = configuration.get_airflow_config(configuration.AIRFLOW_HOME)
    configuration.conf = configuration.initialize_config()
    configuration.secrets_backend_list = configuration.initialize_secrets_backends()
    configuration.conf.validate()
    replaced = [(old_configuration, vars(configuration))]
    sdk_configuration = sys.modules.get("airflow.sdk.configuration")  # 3.2+: built on first use, from the environment
    if sdk_configuration is not None and "conf" in vars(sdk_configuration):
        old_sdk_conf = sdk_configuration.conf
        sdk_configuration.conf = sdk_configuration.initialize_config()
        replaced.append(({"conf": old_sdk_conf}, {"conf": sdk_configuration.conf}))
    _repoint(replaced)
    old_settings = dict(vars(settings))
    settings.initialize()
    _repoint([(old_settings, vars(settings))])


def _repoint(replaced: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Every module attribute holding a value that a (before, after) pair of one module's namespace shows replaced now
    holds the replacement (values compared by identity; None, numbers and "" are too common to follow)."""
    new = {
        id(old): after[name]
        for before, after in replaced
        for name, old in before.items()
        if name in after and after[name] is not old and not (old is None or isinstance(old, bool | int | float) or old == "")
    }
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            for attribute, value in list(namespace.items()):
                if id(value) in new:  # `replaced` keeps every old value alive, so its id is its own
                    namespace[attribute] = new[id(value)]
