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


def placeholders(path: Path = HERE / "pipeline_config.json") -> dict[str, str]:
    """${PIPELINE_<KEY>} -> this stack's value, or an import error that says how to fix it."""
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{path.name} can't be read for the YAML workflows ({exc}); `pulumi up` renders it into dags/") from None
    missing = [key for key in PLACEHOLDER_KEYS if not isinstance(config, dict) or key not in config]
    if missing:
        raise RuntimeError(f"{path.name} lacks {', '.join(missing)}; re-run `pulumi up` to render it again")
    return {f"PIPELINE_{key.upper()}": str(config[key]) for key in PLACEHOLDER_KEYS}


if WORKFLOWS:
    os.environ.update(placeholders())
    from dagfactory import load_yaml_dags

    for path in WORKFLOWS:
        load_yaml_dags(globals_dict=globals(), config_filepath=str(path))
