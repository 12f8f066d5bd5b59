"""Shared fixtures: one mocked run per stack, reused by every test that only reads it.

Every mocked run decides its duty cycle at RUNNING_AT (tests/stackkit.py: dev's first pipeline run in the week of
2026-11-23, so inside its window) unless a test passes another `at`, so no result depends on the clock, and a fork's
own schedule keeps the suite green (`pytest -m "not reference"`).
"""

from __future__ import annotations

import os

import pytest

from offline import forkserver
from offline.harness import AT_VARIABLE, StackRun, run_stack
from tests.stackkit import RUNNING_AT


@pytest.fixture(scope="session")
def dev() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def each_stack(request: pytest.FixtureRequest) -> StackRun:
    return request.getfixturevalue(request.param)


collect_ignore = ["airflow"]  # tests/airflow runs inside the local Airflow (python -m offline.airflow_env pytest), not here


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `long` tests first (in their order, the rest after in theirs): xdist hands tests out in this order, so the
    suite ends on short tests rather than on one worker finishing a 20 s test while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_configure(config: pytest.Config) -> None:
    """Every mocked run decides its duty cycle at RUNNING_AT unless a test passes `at`; every test and command shares
    the session's fork servers (made by the controller, inherited by xdist's workers)."""
    os.environ[AT_VARIABLE] = RUNNING_AT.isoformat()
    forkserver.session()
