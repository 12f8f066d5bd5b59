"""The VPC MWAA runs in: public subnets behind an IGW, private subnets behind NAT.

MWAA needs exactly two private subnets in two AZs whose default route is a NAT
gateway (never the IGW), and a security group that lets the environment talk to
itself. A missing NAT route or self-rule leaves the environment "Creating" for
hours before it fails, so this component makes both impossible to forget.

With `egress=False` (a paused duty cycle) it leaves out what bills by the hour:
the NAT gateways, their EIPs and the private default routes through them.
Everything else stays, unchanged, so a resume recreates only those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

ANYWHERE = "0.0.0.0/0"
#: Zone IDs (the same physical zone in every account, unlike names such as us-east-1a) where services MWAA's
#: managed network relies on are missing or constrained, so subnets never go there. Sources: the Amazon EKS user
#: guide, "Subnet requirements" (no cluster subnets in use1-az3, usw1-az2, cac1-az3), and the Amazon RDS user guide,
#: "RDS Proxy limitations" (no use1-az3). MWAA's Fargate and Aurora back ends run on the same capacity.
CONSTRAINED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})


class ZoneError(pulumi.RunError):
    """The region has fewer than two zones MWAA can use."""


def usable_zone_ids(region: str, zone_ids: list[str]) -> list[str]:
    """The first two zone IDs outside CONSTRAINED_ZONE_IDS; fewer than two is an error naming the region."""
    usable = [zone for zone in zone_ids if zone not in CONSTRAINED_ZONE_IDS]
    if len(usable) < 2:
        raise ZoneError(
            f"aws:region {region} offers {len(usable)} availability zone(s) MWAA can use ({', '.join(usable) or 'none'}; "
            f"left out: {', '.join(sorted(set(zone_ids) & CONSTRAINED_ZONE_IDS)) or 'none'}); MWAA needs two. Choose another region"
        )
    return usable[:2]


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    vpc_cidr: str
    public_subnet_cidrs: list[str]
    private_subnet_cidrs: list[str]
    nat_gateways: int
    #: False while the duty cycle pauses the environment: no NAT, EIP or private default route.
    egress: bool = True
    #: Tags for what bills by the hour (the duty cycle's active hours, for the cost model).
    usage_tags: dict[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    security_group_id: pulumi.Output[str]
    #: Zone IDs of the two AZs (e.g. use1-az1, use1-az2).
    availability_zones: pulumi.Output[list[str]]
    #: The NAT gateways and private default routes: what must exist before MWAA can reach AWS APIs.
    egress_resources: list[pulumi.Resource]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Standard zones only (no Local or Wavelength Zones), chosen by zone ID.
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "zone-type", "values": ["availability-zone"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        chosen = pulumi.Output.all(zones.id, zones.zone_ids).apply(lambda found: usable_zone_ids(*found))
        azs = [chosen[i] for i in range(2)]

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", tags={"Name": f"{name}-igw"}, opts=child)
        attachment = aws.ec2.InternetGatewayAttachment(f"{name}-igw-attachment", internet_gateway_id=igw.id, vpc_id=vpc.id, opts=child)

        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags={"Name": f"{name}-public"}, opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block=ANYWHERE,
            gateway_id=igw.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        public = [self._subnet(name, "public", i, cidr, azs[i], vpc, public_rt) for i, cidr in enumerate(args.public_subnet_cidrs)]

        nats = []
        for i in range(args.nat_gateways if args.egress else 0):
            tags = {"Name": f"{name}-nat-{i + 1}", **args.usage_tags}
            eip = aws.ec2.Eip(f"{name}-nat-eip-{i + 1}", domain="vpc", tags=tags, opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i + 1}",
                    allocation_id=eip.allocation_id,
                    subnet_id=public[i].id,
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
                )
            )

        private, routes = [], []
        for i, cidr in enumerate(args.private_subnet_cidrs):
            # One route table per AZ; with two NATs each AZ egresses through its own.
            rt = aws.ec2.RouteTable(f"{name}-private-rt-{i + 1}", vpc_id=vpc.id, tags={"Name": f"{name}-private-{i + 1}"}, opts=child)
            if nats:
                routes.append(
                    aws.ec2.Route(
                        f"{name}-private-default-{i + 1}",
                        route_table_id=rt.id,
                        destination_cidr_block=ANYWHERE,
                        nat_gateway_id=nats[min(i, len(nats) - 1)].id,
                        opts=child,
                    )
                )
            private.append(self._subnet(name, "private", i, cidr, azs[i], vpc, rt))

        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=vpc.id,
            description="MWAA environment: members talk to each other; egress via NAT",
            tags={"Name": f"{name}-sg"},
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-sg-self-ingress",
            security_group_id=sg.id,
            referenced_security_group_id=sg.id,
            ip_protocol="-1",
            description="all traffic from members of this group",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-sg-all-egress",
            security_group_id=sg.id,
            cidr_ipv4=ANYWHERE,
            ip_protocol="-1",
            description="all outbound traffic",
            opts=child,
        )

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.security_group_id = sg.id
        self.availability_zones = chosen
        self.egress_resources = [*nats, *routes]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "security_group_id": self.security_group_id,
                "availability_zones": self.availability_zones,
            }
        )

    def _subnet(
        self, name: str, tier: str, index: int, cidr: str, zone_id: pulumi.Output[str], vpc: aws.ec2.Vpc, rt: aws.ec2.RouteTable
    ) -> aws.ec2.Subnet:
        subnet = aws.ec2.Subnet(
            f"{name}-{tier}-{index + 1}",
            vpc_id=vpc.id,
            cidr_block=cidr,
            availability_zone_id=zone_id,
            map_public_ip_on_launch=False,
            tags={"Name": f"{name}-{tier}-{index + 1}", "tier": tier},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-{tier}-{index + 1}-rta", subnet_id=subnet.id, route_table_id=rt.id, opts=pulumi.ResourceOptions(parent=self)
        )
        return subnet
