"""Airflow DAG loader for the team's YAML workflows (dags/workflows/*.yaml): dag-factory builds each DAG, as MWAA
Serverless does for a serverless stack, so one file runs in both modes (yaml_workflows.py in the project has the rules).

A file names this stack's resources as ${PIPELINE_<KEY>}; dag-factory expands environment variables in a file it loads,
so they are set here from pipeline_config.json (rendered by `pulumi up`). Without YAML files this imports nothing more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HERE = Path(__file__).parent
#: The same keys as PLACEHOLDER_KEYS in yaml_workflows.py (this file reaches MWAA alone; a test keeps the two equal).
PLACEHOLDER_KEYS = ("lambda_function_name", "glue_job_name", "input_prefix", "output_prefix", "region")
WORKFLOWS = sorted([*(HERE / "workflows").glob("*.yaml"), *(HERE / "workflows").glob("*.yml")])

if WORKFLOWS:
    from dagfactory import load_yaml_dags

    config = json.loads((HERE / "pipeline_config.json").read_text())
    os.environ.update({f"PIPELINE_{key.upper()}": str(config[key]) for key in PLACEHOLDER_KEYS})
    for path in WORKFLOWS:
        load_yaml_dags(globals_dict=globals(), config_filepath=str(path))
