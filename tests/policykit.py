"""Hand-built resource graphs for driving the real policy pack over gRPC.

Resources are described the way the engine describes them (type, URN, inputs,
parent, property dependencies); the pack itself decides. `UNKNOWN` is the wire
sentinel the engine sends for values a preview can't know yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto

from offline.gate import GateResult, analyze

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
STACK = "urn:pulumi:test::mwaa-platform::pulumi:pulumi:Stack::mwaa-platform-test"


@dataclass
class Res:
    type: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)
    #: input name -> resources it comes from (engine's property dependencies)
    deps: dict[str, list[Res]] = field(default_factory=dict)
    parent: Res | None = None
    provider: Res | None = None

    @property
    def urn(self) -> str:
        parent_type = f"{self.parent.type}$" if self.parent else ""
        return f"urn:pulumi:test::mwaa-platform::{parent_type}{self.type}::{self.name}"

    def message(self) -> proto.AnalyzerResource:
        properties = struct_pb2.Struct()
        properties.update(self.props)
        message = proto.AnalyzerResource(
            type=self.type,
            urn=self.urn,
            name=self.name,
            properties=properties,
            parent=self.parent.urn if self.parent else STACK,
            dependencies=sorted({d.urn for ds in self.deps.values() for d in ds}),
        )
        for key, sources in self.deps.items():
            message.propertyDependencies[key].urns.extend(d.urn for d in sources)
        if self.provider:
            provider_props = struct_pb2.Struct()
            provider_props.update(self.provider.props)
            message.provider.CopyFrom(
                proto.AnalyzerProviderResource(
                    type=self.provider.type, urn=self.provider.urn, name=self.provider.name, properties=provider_props
                )
            )
        return message


def check(analyzer, *resources: Res, config: dict | None = None) -> GateResult:
    """Analyze `resources`; required-tags and the budget are off unless `config` turns them on (fixtures carry no tags or provider)."""
    defaults = {"required-tags": "disabled", "monthly-cost-budget": "disabled"}
    return analyze(analyzer, [r.message() for r in resources], defaults | (config or {}), stack="test")


def violations(result: GateResult, policy: str) -> list[str]:
    return [f"[{v.level}] {v.message}" for v in result.violations if v.policy == policy]


# --- building blocks --------------------------------------------------------------


def bucket(name: str = "data", **props: Any) -> Res:
    return Res("aws:s3/bucket:Bucket", name, props)


def versioning(target: Res, status: Any = "Enabled", name: str | None = None) -> Res:
    return Res(
        "aws:s3/bucketVersioning:BucketVersioning",
        name or f"{target.name}-versioning",
        {"bucket": UNKNOWN, "versioningConfiguration": {"status": status}},
        {"bucket": [target]},
        parent=target.parent,
    )


def public_access_block(target: Res, **flags: Any) -> Res:
    props = {"bucket": UNKNOWN, "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
    return Res(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        f"{target.name}-pab",
        props | flags,
        {"bucket": [target]},
        parent=target.parent,
    )


def guarded_bucket(name: str = "dags") -> list[Res]:
    b = bucket(name)
    return [b, versioning(b), public_access_block(b)]


def environment(source: Res | None = None, subnets: list[Res] | None = None, **props: Any) -> Res:
    base = {
        "name": "mwaa-test",
        "environmentClass": "mw1.small",
        "airflowVersion": "3.0.6",
        "schedulers": 2,
        "maxWorkers": 10,
        "maxWebservers": 2,
        "webserverAccessMode": "PRIVATE_ONLY",
        "sourceBucketArn": UNKNOWN,
        "loggingConfiguration": {
            k: {"enabled": True, "logLevel": "INFO"}
            for k in ("dagProcessingLogs", "schedulerLogs", "taskLogs", "webserverLogs", "workerLogs")
        },
    }
    deps = {"sourceBucketArn": [source]} if source else {}
    if subnets:
        deps["networkConfiguration"] = subnets
    return Res("aws:mwaa/environment:Environment", "env", {k: v for k, v in (base | props).items() if v is not None}, deps)


def network(default_target: str = "nat", igw_attached: bool = True, subnet_count: int = 2) -> tuple[list[Res], list[Res]]:
    """(all network resources, the private subnets), routed to NAT, IGW or nothing."""
    vpc = Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    igw = Res("aws:ec2/internetGateway:InternetGateway", "igw")
    everything = [vpc, igw]
    if igw_attached:
        everything.append(
            Res("aws:ec2/internetGatewayAttachment:InternetGatewayAttachment", "igw-attach", {"vpcId": UNKNOWN}, {"vpcId": [vpc]})
        )
    public = Res("aws:ec2/subnet:Subnet", "public-1", {"vpcId": UNKNOWN}, {"vpcId": [vpc]})
    nat = Res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": UNKNOWN}, {"subnetId": [public]})
    everything += [public, nat]
    subnets = []
    for i in range(subnet_count):
        subnet = Res("aws:ec2/subnet:Subnet", f"private-{i}", {"vpcId": UNKNOWN, "cidrBlock": f"10.0.{i}.0/24"}, {"vpcId": [vpc]})
        table = Res("aws:ec2/routeTable:RouteTable", f"private-rt-{i}", {"vpcId": UNKNOWN}, {"vpcId": [vpc]})
        association = Res(
            "aws:ec2/routeTableAssociation:RouteTableAssociation", f"private-rta-{i}", {}, {"subnetId": [subnet], "routeTableId": [table]}
        )
        everything += [subnet, table, association]
        gateways = {"nat": ("natGatewayId", nat), "igw": ("gatewayId", igw)}
        if default_target in gateways:
            key, gateway = gateways[default_target]
            route = Res(
                "aws:ec2/route:Route",
                f"r{i}",
                {"destinationCidrBlock": "0.0.0.0/0", key: UNKNOWN},
                {"routeTableId": [table], key: [gateway]},
            )
            everything.append(route)
        subnets.append(subnet)
    return everything, subnets
