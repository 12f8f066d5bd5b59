"""The bootstrap program: once per AWS account, the roles the platform's CI assumes (docs/real-path.md).

Thin: typed settings (config.py), one provider with the cost tags, the CiRoles component; the permissions come from
what the stacks declare (declared.json, permissions.py).
"""

import pulumi
import pulumi_aws as aws
from ci_roles import CiRoles, CiRolesArgs
from config import BootstrapSettings, declared
from pydantic import ValidationError

config = pulumi.Config("mwaa-bootstrap")
try:
    settings = BootstrapSettings.model_validate(
        {key: config.get_object(key) for key in ("environments",)}
        | {key: config.get(key) for key in ("repository", "owner", "costCenter") if config.get(key) is not None}
        | ({"createOidcProvider": config.get_bool("createOidcProvider")} if config.get("createOidcProvider") is not None else {})
        | {"region": pulumi.Config("aws").require("region"), "stack": pulumi.get_stack()}
    )
except ValidationError as exc:
    problem = exc.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    raise pulumi.RunError(f"mwaa-bootstrap:{where}: {problem['msg']} (bootstrap/Pulumi.{pulumi.get_stack()}.yaml)") from None

provider = aws.Provider("aws", region=settings.region, default_tags={"tags": settings.tags})
opts = pulumi.ResourceOptions(providers=[provider])
stacks = {entry["stack"]: entry for entry in declared()}
account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
roles = CiRoles(
    "ci",
    CiRolesArgs(
        repository=settings.repository,
        environments={env: [stacks[s] for s in listed] for env, listed in settings.environments.items()},
        previewed=[stacks[s] for listed in settings.environments.values() for s in listed],
        create_oidc_provider=settings.create_oidc_provider,
        account=account,
    ),
    opts,
)
pulumi.export("previewRoleArn", roles.preview_role_arn)
pulumi.export("deployRoleArns", roles.deploy_role_arns)
