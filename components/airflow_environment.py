"""The MWAA environment, its least-privilege execution role and its log groups.

The environment's name is given once; the role's ARNs (PublishMetrics, the
`airflow-<name>-*` log groups, the confused-deputy condition) all derive from it.
So while a duty cycle pauses the environment (`running=False`), the role and the
log groups stay exactly as they are, and a resume recreates only the environment,
under the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.dag_bucket import PLUGINS_KEY, STARTUP_SCRIPT_KEY
from components.iam import allow, pipeline_task_statements, policy_document, trust_policy
from names import environment_log_groups


@dataclass(frozen=True, kw_only=True)
class AirflowEnvironmentArgs:
    environment_name: str
    region: str
    airflow_version: str
    environment_class: str
    schedulers: int
    min_workers: int
    max_workers: int
    min_webservers: int
    max_webservers: int
    webserver_access_mode: str
    weekly_maintenance_window_start: str
    airflow_configuration_options: dict[str, Any]
    #: Keyed by MWAA's log types (LOG_TYPES); every type is enabled.
    log_levels: dict[str, str]
    log_retention_days: int
    #: Deleting or replacing the environment needs an explicit `pulumi state unprotect` (prod).
    protect: bool
    source_bucket_arn: pulumi.Input[str]
    #: The requirements.txt object's version id (None: no requirements file).
    requirements_object_version: pulumi.Input[str] | None
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    #: What the DAG's tasks act on, and nothing else: the Lambda, the Glue job and the alert topic.
    function_arn: pulumi.Input[str]
    job_arn: pulumi.Input[str]
    alert_topic_arn: pulumi.Input[str]
    #: The Secrets Manager prefixes the environment reads Connections and Variables from (components/airflow_secrets.py).
    secret_prefixes: list[str] = field(default_factory=list)
    #: The startup script and plugins objects' version ids (None: not used).
    startup_script_object_version: pulumi.Input[str] | None = None
    plugins_object_version: pulumi.Input[str] | None = None
    #: A customer-managed key (None: MWAA's AWS-owned key): the environment, its log groups and the role use it.
    kms_key_arn: pulumi.Input[str] | None = None
    #: False while the duty cycle pauses it: no environment (role, policy and log groups stay).
    running: bool = True
    #: NAT gateways and private default routes: created before the environment so it never starts without egress.
    egress: list[pulumi.Resource] = field(default_factory=list)
    #: The duty cycle's active hours, as tags the cost model reads.
    usage_tags: dict[str, str] = field(default_factory=dict)


class AirflowEnvironment(pulumi.ComponentResource):
    arn: pulumi.Output[str | None]
    webserver_url: pulumi.Output[str | None]
    execution_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AirflowEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:airflow:AirflowEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env = args.environment_name
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        def arn(service: str, resource: str, region: pulumi.Input[str] = args.region, acct: pulumi.Input[str] = account):
            return pulumi.Output.concat("arn:", partition, ":", service, ":", region, ":", acct, ":", resource)

        environment_arn = arn("airflow", f"environment/{env}")
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-logs-{log_type.lower()}",
                name=group,
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                opts=child,
            )
            for log_type, group in environment_log_groups(env).items()  # MWAA's fixed names: pre-created for retention
        ]

        role = aws.iam.Role(
            f"{name}-execution-role",
            description=f"MWAA execution role for {env}",
            assume_role_policy=trust_policy(
                "airflow.amazonaws.com",
                "airflow-env.amazonaws.com",
                condition={"StringEquals": {"aws:SourceAccount": account}, "ArnLike": {"aws:SourceArn": environment_arn}},
            ),
            opts=child,
        )
        bucket_objects = pulumi.Output.concat(args.source_bucket_arn, "/*")
        role_policy = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=role.id,
            policy=policy_document(
                allow(["airflow:PublishMetrics"], [environment_arn], "PublishMetrics"),
                {
                    "Sid": "NoBucketListing",
                    "Effect": "Deny",
                    "Action": ["s3:ListAllMyBuckets"],
                    "Resource": [args.source_bucket_arn, bucket_objects],
                },
                allow(["s3:GetObject*", "s3:GetBucket*", "s3:List*"], [args.source_bucket_arn, bucket_objects], "ReadSourceBucket"),
                allow(
                    [
                        "logs:CreateLogStream",
                        "logs:CreateLogGroup",
                        "logs:PutLogEvents",
                        "logs:GetLogEvents",
                        "logs:GetLogRecord",
                        "logs:GetLogGroupFields",
                        "logs:GetQueryResults",
                    ],
                    [arn("logs", f"log-group:airflow-{env}-*")],
                    "WriteOwnLogGroups",
                ),
                # These three APIs have no resource-level scoping.
                allow(["logs:DescribeLogGroups", "cloudwatch:PutMetricData", "s3:GetAccountPublicAccessBlock"], ["*"], "UnscopableReads"),
                allow(
                    [
                        "sqs:ChangeMessageVisibility",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:GetQueueUrl",
                        "sqs:ReceiveMessage",
                        "sqs:SendMessage",
                    ],
                    [arn("sqs", "airflow-celery-*", acct="*")],
                    "CeleryQueueInAwsAccount",
                ),
                self._key_statement(args, arn("kms", "key/*", region="*")),
                *pipeline_task_statements(args.function_arn, args.job_arn),
                allow(["sns:Publish"], [args.alert_topic_arn], "DagPublishesAlerts"),
                *self._secret_statements(args, arn),
            ),
            opts=child,
        )

        self.execution_role_arn = role.arn
        if args.running:
            environment = self._environment(name, args, role, [role_policy, *log_groups, *args.egress])
            self.arn = environment.arn
            self.webserver_url = environment.webserver_url.apply(lambda host: f"https://{host}" if host else "")
        else:
            self.arn = self.webserver_url = pulumi.Output.from_input(None)
        self.register_outputs({"arn": self.arn, "webserver_url": self.webserver_url, "execution_role_arn": self.execution_role_arn})

    @staticmethod
    def _secret_statements(args: AirflowEnvironmentArgs, arn: Callable[..., pulumi.Output[str]]) -> list[dict]:
        """Its own prefixes only (AWS's MWAA guide for the Secrets Manager backend); ListSecrets has no resource scope."""
        if not args.secret_prefixes:
            return []
        actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds",
                   "secretsmanager:GetResourcePolicy"]  # fmt: skip
        own: list[pulumi.Input[str]] = [arn("secretsmanager", f"secret:{prefix}/*") for prefix in args.secret_prefixes]
        return [allow(actions, own, "ReadOwnSecrets"), allow(["secretsmanager:ListSecrets"], ["*"], "ListSecrets")]

    @staticmethod
    def _key_statement(args: AirflowEnvironmentArgs, own_account_keys: pulumi.Output[str]) -> dict:
        """The queue's (and bucket's) key: AWS-owned (any key outside this account, via SQS) or the one customer key."""
        kms_actions = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"]
        if args.kms_key_arn is None:
            return {
                "Sid": "AwsOwnedKeyViaSqs",
                "Effect": "Allow",
                "Action": kms_actions,
                "NotResource": own_account_keys,
                "Condition": {"StringLike": {"kms:ViaService": [f"sqs.{args.region}.amazonaws.com"]}},
            }
        services = [f"sqs.{args.region}.amazonaws.com", f"s3.{args.region}.amazonaws.com"]
        if args.secret_prefixes:  # the declared secrets are encrypted with it too
            services.append(f"secretsmanager.{args.region}.amazonaws.com")
        return allow(kms_actions, [args.kms_key_arn], "CustomerKeyViaSqsAndS3", Condition={"StringLike": {"kms:ViaService": services}})

    def _environment(
        self, name: str, args: AirflowEnvironmentArgs, role: aws.iam.Role, prerequisites: list[pulumi.Resource]
    ) -> aws.mwaa.Environment:
        levels = args.log_levels
        return aws.mwaa.Environment(
            f"{name}-environment",
            name=args.environment_name,
            airflow_version=args.airflow_version,
            environment_class=args.environment_class,
            schedulers=args.schedulers,
            min_workers=args.min_workers,
            max_workers=args.max_workers,
            min_webservers=args.min_webservers,
            max_webservers=args.max_webservers,
            webserver_access_mode=args.webserver_access_mode,
            weekly_maintenance_window_start=args.weekly_maintenance_window_start,
            airflow_configuration_options=args.airflow_configuration_options,
            execution_role_arn=role.arn,
            source_bucket_arn=args.source_bucket_arn,
            dag_s3_path="dags",
            requirements_s3_path="requirements.txt",
            requirements_s3_object_version=args.requirements_object_version,
            startup_script_s3_path=STARTUP_SCRIPT_KEY if args.startup_script_object_version else None,
            startup_script_s3_object_version=args.startup_script_object_version,
            plugins_s3_path=PLUGINS_KEY if args.plugins_object_version else None,
            plugins_s3_object_version=args.plugins_object_version,
            kms_key=args.kms_key_arn,
            network_configuration={"security_group_ids": [args.security_group_id], "subnet_ids": args.subnet_ids},
            logging_configuration={
                "dag_processing_logs": {"enabled": True, "log_level": levels["DAGProcessing"]},
                "scheduler_logs": {"enabled": True, "log_level": levels["Scheduler"]},
                "task_logs": {"enabled": True, "log_level": levels["Task"]},
                "webserver_logs": {"enabled": True, "log_level": levels["WebServer"]},
                "worker_logs": {"enabled": True, "log_level": levels["Worker"]},
            },
            tags=args.usage_tags or None,
            # IAM is eventually consistent: creating before the policy lands fails with ValidationException. Without
            # its NAT route the environment hangs in "Creating"; on a resume nothing else would make it wait for one.
            # The name is fixed, so a replacement (kmsKey, subnets) must delete the old environment first.
            # `protect` (prod): deleting or replacing it needs an explicit `pulumi state unprotect`.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=prerequisites,
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create="2h", update="2h", delete="2h"),
            ),
        )
