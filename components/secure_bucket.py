"""An S3 bucket with the guardrails every bucket here needs.

Versioning (MWAA pins requirements by object version), all four public-access
blocks, SSE-S3 encryption, a TLS-only policy, and expiry of old versions so that
versioning does not grow storage forever.

S3 may store objects written in the first minutes after versioning is first
enabled without a version id, so nothing is written before `writable` (a
one-time wait, repeated only if the bucket is replaced).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumiverse_time as time

#: AWS: "We recommend that you wait for 15 minutes after enabling versioning before issuing write operations (PUT or
#: DELETE) on objects in the bucket" (S3 user guide, "Enabling versioning on buckets"; pulumi-aws BucketVersioning docs).
VERSIONING_SETTLE = "15m"


@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    noncurrent_version_expiration_days: int
    protect: bool
    #: A customer-managed key for default encryption (SSE-KMS); None: SSE-S3.
    kms_key_arn: pulumi.Input[str] | None = None


class SecureBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    versioning: aws.s3.BucketVersioning
    #: Objects wait for this: versioning enabled, then VERSIONING_SETTLE, once per bucket.
    writable: pulumi.Resource

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": (
                        {"sse_algorithm": "aws:kms", "kms_master_key_id": args.kms_key_arn}
                        if args.kms_key_arn
                        else {"sse_algorithm": "AES256"}
                    ),
                    "bucket_key_enabled": True,  # one data key per bucket, not per object: fewer KMS requests
                }
            ],
            opts=child,
        )
        # Objects are written once versioning has settled and default encryption (prod: its KMS key) is in place, by
        # dependency rather than by timing: an object written first would keep the bucket's previous encryption.
        self.writable = time.Sleep(
            f"{name}-versioning-settled",
            create_duration=VERSIONING_SETTLE,
            triggers={"bucket": bucket.id},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning, encryption]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-noncurrent-versions",
                    "status": "Enabled",
                    "filter": {},
                    "noncurrent_version_expiration": {"noncurrent_days": args.noncurrent_version_expiration_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]),
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            # S3 rejects policy writes while the public-access block is being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
