"""How long the DAG file takes to parse, against the `import airflow` baseline.

    .venv/bin/python bench/dag_parse.py [runs]      (default 5 fresh processes)

Each run is a fresh interpreter (as a DAG processor's parse is) that times:
`import airflow`; the first parse of the DAG file (which also imports the
Amazon provider's operators); and a warm re-parse (the scheduler's steady
state). The DAG folder holds the DAG and the dev stack's rendered config.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.harness import PROJECT_DIR, run_stack

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
t2 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
warm = []
for _ in range(10):
    s = time.perf_counter(); DagBag(dag_folder=sys.argv[1], include_examples=False); warm.append(time.perf_counter() - s)
print("RESULT", json.dumps({"import_airflow": t1 - t0, "first_parse": t2 - t1, "warm_parse": min(warm)}))
"""


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dags"
        shutil.copytree(PROJECT_DIR / "dags", folder, ignore=shutil.ignore_patterns("__pycache__", "pipeline_config.json"))
        (folder / "pipeline_config.json").write_text(run_stack("dev").by_name("pipeline-dag-config").inputs["content"])
        env = os.environ | {"AIRFLOW_HOME": tmp, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        samples = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", PROBE, str(folder)], env=env, capture_output=True, text=True, check=True)
            (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]  # Airflow logs to stdout too
            samples.append(json.loads(line.removeprefix("RESULT ")))
    print(f"DAG parse time, median of {runs} fresh processes (min of 10 for warm re-parses):")
    for key, label in (
        ("import_airflow", "import airflow (baseline)"),
        ("first_parse", "first parse of the DAG file"),
        ("warm_parse", "warm re-parse of the DAG file"),
    ):
        print(f"    {label:<34}{statistics.median(s[key] for s in samples) * 1000:>9.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
