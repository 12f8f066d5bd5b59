"""The pack's rules, one module per concern; `policies/__main__.py` only assembles them."""

from . import alerts, cost, iam, mwaa, network, s3, tags

POLICIES = [*s3.POLICIES, *mwaa.POLICIES, *network.POLICIES, *iam.POLICIES, *tags.POLICIES, *alerts.POLICIES, *cost.POLICIES]
