"""The bootstrap's settings, validated before anything is registered (one error naming the key and the fix)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: What each stack declares (`bin/offline bootstrap` writes it from the stacks under mocks).
DECLARED = Path(__file__).with_name("declared.json")


class BootstrapSettings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", use_attribute_docstrings=True)

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """owner/name of the fork on GitHub: the roles trust its workflows only"""
    owner: str
    cost_center: str = Field(alias="costCenter")
    create_oidc_provider: bool = Field(True, alias="createOidcProvider")
    """false when the account already has GitHub's OIDC provider"""
    environments: dict[str, list[str]]
    """GitHub environment -> the stacks its deploy role deploys"""
    region: str = "us-east-1"
    stack: str = "ci"

    @field_validator("environments")
    @classmethod
    def _known_stacks(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        known = {entry["stack"] for entry in declared()}
        for environment, stacks in value.items():
            unknown = sorted(set(stacks) - known)
            if unknown or not stacks:
                raise ValueError(
                    f"environments.{environment} names {', '.join(unknown) or 'no stack'}; stacks: {', '.join(sorted(known))} "
                    "(a new stack: run `bin/offline bootstrap` first)"
                )
        return value

    @model_validator(mode="after")
    def _each_stack_once(self) -> BootstrapSettings:
        stacks = [s for listed in self.environments.values() for s in listed]
        if len(stacks) != len(set(stacks)):
            raise ValueError("environments: a stack is deployed from one GitHub environment only (its concurrency group)")
        return self

    @property
    def tags(self) -> dict[str, str]:
        return {"project": "mwaa-platform-bootstrap", "stack": self.stack, "owner": self.owner, "cost-center": self.cost_center}


def declared() -> list[dict]:
    return json.loads(DECLARED.read_text())
