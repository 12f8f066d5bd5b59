"""Tests that run inside the local Airflow (.venv-airflow/<version>), not in the toolchain's .venv.

Start them with `python -m offline.airflow_env pytest <version> tests/airflow` (bin/test does, for every supported
version): it renders the dev stack's DAG folder (dags/ plus pipeline_config.json, as `pulumi up` uploads it) into
MWAA_DAGS_FOLDER and gives Airflow a throwaway home and database.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rendered_folder() -> Path:
    folder = os.environ.get("MWAA_DAGS_FOLDER")
    if not folder:
        pytest.fail("MWAA_DAGS_FOLDER is not set; run these tests with `python -m offline.airflow_env pytest <version> tests/airflow`")
    return Path(folder)
