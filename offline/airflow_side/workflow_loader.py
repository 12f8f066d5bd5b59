"""Load an MWAA Serverless definition with dag-factory, reading it as the service does.

The loader file the offline tools write beside a definition (MWAA Serverless needs none) calls `load(globals(), path)`.
The service takes `retry_delay` and `execution_timeout` as whole seconds or strings such as 5m (its user guide; AWS's
validator in aws-samples/amazon-mwaa-examples serverless/mcp/src/tools.py), where plain dag-factory hands them to
Airflow unchanged and Airflow wants a timedelta for execution_timeout: those two keys are converted, nothing else.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

DURATION_KEYS = ("retry_delay", "execution_timeout")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (match := re.fullmatch(r"(\d+)([smhd])", value)):
        return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    return value


def as_the_service_reads(document: dict[str, Any]) -> dict[str, Any]:
    """The definition with its durations as timedeltas, in default_args and in every task."""
    for dag in document.values():
        for block in [dag.get("default_args") or {}, *(dag.get("tasks") or {}).values()]:
            for key in DURATION_KEYS:
                if key in block:
                    block[key] = _duration(block[key])
    return document


def load(globals_dict: dict[str, Any], path: Path) -> None:
    from dagfactory import load_yaml_dags

    load_yaml_dags(globals_dict=globals_dict, config_dict=as_the_service_reads(yaml.safe_load(path.read_text())))


#: What the offline tools write next to a definition so that Airflow's DagBag picks it up ("airflow" and "dag" in the
#: text are what DagBag's safe mode looks for).
LOADER = """# airflow DAG loader for an MWAA Serverless definition, written by the offline tools (the service itself needs none)
from pathlib import Path

from offline.airflow_side.workflow_loader import load

load(globals(), Path(__file__).with_name("{definition}"))
"""
