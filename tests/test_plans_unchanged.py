"""dev's and prod's plans stay exactly as recorded in tests/golden/plans.json.

A change meant for another stack or mode (the serverless stack, a new setting) must not touch what `pulumi up` sends
for the shipped stacks. When a change to dev or prod is intended, regenerate the file with
`python -m tests.stackkit golden` and review its diff with the change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.harness import plan_fingerprint, run_stack
from tests.stackkit import GOLDEN_STATES

GOLDEN = Path(__file__).parent / "golden" / "plans.json"

pytestmark = pytest.mark.reference  # a fork's own dev and prod differ from the shipped ones by design


@pytest.mark.parametrize("state", list(GOLDEN_STATES))
def test_plan_is_unchanged(state: str) -> None:
    stack, _ = state.split("/")
    expected = json.loads(GOLDEN.read_text())[state]
    run = run_stack(stack, at=GOLDEN_STATES[state])
    actual = plan_fingerprint(run)
    added, removed = sorted(set(actual) - set(expected)), sorted(set(expected) - set(actual))
    changed = sorted(urn for urn in set(actual) & set(expected) if actual[urn] != expected[urn])
    # A removed URN that an added resource names in `aliases` is a move the engine keeps; without one, a replacement.
    aliased = {alias for r in run.resources if r.urn in added for alias in r.aliases}
    moved, replaced = [u for u in removed if u in aliased], [u for u in removed if u not in aliased]
    assert not (added or removed or changed), (
        f"{state} plan changed: added {added}, moved (aliased) {moved}, removed without an alias {replaced}, changed {changed}"
    )
