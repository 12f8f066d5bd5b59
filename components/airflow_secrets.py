"""The Connections and Variables an environment reads from Secrets Manager, declared by name in config.

AWS's MWAA guide ("Configuring an Apache Airflow connection using a Secrets Manager secret"): Airflow's
`SecretsManagerBackend` looks a Connection up under `connections_prefix` and a Variable under `variables_prefix`
before the environment variables and the metadata database. With per-stack prefixes (names.secret_prefixes), the
execution role reads this stack's secrets only, and a pause, which deletes the metadata database, loses none of
them. This component creates each declared secret without a value: the value is set outside git
(`aws secretsmanager put-secret-value`, docs/duty-cycle.md), so no secret is in the repository or the Pulumi state.
A kind with nothing declared gets a null prefix, so Airflow never asks Secrets Manager for it (each lookup is billed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import names

BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"


@dataclass(frozen=True, kw_only=True)
class AirflowSecretsArgs:
    environment_name: str
    connections: list[str]
    variables: list[str]
    #: The stack's customer-managed key (None: Secrets Manager's AWS-managed key).
    kms_key_arn: pulumi.Input[str] | None = None
    protect: bool = False


class AirflowSecrets(pulumi.ComponentResource):
    #: The `secrets.*` options for the environment ({} when nothing is declared).
    configuration_options: dict[str, str]
    #: kind -> prefix, for each kind with declared names: what the execution role may read.
    prefixes: dict[str, str]

    def __init__(self, name: str, args: AirflowSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:airflow:AirflowSecrets", name, None, opts)
        declared = {"connections": args.connections, "variables": args.variables}
        all_prefixes = names.secret_prefixes(args.environment_name)
        self.prefixes = {kind: all_prefixes[kind] for kind, items in declared.items() if items}
        for kind, items in declared.items():
            for item in items:
                aws.secretsmanager.Secret(
                    f"{name}-{kind[:-1]}-{item}",
                    name=f"{all_prefixes[kind]}/{item}",
                    description=f"Airflow {kind[:-1]} {item} of {args.environment_name}; its value is set outside git (docs/duty-cycle.md)",
                    kms_key_id=args.kms_key_arn,
                    opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
                )
        kwargs = {f"{kind}_prefix": self.prefixes.get(kind) for kind in declared}
        self.configuration_options = {"secrets.backend": BACKEND, "secrets.backend_kwargs": json.dumps(kwargs)} if self.prefixes else {}
        self.register_outputs({"prefixes": self.prefixes})
