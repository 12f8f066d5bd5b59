# Sourced by bin/offline and bin/test. Where PYTHONDONTWRITEBYTECODE is set (as on this machine), every process compiles
# everything it imports, every time (`import airflow` with the Amazon provider: 8.2 s instead of 3.5 s). Compiling all
# of site-packages at install instead (uv --compile-bytecode) cost 79 CPU-s for .venv and 14 per Airflow environment,
# ten times the bytecode any run imports. So Python does what it does by default: it compiles a module at its first
# import, beside it in __pycache__ (which git, the DAG upload and the plugins zip all leave out).
unset PYTHONDONTWRITEBYTECODE
