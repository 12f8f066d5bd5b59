"""CrossGuard policy pack for the MWAA platform (`pulumi preview --policy-pack policies`).

Constructing the PolicyPack starts the analyzer's gRPC server, prints its port and
blocks; every rule lives in rules/.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES
from rules.library import analysis

analysis.install()  # each resource deserialized once per analysis, not once per stack policy
PolicyPack(name="mwaa-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
