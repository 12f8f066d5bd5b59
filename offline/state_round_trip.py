"""Does Airflow's state survive a duty-cycle pause? The real export and restore (airflow_state/), run locally.

After a duty-cycled stack's pipeline run has left several days of runs in its local Airflow, a team's UI changes are
made (a Variable, a secret one, a pool, a Connection, notes, the DAG paused), the state is exported through Airflow's
own API application, restored into a new, empty database (the environment the next resume creates, on the same
Airflow or, to move to another one, a newer), and what the API shows then is compared with what the export promises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_state.snapshot import DECLARED, Restored
from offline import airflow_env

MODULE = "offline.airflow_side.state_round_trip"
#: Forked from the pipeline run's server (offline/forkserver.py), whose preload includes the API application's.
PRELOADED_BY = "offline.airflow_side.run_dag"
#: The local API's auth: Airflow's simple auth manager with every request an admin (MWAA authenticates with IAM).
LOCAL_API = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}


@dataclass
class StateRoundTrip:
    exported_on: str
    restored_on: str
    restored: dict[str, Any]
    not_kept: list[str]
    differences: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> StateRoundTrip:
        """From its JSON form (`asdict` plus `passed`)."""
        return cls(**{key: value for key, value in document.items() if key != "passed"})

    @property
    def passed(self) -> bool:
        return not self.differences and not self.restored["problems"]

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else f"FAIL: {len(self.differences) + len(self.restored['problems'])} differences"


@dataclass
class Exported:
    """The export from the old environment and what its API showed (the comparison's first side)."""

    snapshot: dict[str, Any]
    view: dict[str, Any]
    version: str


def _child(action: str, version: str, home: Path, request: dict[str, Any], requirements: Path | None, **environ: str) -> dict[str, Any]:
    """`action` (export, restore) in the Airflow side on `version`, forked from the pipeline run's server."""
    found = airflow_env.run(
        version, MODULE, [action], home, stdin=json.dumps(request), requirements=requirements, preloaded_by=PRELOADED_BY,
        **LOCAL_API, **environ,
    )  # fmt: skip
    assert isinstance(found, dict)
    return found


def export_from(
    home: Path, folder: Path, dag_id: str, version: str, requirements: Path | None, touch: bool = True, **environ: str
) -> Exported:
    """A team's UI changes (unless not `touch`), then the export, in the Airflow whose home is `home` (on `version`,
    `folder` its DAGs)."""
    request = {"folder": str(folder), "dag_id": dag_id, "touch": touch}
    found = _child("export", version, home, request, requirements, **environ)
    return Exported(found["snapshot"], found["view"], version)


def restore_into(
    exported: Exported, home: Path, folder: Path, into: str, requirements: Path | None, pools: dict[str, int], **environ: str
) -> StateRoundTrip:
    """`exported.snapshot` restored into a new Airflow on `into` (its home `home`, `folder` its DAGs), then compared."""
    request = {"folder": str(folder), "snapshot": exported.snapshot, "pools": pools}
    found = _child("restore", into, home, request, requirements, **environ)
    return StateRoundTrip(
        exported_on=exported.version,
        restored_on=into,
        restored=found["restored"],
        not_kept=exported.snapshot["not_kept"],
        differences=differences(promised(exported.view, pools), found["view"]),
    )


def carry(
    home: Path, folder: Path, dag_id: str, version: str, requirements: Path | None, pools: dict[str, int], **environ: str
) -> StateRoundTrip:
    """Export the state of the Airflow in `home`, restore it into a new one on the same version, compare."""
    exported = export_from(home, folder, dag_id, version, requirements, **environ)
    return restore_into(exported, home.parent / "new-environment", folder, version, requirements, pools, **environ)


def promised(before: dict[str, Any], pools: dict[str, int]) -> dict[str, Any]:
    """What the new environment's API must show: the old one's view, with the pools declared in config over it."""
    return before | {"pools": before["pools"] | {name: [slots, DECLARED, False] for name, slots in pools.items()}}


def differences(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Each way the new environment's view differs from what was promised."""
    found = []
    for section in want:
        for name in sorted(want[section].keys() | got[section].keys()):
            if name not in got[section]:
                found.append(f"{section}: {name} missing")
            elif name not in want[section]:
                found.append(f"{section}: {name} there, but not in the old environment")
            elif want[section][name] != got[section][name]:
                found.append(f"{section}: {name} is {got[section][name]!r}, expected {want[section][name]!r}")
    return found


def render(trip: StateRoundTrip) -> str:
    restored = Restored(**trip.restored)
    lines = [
        f"State across a pause (exported on Airflow {trip.exported_on}, restored into a new database on {trip.restored_on}): "
        + trip.verdict,
        f"    restored        {restored.summary()}",
    ]
    lines += [f"    not kept        {item}" for item in trip.not_kept]
    lines += [f"    NOT RESTORED    {item}" for item in restored.problems]
    lines += [f"    DIFFERS         {item}" for item in trip.differences]
    return "\n".join(lines)
