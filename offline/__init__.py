"""The offline tools: the main job and its checks, run without AWS or the Pulumi CLI.

Importing this package keeps bytecode after a module's first import, for this process and every process it starts,
even where PYTHONDONTWRITEBYTECODE is set: otherwise every process compiles everything it imports, every time (Airflow
with the Amazon provider more than doubles its import time that way), and compiling all of site-packages at install
(uv --compile-bytecode) compiles many times what any run imports. The bytecode goes where Python puts it by default,
`__pycache__` beside each module, which git, the DAG upload and the plugins zip leave out.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
