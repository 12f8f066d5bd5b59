"""The offline verdict on a serverless definition is the service's verdict, never more lenient.

The service loads a definition with dag-factory 1.0.1 on Airflow 3.0.6 (AWS's converter pins both; serverless/
requirements.txt) and applies its documented limits. Here each definition below is judged twice:
- by the service's side: dag-factory's own `load_yaml_dags(config_filepath=...)` in a plain process of the lite
  environment (MWAA's 3.0.6 constraints plus dag-factory 1.0.1, no module of ours imported), plus the limit each case
  documents, with its source;
- by ours: `offline.dags.check_workflow`, the check the main job runs (the service's rules in serverless/definition.py,
  then the DAG folder as the offline tools write it, parsed by Airflow's DagBag).
The load must fail on ours exactly where it fails on the service's side (a conversion of ours before loading would pass
a plain-number timeout the service refuses), and the whole verdict must agree (a limit left out would pass a definition
the service refuses).
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from offline import airflow_env
from offline.airflow_env import SERVERLESS_REQUIREMENTS
from offline.dags import check_workflow
from offline.harness import StackRun, object_body, run_stack, workflow_definition
from offline.stacks import stack_settings
from serverless import definition as sd
from tests.stackkit import WEEK_OF

pytestmark = pytest.mark.long

#: dag-factory's own loader, then what Airflow 3.0.6 does with each DAG a file defines before it runs it (DagBag's
#: `_process_modules`: `dag.validate()`, then `bag_dag`'s `check_cycle`); nothing of ours. One process for every case.
SERVICE_LOADER = """
import json, sys
from pathlib import Path
from airflow.sdk import DAG
from airflow.utils.dag_cycle_tester import check_cycle
from dagfactory import load_yaml_dags
refused = {}
for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    loaded = {}
    try:
        load_yaml_dags(globals_dict=loaded, config_filepath=str(path))
        for dag in (value for value in loaded.values() if isinstance(value, DAG)):
            dag.validate()
            check_cycle(dag)
    except Exception as exc:
        refused[path.stem] = f"{type(exc).__name__}: {exc}"
print(json.dumps(refused))
"""

#: Where a documented limit refuses a definition that dag-factory loads (../shared/REFERENCE.md, "MWAA Serverless").
USER_GUIDE = "MWAA Serverless user guide, as AWS's validator encodes it (aws-samples/amazon-mwaa-examples serverless/mcp/src)"


def _set(*path: str, value) -> Callable[[dict], None]:
    """Set one value of the shipped DAG, at `path` under its id."""

    def edit(document: dict) -> None:
        target = document[sd.DAG_ID]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _two_dags(document: dict) -> None:
    document["second_dag"] = copy.deepcopy(document[sd.DAG_ID])


#: name -> (edit of the shipped definition, or None; the documented limit that refuses it, or None where loading decides)
CASES: dict[str, tuple[Callable[[dict], None] | None, str | None]] = {
    "shipped": (None, None),
    "typed_timeout": (_set("tasks", "transform", "execution_timeout", value={"__type__": "datetime.timedelta", "minutes": 50}), None),
    "untyped_timeout": (_set("tasks", "transform", "execution_timeout", value=600), None),  # BaseOperator refuses a number
    "string_timeout": (_set("tasks", "validate_input", "execution_timeout", value="10m"), None),
    "untyped_retry_delay": (_set("default_args", "retry_delay", value=120), None),  # a number: BaseOperator converts it
    "string_retry_delay": (_set("default_args", "retry_delay", value="5m"), None),
    "task_over_an_hour": (_set("tasks", "transform", "execution_timeout", value=sd.duration(3601)), f"60 minutes a task ({USER_GUIDE})"),
    "retries_4": (_set("default_args", "retries", value=4), f"retries 0-3 ({USER_GUIDE})"),
    "retry_delay_over_300": (_set("default_args", "retry_delay", value=301), f"retry_delay at most 300 s ({USER_GUIDE})"),
    "off_the_allowlist": (
        _set("tasks", "transform", "operator", value="airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator"),
        "operators on the allowlist only (serverless/operators.json, the user guide's operator list)",
    ),
    "bad_cron": (_set("schedule", value="61 4 * * 1-5"), None),  # Airflow's timetable refuses minute 61
    "two_dags": (_two_dags, f"one DAG per file ({USER_GUIDE})"),
}


def _document(lite: StackRun, name: str) -> dict:
    document = yaml.safe_load(object_body(workflow_definition(lite)))
    edit, _ = CASES[name]
    if edit is not None:
        edit(document)
    return document


def _with_definition(run: StackRun, document: dict) -> StackRun:
    edited = copy.deepcopy(run)
    workflow_definition(edited).inputs["content"] = sd.render_definition(document)
    return edited


@pytest.fixture(scope="module")
def lite() -> StackRun:
    return run_stack("lite")


@pytest.fixture(scope="module")
def service_refused(lite: StackRun) -> dict[str, str]:
    """Each case dag-factory 1.0.1 refuses to load in the service's Airflow, with its error."""
    python = airflow_env.with_requirements(sd.AIRFLOW_VERSION, SERVERLESS_REQUIREMENTS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "definitions"
        folder.mkdir()
        for name in CASES:
            (folder / f"{name}.yaml").write_text(sd.render_definition(_document(lite, name)))
        done = subprocess.run(
            [str(python), "-c", SERVICE_LOADER, str(folder)],
            capture_output=True,
            text=True,
            env=airflow_env.airflow_environ(Path(tmp) / "airflow", {"AIRFLOW__CORE__DAGS_FOLDER": str(folder)}),
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ours(lite: StackRun) -> dict[str, dict]:
    return {name: check_workflow(_with_definition(lite, _document(lite, name)), stack_settings("lite"), WEEK_OF).report for name in CASES}


def test_the_shipped_definition_loads_as_the_service_loads_it(service_refused: dict[str, str]):
    assert "shipped" not in service_refused, service_refused.get("shipped")


def test_a_plain_number_timeout_is_refused_by_the_services_loader(service_refused: dict[str, str]):
    """What makes this differential able to fail: the service's side does refuse what a conversion of ours would pass."""
    assert "execution_timeout must be timedelta" in service_refused["untyped_timeout"]


@pytest.mark.parametrize("name", list(CASES))
def test_our_check_loads_exactly_what_the_service_loads(name: str, ours: dict[str, dict], service_refused: dict[str, str]):
    assert bool(ours[name]["import_errors"]) == (name in service_refused), (ours[name]["import_errors"], service_refused.get(name))


@pytest.mark.parametrize("name", list(CASES))
def test_our_verdict_is_the_services_verdict(name: str, ours: dict[str, dict], service_refused: dict[str, str]):
    documented = CASES[name][1]
    refused_by_service = documented is not None or name in service_refused
    assert bool(ours[name]["problems"]) == refused_by_service, (ours[name]["problems"], documented, service_refused.get(name))
