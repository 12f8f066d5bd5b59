"""Run the real Pulumi program offline and record what it registers.

`run_stack("dev")` executes __main__.py under Pulumi's own mocks with the
config from Pulumi.dev.yaml, and records every RegisterResource request as the
engine would receive it: type, name, URN, inputs, parent, dependencies,
property dependencies and options. Tests, the policy gate and the cost model
all read this one recording.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import importlib
import json
import os
import runpy
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
from pulumi.runtime import mocks, rpc, settings, sync_await
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func

from duty_cycle import AT_VARIABLE
from offline.stacks import PROJECT_DIR, project_name, stack_config

ACCOUNT_ID = "123456789012"
WORKFLOW = "aws-native:mwaaserverless:Workflow"
#: The pipeline's workflow resource (the `serverless` component's, __main__.py); a team's own are named after their DAGs.
PIPELINE_WORKFLOW = "serverless-workflow"
#: Top-level files and packages of the Pulumi program (what __main__.py imports).
PROGRAM_MODULES = ("settings", "names", "schedule", "duty_cycle", "yaml_workflows", "components", "serverless")


@dataclass
class Recorded:
    """One resource registration, as the engine (and an analyzer) sees it."""

    type: str
    name: str
    urn: str
    custom: bool
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    #: Former URNs (`aliases`) the engine would match against the state, so a moved resource is kept, not replaced.
    aliases: list[str]
    #: The inputs exactly as sent on the wire (a protobuf Struct), for the policy gate.
    wire: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackRun:
    project: str
    stack: str
    config: dict[str, Any]
    resources: list[Recorded]
    outputs: dict[str, Any]
    #: (token, provider reference) of every data-source call the program made
    invokes: list[tuple[str, str]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str) -> Recorded:
        (found,) = self.of_type(type_)
        return found

    def by_name(self, name: str) -> Recorded:
        return next(r for r in self.resources if r.name == name)


def _digest(value: Any) -> str:
    """A stable stand-in for content-derived outputs such as S3 version ids."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]


def reveal(value: Any) -> Any:
    """Inputs with secret wrappers removed (the provider marks some inputs secret)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return reveal(value["value"])
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


#: ARN layouts of the types whose ARNs feed policies, so tests see realistic values.
_ARNS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:glue/job:Job": "arn:aws:glue:{region}:{account}:job/{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:mwaa/environment:Environment": "arn:aws:airflow:{region}:{account}:environment/{name}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/{name}",
}


class AwsMocks(mocks.Mocks):
    """Plausible AWS outputs: ARNs, names and content-derived S3 version ids.

    With `preview=True` it answers like the engine in a first preview: no ID and
    no computed outputs, so every ARN, ID and version id downstream is unknown.
    """

    def __init__(self, region: str, preview: bool = False) -> None:
        self.region, self.preview = region, preview

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if self.preview:
            return "", dict(args.inputs)
        state = dict(args.inputs)
        physical = state.get("name") or state.get("bucket") or f"{args.name}-{_digest(args.name)[:7]}"
        service = args.typ.split(":")[1].split("/")[0]
        layout = _ARNS.get(args.typ, "arn:aws:{service}:{region}:{account}:{name}")
        state.setdefault("arn", layout.format(service=service, region=self.region, account=ACCOUNT_ID, name=physical))
        if args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = physical
        elif args.typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            # Changes exactly when the object's content (hash) or key changes, like S3.
            state["versionId"] = _digest([state.get(k) for k in ("key", "sourceHash", "content", "contentBase64")])
        elif args.typ == "aws:mwaa/environment:Environment":
            state["webserverUrl"] = f"{_digest(physical)[:8]}.c2.{self.region}.airflow.amazonaws.com"
        elif args.typ == WORKFLOW:
            state["workflowArn"] = f"arn:aws:airflow-serverless:{self.region}:{ACCOUNT_ID}:workflow/{physical}"
        elif args.typ == "aws:kms/key:Key":
            state["keyId"] = physical
        elif args.typ == "aws:ec2/eip:Eip":
            state["allocationId"] = f"eipalloc-{_digest(args.name)[:8]}"
        if "name" in state or args.typ in ("aws:iam/role:Role", "aws:sns/topic:Topic"):
            state.setdefault("name", physical)
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list]:
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{z}" for z in "abc"]
            return {"names": names, "zoneIds": [f"use1-az{i}" for i in range(1, 4)], "id": self.region}, []
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci", "userId": "AIDA", "id": ACCOUNT_ID}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}, []
        raise NotImplementedError(f"no mock for invoke {token}; add it to offline/harness.py")


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's mock monitor, keeping each request's graph edges and options."""

    def __init__(self, aws_mocks: AwsMocks) -> None:
        super().__init__(aws_mocks)
        self.recorded: list[Recorded] = []
        self.invokes: list[tuple[str, str]] = []

    def GetDeploymentInfo(self, request):  # noqa: N802 (gRPC method name)
        """Without alias specs, so the SDK resolves each alias to the URN the engine would look up (as it does for an
        engine that predates specs), and the record holds those URNs."""
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def Invoke(self, request):  # noqa: N802 (gRPC method name)
        self.invokes.append((request.tok, request.provider))
        return super().Invoke(request)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    custom=bool(request.custom),
                    inputs=reveal(rpc.deserialize_properties(request.object)),
                    wire=request.object,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    provider=request.provider,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    aliases=list(request.aliasURNs),
                    outputs=self.resources[response.urn].state,
                )
            )
        return response


def object_body(obj: Recorded) -> bytes:
    """The bytes `pulumi up` would put in S3 for a recorded BucketObjectv2: its content, base64 content or file source."""
    if "content" in obj.inputs:
        return obj.inputs["content"].encode()
    if "contentBase64" in obj.inputs:
        return base64.b64decode(obj.inputs["contentBase64"])
    return Path(obj.inputs["source"].path).read_bytes()


def render_dag_folder(run: StackRun, folder: Path) -> Path:
    """The DAG bucket's dags/ prefix as the recorded program would upload it, written to `folder`."""
    from components.dag_bucket import DAG_PREFIX  # here: the scheduler's check imports this module without pulumi-aws

    bucket = run.by_name("dags-storage-bucket").urn
    for obj in run.of_type("aws:s3/bucketObjectv2:BucketObjectv2"):
        key = obj.inputs["key"]
        # By graph edge, so it holds in a preview too, where the bucket's name is not known yet.
        if bucket in obj.property_dependencies.get("bucket", []) and key.startswith(f"{DAG_PREFIX}/"):
            target = folder / key.removeprefix(f"{DAG_PREFIX}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(object_body(obj))
    return folder


def plain(value: Any) -> Any:
    """Recorded inputs as JSON values: a file asset by its content's digest, an archive by its members'."""
    if isinstance(value, pulumi.FileAsset):
        return {"file-sha256": hashlib.sha256(Path(value.path).read_bytes()).hexdigest()}
    if isinstance(value, pulumi.AssetArchive):
        return {name: plain(asset) for name, asset in sorted(value.assets.items())}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def plan_fingerprint(run: StackRun) -> dict[str, str]:
    """A digest per URN of what `pulumi up` would send for it: type, inputs (file assets by content), parent, dependencies,
    provider and options. Equal fingerprints mean the engine sees no difference (tests/golden/plans.json keeps dev's
    and prod's; the pipeline run's cache keys on it)."""

    def digest(r: Recorded) -> str:
        sent = {
            "type": r.type, "inputs": plain(r.inputs), "parent": r.parent, "dependencies": sorted(r.dependencies),
            "property_dependencies": {k: sorted(v) for k, v in r.property_dependencies.items()}, "provider": r.provider,
            "protect": r.protect, "retain_on_delete": r.retain_on_delete, "delete_before_replace": r.delete_before_replace,
        }  # fmt: skip
        return hashlib.sha256(json.dumps(sent, sort_keys=True, default=str).encode()).hexdigest()[:16]

    return {r.urn: digest(r) for r in run.resources}


def workflow_definitions(run: StackRun) -> list[Recorded]:
    """The S3 objects a serverless stack's workflows read their definitions from (by graph edge): the pipeline's (its
    component is `serverless`, __main__.py), then the team's own (yaml_workflows.py)."""
    objects = run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    workflows = sorted(run.of_type(WORKFLOW), key=lambda w: w.name != PIPELINE_WORKFLOW)
    found = []
    for workflow in workflows:
        feeding = set(workflow.property_dependencies.get("definitionS3Location", []))
        found.append(next(r for r in objects if r.urn in feeding))
    return found


def pipeline_workflow(run: StackRun) -> Recorded:
    """A serverless stack's pipeline workflow (serverless/definition.py's, in the `serverless` component of __main__.py)."""
    return run.by_name(PIPELINE_WORKFLOW)


def workflow_named(run: StackRun, name: str) -> Recorded:
    """A serverless stack's workflow by its name on the service."""
    return next(w for w in run.of_type(WORKFLOW) if w.inputs["name"] == name)


def workflow_definition(run: StackRun) -> Recorded | None:
    """The pipeline's definition object (serverless/definition.py), None without a workflow."""
    return next(iter(workflow_definitions(run)), None)


def uploaded_definitions(aws: Any, run: StackRun) -> dict[str, bytes]:
    """Each definition as the local AWS holds it after `deploy` (key -> body): what the service would read."""
    bucket = run.by_name("dags-storage-bucket").outputs["bucket"]
    s3 = aws.client("s3")
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in (d.inputs["key"] for d in workflow_definitions(run))}


def render_workflow_folder(run: StackRun, folder: Path, bodies: dict[str, bytes] | None = None) -> Path:
    """A serverless stack's definitions as the program uploads them (or as `bodies` has them by key, e.g. read back from
    S3), each with the loader that lets Airflow's DagBag read it, in `folder`."""
    from offline.airflow_side.workflow_loader import LOADER

    folder.mkdir(parents=True, exist_ok=True)
    for definition in workflow_definitions(run):
        key = definition.inputs["key"]
        name = Path(key).name
        (folder / name).write_bytes((bodies or {}).get(key) or object_body(definition))
        (folder / f"load_{Path(name).stem}.py").write_text(LOADER.format(definition=name))
    return folder


#: The provider modules the program creates its resources from (components/). The providers import each on first use,
#: which is most of a command's start-up: the fork server's preload imports them once (offline/forkserver.py).
AWS_MODULES = ("cloudwatch", "ec2", "glue", "iam", "kms", "lambda_", "mwaa", "s3", "scheduler", "sns", "vpc")
PROVIDER_MODULES = (*(f"pulumi_aws.{name}" for name in AWS_MODULES), "pulumi_aws_native.mwaaserverless")


def preload_providers() -> None:
    """Load PROVIDER_MODULES now: a fork server's preload (offline/forkserver.py). pulumi_aws's submodules are lazy
    (pulumi/_utils.py: _LazyModule), so importing one only registers it; reading an attribute loads it. A module a
    fork adds to the program still works, loaded on first use as before."""
    for name in PROVIDER_MODULES:
        getattr(importlib.import_module(name), "__all__", None)


def run_stack(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    config: dict[str, Any] | None = None,
    preview: bool = False,
    at: datetime | None = None,
) -> StackRun:
    """Run `project_dir/__main__.py` as stack `stack` under mocks.

    `config` replaces the stack file's config when given (tests use it for
    variants). `at` is the time a duty-cycled program decides at (DUTY_CYCLE_AT,
    as a user would set it; default: that variable, else the clock). The
    program's exception, if any, propagates; what was registered before it is on
    `exc.recorded` for "registers nothing" checks.
    """
    project = project_name(project_dir)
    config = stack_config(stack, project_dir) if config is None else config
    runtime_config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    region = str(config.get("aws:region", "us-east-1"))
    with mock.patch.dict(os.environ, {AT_VARIABLE: at.isoformat()} if at is not None else {}):
        return contextvars.Context().run(_run_isolated, project, stack, project_dir, config, runtime_config, region, preview)


def _run_isolated(
    project: str, stack: str, project_dir: Path, config: dict[str, Any], runtime_config: dict[str, str], region: str, preview: bool
) -> StackRun:
    monitor = RecordingMonitor(AwsMocks(region, preview))
    pulumi.runtime.set_all_config(runtime_config)
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    program = str(project_dir / "__main__.py")
    sys.path.insert(0, str(project_dir))
    own_modules = _program_modules()
    _use_program_modules(project_dir)
    try:
        sync_await._sync_await(run_pulumi_func(lambda: runpy.run_path(program, run_name="__main__")))
        root = settings.get_root_resource()
        # Each output on its own: in a preview an unknown one is None without hiding the known ones.
        outputs = {
            key: sync_await._sync_await(pulumi.Output.from_input(value).future()) for key, value in (root.outputs if root else {}).items()
        }
    except Exception as exc:
        exc.recorded = monitor.recorded  # type: ignore[attr-defined]
        _drop_pending_work()
        raise
    finally:
        sys.path.remove(str(project_dir))
        for name in _program_modules():
            del sys.modules[name]
        sys.modules.update(own_modules)  # the same module objects: classes such as ConfigError keep their identity
        pulumi.runtime.set_all_config({})
    return StackRun(project, stack, config, monitor.recorded, outputs, monitor.invokes)


def _drop_pending_work() -> None:
    """A failed run leaves tasks and RPCs on the SDK's event loop; the next run in this process would await their error."""
    loop = sync_await._ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    settings._get_rpc_manager().clear()
    # The failed run's Output futures hold its error; nobody awaits them now, so don't print them again when collected.
    loop.set_exception_handler(_quiet_about_dropped_futures)
    with settings.SETTINGS.lock:
        settings.SETTINGS.outputs.clear()  # failed Output tasks, which the next run's wait_for_rpcs would re-raise


def _quiet_about_dropped_futures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if context.get("message") != "Future exception was never retrieved":
        loop.default_exception_handler(context)


def _program_modules() -> dict[str, Any]:
    return {name: module for name, module in sys.modules.items() if name.split(".")[0] in PROGRAM_MODULES}


def _use_program_modules(project_dir: Path) -> None:
    """Make `import settings` / `components` resolve to project_dir's files (tests run edited copies)."""
    root = project_dir.resolve()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PROGRAM_MODULES and not Path(module.__file__ or "/").resolve().is_relative_to(root):
            del sys.modules[name]
