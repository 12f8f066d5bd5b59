"""The file that lets Airflow's DagBag read an MWAA Serverless definition, as the service reads it.

The service loads a definition with dag-factory (1.0.1, serverless/requirements.txt) and nothing of ours: durations
reach Airflow as written, so a plain number for `execution_timeout` fails here as it fails there (dag-factory converts
only `__type__`-tagged values, `utils.cast_with_type`). The offline tools write this beside the definition; it imports
only dag-factory, never the project ("airflow" and "dag" in its text are what DagBag's safe mode looks for).
"""

LOADER = """# airflow DAG loader for an MWAA Serverless definition, written by the offline tools (the service itself needs none)
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_name("{definition}")))
"""
