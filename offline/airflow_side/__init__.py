"""Code that runs inside the local Airflow (.venv-airflow/<version>): the standard library, Airflow and its providers only.

The toolchain side (pulumi, the pack, moto) starts it as a subprocess (offline/airflow_env.py) and talks JSON over
stdin and stdout, so each side keeps exactly its own package set.
"""
