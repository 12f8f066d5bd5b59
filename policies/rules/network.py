"""Networking: nothing open inbound, private subnets egress via NAT, a public UI has an IGW."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .library.graph import MWAA_ENVIRONMENTS, UNKNOWN, Graph, guarded, label, peek, sources

OPEN_CIDRS = ("0.0.0.0/0", "::/0")
#: Webserver access modes that serve the UI over the internet (PUBLIC_AND_PRIVATE: Airflow 3.2+).
PUBLIC_MODES = ("PUBLIC_ONLY", "PUBLIC_AND_PRIVATE")
# pulumi-aws and pulumi-aws-native types of each network piece (the inputs used here have the same names in both).
SUBNETS = ("aws:ec2/subnet:Subnet", "aws-native:ec2:Subnet")
VPCS = ("aws:ec2/vpc:Vpc", "aws-native:ec2:Vpc")
ROUTES = ("aws:ec2/route:Route", "aws-native:ec2:Route")
ROUTE_TABLES = ("aws:ec2/routeTable:RouteTable", "aws-native:ec2:RouteTable")
ASSOCIATIONS = ("aws:ec2/routeTableAssociation:RouteTableAssociation", "aws-native:ec2:SubnetRouteTableAssociation")
NATS = ("aws:ec2/natGateway:NatGateway", "aws-native:ec2:NatGateway")
IGWS = ("aws:ec2/internetGateway:InternetGateway", "aws-native:ec2:InternetGateway")
IGW_ATTACHMENTS = ("aws:ec2/internetGatewayAttachment:InternetGatewayAttachment", "aws-native:ec2:VpcGatewayAttachment")


def _open_ingress(args: ResourceValidationArgs) -> list[str]:
    """The open CIDRs this resource admits inbound (inline rules, legacy rules, or vpc rules)."""
    props, kind = args.props, args.resource_type
    if kind == "aws:ec2/securityGroup:SecurityGroup":
        rules = peek(props, "ingress") or []
        if rules is UNKNOWN:
            return []
        return [
            c for i in range(len(rules)) for key in ("cidrBlocks", "ipv6CidrBlocks") for c in (peek(rules, i, key) or []) if c in OPEN_CIDRS
        ]
    if kind == "aws:ec2/securityGroupRule:SecurityGroupRule" and peek(props, "type") == "ingress":
        return [c for key in ("cidrBlocks", "ipv6CidrBlocks") for c in (peek(props, key) or []) if c in OPEN_CIDRS]
    if kind == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        return [c for key in ("cidrIpv4", "cidrIpv6") if (c := peek(props, key)) in OPEN_CIDRS]
    if kind == "aws-native:ec2:SecurityGroupIngress":
        return [c for key in ("cidrIp", "cidrIpv6") if (c := peek(props, key)) in OPEN_CIDRS]
    if kind == "aws-native:ec2:SecurityGroup":
        rules = peek(props, "securityGroupIngress") or []
        if rules is UNKNOWN:
            return []
        return [c for i in range(len(rules)) for key in ("cidrIp", "cidrIpv6") if (c := peek(rules, i, key)) in OPEN_CIDRS]
    return []


@guarded
def _no_public_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if opened := _open_ingress(args):
        report_violation(f"ingress from {', '.join(opened)} is open to the internet; allow the group itself or a known range instead", None)


no_public_ingress = ResourceValidationPolicy(
    name="security-group-no-public-ingress",
    description="No security group admits inbound traffic from 0.0.0.0/0 or ::/0.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_no_public_ingress,
)


def _default_route_targets(table: PolicyResource, graph: Graph) -> list[str]:
    """Types of what a route table's 0.0.0.0/0 route points at (NAT, IGW, ...), from graph edges."""
    targets = []
    for route in graph.linked(ROUTES, "routeTableId", table):
        if peek(route.props, "destinationCidrBlock") == "0.0.0.0/0":
            targets += [d.resource_type for key in ("natGatewayId", "gatewayId") for d in route.property_dependencies.get(key, [])]
    targets += [d.resource_type for d in table.property_dependencies.get("routes", []) if d.resource_type in NATS + IGWS]
    return targets


@guarded
def _private_subnets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for env in graph.of_type(*MWAA_ENVIRONMENTS):
        subnets = sources(env, "networkConfiguration", SUBNETS)
        if len(subnets) != 2:
            report_violation(
                f"{label(env)} uses {len(subnets)} subnets from this stack; MWAA needs exactly 2 private subnets in 2 AZs", env.urn
            )
        for subnet in subnets:
            tables = [t for a in graph.linked(ASSOCIATIONS, "subnetId", subnet) for t in sources(a, "routeTableId", ROUTE_TABLES)]
            targets = [t for table in tables for t in _default_route_targets(table, graph)]
            if set(IGWS) & set(targets):
                report_violation(
                    f"{label(subnet)} of {label(env)} routes 0.0.0.0/0 to an internet gateway; private subnets must use NAT", env.urn
                )
            elif not set(NATS) & set(targets):
                report_violation(
                    f"{label(subnet)} of {label(env)} has no 0.0.0.0/0 route to a NAT gateway; MWAA would hang in Creating", env.urn
                )


private_subnets_use_nat = StackValidationPolicy(
    name="mwaa-private-subnets-route-to-nat",
    description="Each MWAA environment runs in exactly two subnets whose default route is a NAT gateway, never an IGW.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_private_subnets,
)


@guarded
def _public_ui_reachable(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    graph = Graph(args.resources)
    for env in graph.of_type(*MWAA_ENVIRONMENTS):
        if peek(env.props, "webserverAccessMode") not in PUBLIC_MODES:
            continue
        vpcs = {v.urn: v for s in sources(env, "networkConfiguration", SUBNETS) for v in sources(s, "vpcId", VPCS)}
        for vpc in vpcs.values():
            if not graph.linked((*IGW_ATTACHMENTS, *IGWS), "vpcId", vpc):
                report_violation(
                    f"{label(env)} has webserverAccessMode {peek(env.props, 'webserverAccessMode')} but {label(vpc)} has no internet"
                    " gateway attached",
                    env.urn,
                )


public_webserver_has_igw = StackValidationPolicy(
    name="mwaa-public-webserver-has-igw",
    description="An MWAA environment with a public webserver (PUBLIC_ONLY, PUBLIC_AND_PRIVATE) sits in a VPC with an IGW attached.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_public_ui_reachable,
)

POLICIES = [no_public_ingress, private_subnets_use_nat, public_webserver_has_igw]
