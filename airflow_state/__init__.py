"""Airflow's state across a re-created environment, through Airflow 3's public REST API only.

Every duty-cycle pause deletes the environment and its metadata database. `snapshot.export` reads what a team would
miss (Variables, pools, DAG pause states, finished runs with their task states and notes; the Connections it cannot
carry, by name) and `snapshot.restore` writes it into the new environment. Both take one `api.Call`, so the same code
runs against MWAA (`mwaa.py`: `InvokeRestApi`, IAM-authenticated) and, offline, against Airflow's own API application
in-process (offline/airflow_side/state_round_trip.py). `python -m airflow_state` is the command the duty-cycle job and
a person moving an environment run.
"""
