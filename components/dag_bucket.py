"""The MWAA source bucket: DAG files under dags/, requirements.txt at the root.

Each DAG file is its own S3 object, so editing a DAG changes one object and
nothing the environment reads: workers pick it up in about a minute, with no
20-30 minute environment update. The requirements object's version id is the
one input that ties this bucket to the environment.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.secure_bucket import SecureBucket, SecureBucketArgs

DAG_PREFIX = "dags"
REQUIREMENTS_KEY = "requirements.txt"
#: Rendered by the pipeline component into dags/, never uploaded from disk.
PIPELINE_CONFIG_FILE = "pipeline_config.json"
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


def dag_files(dags_dir: Path, requirements_file: Path) -> list[Path]:
    """Files to upload under dags/, in a stable order (requirements go to the root)."""
    files = []
    for path in sorted(dags_dir.rglob("*")):
        if (
            path.is_file()
            and not _SKIPPED_PARTS.intersection(path.relative_to(dags_dir).parts)
            and path.suffix != ".pyc"
            and path.name != PIPELINE_CONFIG_FILE
            and path.resolve() != requirements_file.resolve()
        ):
            files.append(path)
    return files


def _upload(name: str, bucket: pulumi.Input[str], key: str, path: Path, opts: pulumi.ResourceOptions) -> aws.s3.BucketObjectv2:
    return aws.s3.BucketObjectv2(
        name,
        bucket=bucket,
        key=key,
        source=pulumi.FileAsset(str(path)),
        source_hash=hashlib.sha256(path.read_bytes()).hexdigest(),
        content_type=mimetypes.guess_type(path.name)[0] or "text/plain",
        opts=opts,
    )


@dataclass(frozen=True)
class DagBucketArgs:
    dags_dir: Path
    requirements_file: Path
    noncurrent_version_expiration_days: int
    protect: bool


class DagBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    requirements_object_version: pulumi.Output[str]
    dag_keys: list[str]

    def __init__(self, name: str, args: DagBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:storage:DagBucket", name, None, opts)
        storage = SecureBucket(
            f"{name}-storage",
            SecureBucketArgs(args.noncurrent_version_expiration_days, args.protect),
            pulumi.ResourceOptions(parent=self),
        )
        after_versioning = pulumi.ResourceOptions(parent=self, depends_on=[storage.versioning])
        self.dag_keys = []
        for path in dag_files(args.dags_dir, args.requirements_file):
            relative = path.relative_to(args.dags_dir).as_posix()
            key = f"{DAG_PREFIX}/{relative}"
            _upload(f"{name}-{relative.replace('/', '-')}", storage.bucket_name, key, path, after_versioning)
            self.dag_keys.append(key)
        requirements = _upload(f"{name}-requirements", storage.bucket_name, REQUIREMENTS_KEY, args.requirements_file, after_versioning)

        self.bucket_name = storage.bucket_name
        self.bucket_arn = storage.bucket_arn
        self.requirements_object_version = requirements.version_id
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "requirements_object_version": self.requirements_object_version,
                "dag_keys": self.dag_keys,
            }
        )
