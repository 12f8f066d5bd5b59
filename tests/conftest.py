"""Shared fixtures: one mocked run per stack, reused by every test that only reads it."""

from __future__ import annotations

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
