"""The few Airflow APIs the tools use that moved between 3.0 and 3.3, behind one name each."""

from __future__ import annotations

import functools
import inspect
from datetime import datetime
from pathlib import Path
from typing import Any

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
