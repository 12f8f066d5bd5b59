"""Shared fixtures: one mocked run per stack, reused by every test that only reads it."""

from __future__ import annotations

import os
import tempfile

import pytest

from offline.harness import StackRun, run_stack


@pytest.fixture(scope="session")
def dev() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session", params=["dev", "prod"])
def each_stack(request: pytest.FixtureRequest) -> StackRun:
    return request.getfixturevalue(request.param)


def pytest_configure(config: pytest.Config) -> None:
    """A throwaway Airflow home, set before any test imports Airflow (it reads config at import)."""
    home = tempfile.mkdtemp(prefix="airflow-tests-")
    os.environ.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    )
