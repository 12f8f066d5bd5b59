"""The policy gate without the Pulumi CLI: the real pack, driven over the Analyzer protocol.

It starts `python policies/__main__.py` (as the CLI's analyzer host does), reads
the port it prints, and sends GetAnalyzerInfo, Configure, Analyze for every
resource and AnalyzeStack for the whole stack, built from the mocked run's
recording (inputs as sent on the wire, parents, dependencies, property
dependencies, providers). The rules are never imported here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from offline.exits import InputError
from offline.harness import Recorded, StackRun
from offline.stacks import PROJECT_DIR

PACK_DIR = PROJECT_DIR / "policies"
LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED, "remediate": proto.REMEDIATE}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


class PackConfigError(InputError):
    """The policy pack config file does not fit the pack (unknown policy, bad level, schema mismatch)."""


@dataclass
class Violation:
    policy: str
    level: str
    urn: str
    message: str


@dataclass
class GateResult:
    stack: str
    pack: str
    version: str
    policies: int
    resources: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    @property
    def passed(self) -> bool:
        return not self.mandatory


class PolicyPackProcess:
    """The pack as a subprocess; always stopped on exit, even when a call fails."""

    def __init__(self, pack_dir: Path = PACK_DIR, start_timeout: float = 60) -> None:
        self.pack_dir, self.start_timeout = pack_dir, start_timeout

    def __enter__(self) -> analyzer_pb2_grpc.AnalyzerStub:
        self.process = subprocess.Popen(
            [sys.executable, "-u", "__main__.py"], cwd=self.pack_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            port = self.process.stdout.readline().strip()
            if not port.isdigit():
                raise RuntimeError(f"policy pack in {self.pack_dir} did not print a port: {port!r} {self.process.stderr.read()[-2000:]}")
            self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            grpc.channel_ready_future(self.channel).result(timeout=self.start_timeout)
        except BaseException:
            self._stop()
            raise
        return analyzer_pb2_grpc.AnalyzerStub(self.channel)

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        self._stop()

    def _stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pack_version(pack_dir: Path = PACK_DIR) -> str:
    """The CLI reports PulumiPolicy.yaml's version (the Python SDK always says 0.0.1)."""
    return str(yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text())["version"])


def resolve_config(info: proto.AnalyzerInfo, config: dict[str, Any], source: str = "pack config") -> dict[str, proto.PolicyConfig]:
    """What the CLI sends to Configure: every policy's level and its properties over schema defaults.

    `config` is a --policy-pack-config document: {"all": level, "<policy>": level | {"enforcementLevel": level, ...}}.
    """
    policies = {p.name: p for p in info.policies}
    unknown = sorted(set(config) - set(policies) - {"all"})
    if unknown:
        raise PackConfigError(f"{source}: unknown policy {', '.join(unknown)}; the pack has {', '.join(sorted(policies))}")
    resolved = {}
    for name, policy in policies.items():
        entry = config.get(name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level_name = entry.pop("enforcementLevel", None) or config.get("all")
        if level_name is not None and level_name not in LEVELS:
            raise PackConfigError(f"{source}: {name}.enforcementLevel {level_name!r} must be one of {', '.join(LEVELS)}")
        schema = json_format.MessageToDict(policy.configSchema)
        properties = {k: v["default"] for k, v in schema.get("properties", {}).items() if "default" in v} | entry
        try:
            jsonschema.validate(properties, {"type": "object", "additionalProperties": False, **schema})
        except jsonschema.ValidationError as exc:
            raise PackConfigError(f"{source}: {name}: {exc.message}") from None
        message = proto.PolicyConfig(enforcementLevel=LEVELS[level_name] if level_name else policy.enforcementLevel)
        message.properties.update(properties)
        resolved[name] = message
    return resolved


def _analyzer_resource(resource: Recorded, providers: dict[str, Recorded]) -> proto.AnalyzerResource:
    message = proto.AnalyzerResource(
        type=resource.type,
        urn=resource.urn,
        name=resource.name,
        properties=resource.wire or struct_pb2.Struct(),
        options=proto.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent),
        parent=resource.parent,
        dependencies=resource.dependencies,
    )
    for key, urns in resource.property_dependencies.items():
        message.propertyDependencies[key].urns.extend(urns)
    provider = providers.get(resource.provider.rsplit("::", 1)[0])  # a provider reference is "<urn>::<id>"
    if provider:
        message.provider.CopyFrom(
            proto.AnalyzerProviderResource(type=provider.type, urn=provider.urn, name=provider.name, properties=provider.wire)
        )
    return message


def _collect(result: GateResult, response: proto.AnalyzeResponse, urn: str = "") -> None:
    for d in response.diagnostics:
        message = d.message.removeprefix(f"{d.description}\n")  # the SDK prepends the policy's description
        result.violations.append(Violation(d.policyName, LEVEL_NAMES[d.enforcementLevel], d.urn or urn, message))


def analyze(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
    resources: list[proto.AnalyzerResource],
    config: dict[str, Any] | None = None,
    config_source: str = "pack config",
    stack: str = "",
    pack_dir: Path = PACK_DIR,
) -> GateResult:
    """One CLI-equivalent pass: GetAnalyzerInfo, Configure, Analyze per resource, AnalyzeStack."""
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    analyzer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=resolve_config(info, config or {}, config_source)))
    result = GateResult(stack, info.name, pack_version(pack_dir), len(info.policies), len(resources))
    for r in resources:
        request = proto.AnalyzeRequest(type=r.type, properties=r.properties, urn=r.urn, name=r.name, options=r.options)
        if r.HasField("provider"):
            request.provider.CopyFrom(r.provider)
        _collect(result, analyzer.Analyze(request), r.urn)
    _collect(result, analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources)))
    return result


def run_gate(
    run: StackRun,
    config: dict[str, Any] | None = None,
    config_source: str = "pack config",
    pack_dir: Path = PACK_DIR,
    analyzer: analyzer_pb2_grpc.AnalyzerStub | None = None,
) -> GateResult:
    """Analyze one recorded stack with the real pack (a running one, e.g. shared by several stacks, or its own); returns
    every diagnostic it reported. Each analysis configures the pack afresh, as the CLI does per stack."""
    providers = {r.urn: r for r in run.resources if r.type.startswith("pulumi:providers:")}
    resources = [_analyzer_resource(r, providers) for r in run.resources]
    if analyzer is not None:
        return analyze(analyzer, resources, config, config_source, run.stack, pack_dir)
    with PolicyPackProcess(pack_dir) as own:
        return analyze(own, resources, config, config_source, run.stack, pack_dir)


def stack_pack_config(stack: str, pack_dir: Path = PACK_DIR) -> tuple[dict[str, Any], str]:
    """policies/config/<stack>.json (what CI passes as --policy-pack-config), or none."""
    path = pack_dir / "config" / f"{stack}.json"
    return (json.loads(path.read_text()), str(path.relative_to(pack_dir.parent))) if path.exists() else ({}, "no pack config")


def render_gate(result: GateResult, title: str | None = None) -> str:
    lines = [f"Policies {result.pack}@v{result.version} on {title or f'stack {result.stack}'}:"]
    for v in sorted(result.violations, key=lambda v: (v.level != "mandatory", v.policy, v.urn)):
        lines.append(f"    [{v.level}]  {v.policy}  ({v.urn or 'stack'})")
        lines.append(f"        {v.message}")
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append(
        f"{result.stack}: {verdict}: {len(result.mandatory)} mandatory, {len(result.advisory)} advisory "
        f"({result.policies} policies, {result.resources} resources)"
    )
    return "\n".join(lines)


def as_json(result: GateResult) -> dict[str, Any]:
    return {**asdict(result), "passed": result.passed}
