"""A customer-managed KMS key for one MWAA environment (`mwaa.kms: create`).

MWAA then encrypts its metadata, the SQS queue and the logs with this key instead
of an AWS-owned one, so the key's own audit trail and policy govern them. The key
rotates yearly. Its policy is what MWAA documents for a customer-managed key:
the account administers it through IAM, and CloudWatch Logs may use it only for
this environment's `airflow-<name>-*` log groups. The execution role gets its
use via SQS and S3 (components/airflow_environment.py), and the DAG bucket's
default encryption uses it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

import names
from components.iam import policy_document


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    environment_name: str
    region: str
    protect: bool


class EncryptionKey(pulumi.ComponentResource):
    key_arn: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:security:EncryptionKey", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        env = args.environment_name
        key = aws.kms.Key(
            f"{name}-key",
            description=f"MWAA environment {env}: metadata, queue, logs and DAG bucket",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_document(
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account, ":root")},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsForThisEnvironment",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                                "arn:", partition, ":logs:", args.region, ":", account, ":log-group:airflow-", env, "-*"
                            )
                        }
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        alias = aws.kms.Alias(
            f"{name}-alias", name=names.kms_alias(env), target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=self)
        )
        self.key_arn = key.arn
        self.alias_name = alias.name
        self.register_outputs({"key_arn": self.key_arn, "alias_name": self.alias_name})
