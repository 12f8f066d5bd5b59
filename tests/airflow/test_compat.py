"""The tools' own Airflow-side code (offline/airflow_side/compat.py), on every supported version."""

from __future__ import annotations

from offline.airflow_side.compat import one_execution_api_per_process


def test_every_task_of_a_run_talks_to_one_execution_api():
    """One app per process, so Cadwyn generates its versioned routers once per pipeline run rather than once per task."""
    from airflow.sdk.execution_time import supervisor

    one_execution_api_per_process()
    one_execution_api_per_process()  # idempotent: a second call doesn't wrap the cache again
    first, second = supervisor.in_process_api_server(), supervisor.in_process_api_server()
    assert first is second
    assert supervisor.in_process_api_server.cache_info().currsize == 1
