"""The MWAA source bucket: DAG files and the rendered pipeline_config.json under dags/; requirements.txt, startup.sh
and plugins.zip at the root. This component writes every one of those objects.

Each DAG file is its own S3 object, so editing a DAG changes one object and
nothing the environment reads: workers pick it up in about a minute, with no
20-30 minute environment update. The requirements, startup script and plugins
objects' version ids are the inputs that tie this bucket to the environment, so
each of them changes only when its own content does. plugins.zip is therefore
built byte for byte reproducibly: sorted entries, fixed timestamps and modes,
stored uncompressed (compressed bytes could differ between zlib builds).
"""

from __future__ import annotations

import base64
import hashlib
import io
import mimetypes
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.secure_bucket import SecureBucket, SecureBucketArgs

DAG_PREFIX = "dags"
REQUIREMENTS_KEY = "requirements.txt"
STARTUP_SCRIPT_KEY = "startup.sh"
PLUGINS_KEY = "plugins.zip"
#: Rendered from the pipeline's outputs into dags/, never uploaded from disk.
PIPELINE_CONFIG_FILE = "pipeline_config.json"
#: Where the config object was registered before this component owned it (PipelineAssets "pipeline" wrote it as
#: "pipeline-dag-config"): the alias lets a stack deployed then adopt the object instead of deleting and rewriting it.
_CONFIG_FORMER_NAME, _CONFIG_FORMER_PARENT = "pipeline-dag-config", ("pipeline", "mwaa:pipeline:PipelineAssets")
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


def _source_files(folder: Path) -> list[Path]:
    """The folder's files in a stable order, without caches (judged by the parts inside the folder, not above it)."""
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.relative_to(folder).parts) and path.suffix != ".pyc"
    ]


def dag_files(dags_dir: Path, *root_files: Path) -> list[Path]:
    """Files to upload under dags/ (requirements and the startup script go to the root; the config is rendered)."""
    kept_out = {f.resolve() for f in root_files}
    return [path for path in _source_files(dags_dir) if path.name != PIPELINE_CONFIG_FILE and path.resolve() not in kept_out]


def plugins_zip(folder: Path) -> bytes:
    """The folder as a zip whose bytes depend only on the files' paths and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in _source_files(folder):
            entry = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o100644 << 16  # a regular file, rw-r--r--, whatever the checkout's modes
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


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


class UnversionedObjectError(pulumi.RunError):
    """An object MWAA references by version id was stored without one."""


def version_for_mwaa(obj: aws.s3.BucketObjectv2) -> pulumi.Output[str]:
    """The object's version id, which MWAA requires: S3's "null" (written unversioned) or none is an error, never passed on."""

    def check(found: list) -> str:
        version, bucket, key, urn = found
        if version in (None, "", "null"):
            raise UnversionedObjectError(
                f"s3://{bucket}/{key} has no version id (S3 stored it before versioning took effect), and MWAA needs one. "
                f"Upload it again: pulumi up --replace '{urn}'"
            )
        return version

    return pulumi.Output.all(obj.version_id, obj.bucket, obj.key, obj.urn).apply(check)


@dataclass(frozen=True, kw_only=True)
class DagBucketArgs:
    #: The DAG folder and requirements.txt of a provisioned environment (None: a serverless stack uploads neither).
    dags_dir: Path | None
    requirements_file: Path | None
    noncurrent_version_expiration_days: int
    protect: bool
    startup_script: Path | None = None
    plugins_dir: Path | None = None
    #: A customer-managed key for the bucket's default encryption; None: SSE-S3.
    kms_key_arn: pulumi.Input[str] | None = None
    #: The names and settings the DAG reads, rendered to dags/pipeline_config.json (None: a serverless stack).
    pipeline_config: Mapping[str, pulumi.Input[Any]] | None = None


class DagBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    #: None when the stack has no requirements file (serverless).
    requirements_object_version: pulumi.Output[str] | None
    #: None when the stack has no startup script / plugins folder.
    startup_script_object_version: pulumi.Output[str] | None
    plugins_object_version: pulumi.Output[str] | None
    dag_keys: list[str]
    #: Versioning enabled and settled: every object written into this bucket waits for it.
    writable: pulumi.Resource

    def __init__(self, name: str, args: DagBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:storage:DagBucket", name, None, opts)
        storage = SecureBucket(
            f"{name}-storage",
            SecureBucketArgs(
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                protect=args.protect,
                kms_key_arn=args.kms_key_arn,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        after_versioning = pulumi.ResourceOptions(parent=self, depends_on=[storage.writable])
        self.dag_keys = []
        if args.dags_dir is not None:
            for path in dag_files(args.dags_dir, *filter(None, [args.requirements_file, args.startup_script])):
                relative = path.relative_to(args.dags_dir).as_posix()
                key = f"{DAG_PREFIX}/{relative}"
                _upload(f"{name}-{relative.replace('/', '-')}", storage.bucket_name, key, path, after_versioning)
                self.dag_keys.append(key)
        if args.pipeline_config is not None:
            key = f"{DAG_PREFIX}/{PIPELINE_CONFIG_FILE}"
            aws.s3.BucketObjectv2(
                f"{name}-pipeline-config",
                bucket=storage.bucket_name,
                key=key,
                content_type="application/json",
                content=pulumi.Output.json_dumps(dict(args.pipeline_config)),
                opts=pulumi.ResourceOptions.merge(
                    after_versioning,
                    pulumi.ResourceOptions(
                        aliases=[pulumi.Alias(name=_CONFIG_FORMER_NAME, parent=pulumi.create_urn(*_CONFIG_FORMER_PARENT))]
                    ),
                ),
            )
            self.dag_keys.append(key)
        self.requirements_object_version = None
        if args.requirements_file:
            requirements = _upload(f"{name}-requirements", storage.bucket_name, REQUIREMENTS_KEY, args.requirements_file, after_versioning)
            self.requirements_object_version = version_for_mwaa(requirements)
        self.startup_script_object_version = None
        if args.startup_script:
            startup = _upload(f"{name}-startup-script", storage.bucket_name, STARTUP_SCRIPT_KEY, args.startup_script, after_versioning)
            self.startup_script_object_version = version_for_mwaa(startup)
        self.plugins_object_version = None
        if args.plugins_dir:
            archive = plugins_zip(args.plugins_dir)
            plugins = aws.s3.BucketObjectv2(
                f"{name}-plugins",
                bucket=storage.bucket_name,
                key=PLUGINS_KEY,
                content_base64=base64.b64encode(archive).decode(),
                source_hash=hashlib.sha256(archive).hexdigest(),
                content_type="application/zip",
                opts=after_versioning,
            )
            self.plugins_object_version = version_for_mwaa(plugins)

        self.writable = storage.writable
        self.bucket_name = storage.bucket_name
        self.bucket_arn = storage.bucket_arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "requirements_object_version": self.requirements_object_version,
                "startup_script_object_version": self.startup_script_object_version,
                "plugins_object_version": self.plugins_object_version,
                "dag_keys": self.dag_keys,
            }
        )
