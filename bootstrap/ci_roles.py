"""mwaa:bootstrap:CiRoles: GitHub's OIDC provider, the read-only preview role and one deploy role per GitHub
environment, each trusting only its own jobs and allowed what its stacks declare (permissions.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from permissions import INLINE_POLICY_LIMIT, policy

GITHUB = "token.actions.githubusercontent.com"
#: A session as long as the job that assumes it (docs/real-path.md): deploys and the duty cycle run up to 180 minutes
#: (an MWAA create or delete can take 2 hours), previews and drift checks 60.
DEPLOY_SESSION, PREVIEW_SESSION = 10_800, 3_600


@dataclass
class CiRolesArgs:
    repository: str
    #: GitHub environment -> bootstrap/declared.json's entries of the stacks its role deploys.
    environments: dict[str, list[dict[str, Any]]]
    #: Every stack CI previews (the preview role reads them all).
    previewed: list[dict[str, Any]]
    create_oidc_provider: bool
    #: The account's ID, as the provider's caller identity gives it.
    account: pulumi.Output[str]


def trust(provider_arn: str, subjects: list[str]) -> str:
    """GitHub's OIDC tokens for STS, from these `sub` claims only (GitHub's OIDC guide for AWS)."""
    condition = {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": subjects}}
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def compact(document: dict[str, Any]) -> str:
    """The policy as IAM counts it, checked against the inline quota before anything is registered."""
    text = json.dumps(document, separators=(",", ":"))
    if len(text) > INLINE_POLICY_LIMIT:
        raise ValueError(
            f"a CI role's policy has {len(text)} characters, over IAM's {INLINE_POLICY_LIMIT}: deploy fewer stacks per environment"
        )
    return text


class CiRoles(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    deploy_role_arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mwaa:bootstrap:CiRoles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.create_oidc_provider:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github", url=f"https://{GITHUB}", client_id_lists=["sts.amazonaws.com"], opts=child
            )
            self.provider_arn = provider.arn
        else:
            self.provider_arn = pulumi.Output.concat("arn:aws:iam::", args.account, f":oidc-provider/{GITHUB}")
        repo = f"repo:{args.repository}"
        preview = self._role(
            f"{name}-preview",
            [f"{repo}:pull_request", f"{repo}:ref:refs/heads/main"],  # pull requests, and the scheduled drift check on main
            PREVIEW_SESSION,
            args.account.apply(lambda account: compact(policy(args.previewed, account, write=False))),
            "pulumi preview and the drift check: reads only",
            child,
        )
        self.preview_role_arn = preview.arn
        self.deploy_role_arns = {}
        for environment, stacks in args.environments.items():
            role = self._role(
                f"{name}-deploy-{environment}",
                [f"{repo}:environment:{environment}"],  # only jobs in that GitHub environment: never a pull request
                DEPLOY_SESSION,
                args.account.apply(lambda account, stacks=stacks: compact(policy(stacks, account))),
                f"pulumi up of {', '.join(s['stack'] for s in stacks)} and the duty cycle",
                child,
            )
            self.deploy_role_arns[environment] = role.arn
        self.register_outputs(
            {"provider_arn": self.provider_arn, "preview_role_arn": self.preview_role_arn, "deploy_role_arns": self.deploy_role_arns}
        )

    def _role(
        self, name: str, subjects: list[str], session: int, document: pulumi.Output[str], what: str, opts: pulumi.ResourceOptions
    ) -> aws.iam.Role:
        role = aws.iam.Role(
            name,
            assume_role_policy=pulumi.Output.from_input(self.provider_arn).apply(lambda arn: trust(arn, subjects)),
            max_session_duration=session,
            description=f"GitHub Actions: {what}"[:1000],
            opts=opts,
        )
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=document, opts=opts)
        return role
