"""The pack's rules, one module per concern; `policies/__main__.py` only assembles them."""

from . import alerts, cost, iam, modes, mwaa, network, s3, serverless, tags

POLICIES = [
    *s3.POLICIES, *mwaa.POLICIES, *serverless.POLICIES, *modes.POLICIES, *network.POLICIES, *iam.POLICIES, *tags.POLICIES,
    *alerts.POLICIES, *cost.POLICIES,
]  # fmt: skip
