# Sourced by bin/offline and bin/test. Where PYTHONDONTWRITEBYTECODE is set (as on this machine), every process would
# compile everything it imports, every time (`import airflow` with the Amazon provider: 8.2 s instead of 3.5 s).
# Compiling all of site-packages at install instead (uv --compile-bytecode) cost 79 CPU-s for .venv and 14 per Airflow
# environment, for ten times the bytecode any run imports. So Python compiles each module the first time a process
# imports it and keeps it under .cache/pycache (PYTHONPYCACHEPREFIX): nothing is written into the source tree, as the
# setting asks, and `rm -rf .cache` clears it.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then
  export PYTHONPYCACHEPREFIX="$PWD/.cache/pycache"
  unset PYTHONDONTWRITEBYTECODE
fi
