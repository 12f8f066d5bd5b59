"""The offline tools: the main job and its checks, run without AWS or the Pulumi CLI.

Importing this package keeps bytecode after a module's first import, for this process and every process it starts,
even where PYTHONDONTWRITEBYTECODE is set (as on the machine these figures come from). Without it every process compiled
everything it imported, every time (`import airflow` with the Amazon provider: 8.2 s instead of 3.5 s); compiling all
of site-packages at install instead (uv --compile-bytecode) cost 79 CPU-s for .venv and 14 per Airflow environment, ten
times the bytecode any run imports. The bytecode goes where Python puts it by default, `__pycache__` beside each
module, which git, the DAG upload and the plugins zip leave out.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
