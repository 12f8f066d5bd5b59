"""How long the DAG file takes to parse, against the `import airflow` baseline, per supported Airflow.

    .venv/bin/python bench/dag_parse.py [runs] [version ...]   (default 5 fresh processes, every supported version)

Each run is a fresh interpreter of that version's local Airflow (MWAA's package set, .venv-airflow/<version>), as a
DAG processor's parse is, that times: `import airflow`; the first parse of the DAG file (which also imports the
Amazon provider's operators); and a warm re-parse (the scheduler's steady state). The DAG folder is what `pulumi up`
uploads for dev: the DAG and the rendered config.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from offline.airflow_env import airflow_environ, ensure, versions
from offline.dags import render_dag_folder
from offline.harness import run_stack

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
from offline.airflow_side.compat import dag_bag
bag = dag_bag(sys.argv[1])
t2 = time.perf_counter()
assert not bag.import_errors, bag.import_errors
warm = []
for _ in range(10):
    s = time.perf_counter(); dag_bag(sys.argv[1]); warm.append(time.perf_counter() - s)
print("RESULT", json.dumps({"import_airflow": t1 - t0, "first_parse": t2 - t1, "warm_parse": min(warm)}))
"""


def main(runs: int, chosen: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = render_dag_folder(run_stack("dev"), Path(tmp) / "dags")
        env = airflow_environ(Path(tmp) / "airflow", {"AIRFLOW__CORE__DAGS_FOLDER": str(folder)})
        print(f"DAG parse time, median of {runs} fresh processes (min of 10 for warm re-parses):")
        for version in chosen:
            python, samples = str(ensure(version)), []
            for _ in range(runs):
                done = subprocess.run([python, "-c", PROBE, str(folder)], env=env, capture_output=True, text=True, check=True)
                (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]  # Airflow logs to stdout
                samples.append(json.loads(line.removeprefix("RESULT ")))
            figures = [
                f"{statistics.median(s[key] for s in samples) * 1000:9.1f} ms" for key in ("import_airflow", "first_parse", "warm_parse")
            ]
            print(f"    Airflow {version}: import airflow {figures[0]}   first parse {figures[1]}   warm re-parse {figures[2]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5, sys.argv[2:] or versions())
