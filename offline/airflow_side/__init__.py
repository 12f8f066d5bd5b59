"""Code that runs inside the local Airflow (.venv-airflow/<version>): the standard library, Airflow and its providers only.

The toolchain side (pulumi, the pack, moto) starts it as a subprocess (offline/airflow_env.py) and talks JSON over
stdin and stdout, so each side keeps exactly its own package set.
"""

#: The environment variable naming where the session keeps, per interpreter (`{interpreter}`), the empty metadata
#: database its first Airflow-side process migrated (set by offline/airflow_env.py, read by compat.new_database).
EMPTY_DATABASE = "OFFLINE_EMPTY_DATABASE"
