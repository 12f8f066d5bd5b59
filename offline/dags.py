"""The DAG integrity check before deploy: the exact folder MWAA would get, parsed by the stack's Airflow.

`pulumi up` fills s3://<dag bucket>/dags/ with every file under dags/ and the rendered pipeline_config.json. This
writes that same set of objects, from the mocked run, into a folder, and parses it with `DagBag` in the stack's
Airflow version (MWAA's package set, offline/airflow_env.py): import errors with file and line, cycles, scheduled
DAGs without a next run, and each file's parse time against MWAA's `dagbag_import_timeout`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.dag_bucket import DAG_PREFIX
from offline import airflow_env
from offline.harness import StackRun, object_body


@dataclass
class DagCheck:
    stack: str
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return not self.report["problems"]


def render_dag_folder(run: StackRun, folder: Path) -> Path:
    """The DAG bucket's dags/ prefix as the recorded program would upload it, written to `folder`."""
    bucket = run.by_name("dags-storage-bucket").outputs["bucket"]
    for obj in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2"):
        key = obj.inputs["key"]
        if obj.inputs["bucket"] == bucket and key.startswith(f"{DAG_PREFIX}/"):
            target = folder / key.removeprefix(f"{DAG_PREFIX}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(object_body(obj))
    return folder


def check_dags(run: StackRun, version: str) -> DagCheck:
    with tempfile.TemporaryDirectory(prefix="mwaa-dags-") as tmp:
        folder = render_dag_folder(run, Path(tmp) / "dags")
        report = airflow_env.run(
            version, "offline.airflow_side.check_dags", [str(folder)], Path(tmp) / "airflow", AIRFLOW__CORE__DAGS_FOLDER=str(folder)
        )
    return DagCheck(run.stack, report)


def render(check: DagCheck) -> str:
    report = check.report
    lines = [f"DAGs of stack {check.stack} on Airflow {report['airflow']} (Python {report['python']}), as MWAA would parse them:"]
    timeout = report["timeout_seconds"]
    for f in report["files"]:
        share = f["seconds"] / timeout
        lines.append(f"    {f['file']:<40} {f['seconds'] * 1000:8.1f} ms  ({share:.1%} of dagbag_import_timeout {timeout:g} s)")
    for dag in report["dags"]:
        lines.append(f"    DAG {dag['dag_id']:<36} {dag['schedule']}, first run {dag['first_run'] or 'none'}")
    lines += [f"    problem: {problem}" for problem in report["problems"]]
    verdict = "PASSED" if check.passed else "FAILED"
    lines.append(f"{check.stack}: DAGs {verdict}: {len(report['dags'])} DAGs, {len(report['problems'])} problems")
    return "\n".join(lines)
