"""The stored plan (desired replica specs) and the reconciler's action log (start/stop/move/restart,
each with its reason).

The data plane's reconciler calls these so an operator can ask the control plane why a replica
is where it is; the gateway never reads them (it routes on the live `ReplicaDirectory`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from rigshift.run.spec import ReplicaSpec, from_dict, to_dict
from rigshift.server.stores import EngineStore
from rigshift.server.tables import actions, desired_specs


@dataclass(frozen=True)
class Action:
    created_at: float
    deployment: str
    replica_id: str | None
    action: str
    reason: str


class DeploymentLog(EngineStore):
    def record_action(self, action: Action) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(actions).values(**action.__dict__))

    def actions(self, *, limit: int = 100, deployment: str | None = None) -> list[Action]:
        query = select(actions).order_by(actions.c.id.desc()).limit(limit)
        if deployment is not None:
            query = query.where(actions.c.deployment == deployment)
        with self.engine.connect() as conn:
            return [
                Action(r.created_at, r.deployment, r.replica_id, r.action, r.reason)
                for r in conn.execute(query)
            ]

    def save_desired(self, specs: list[ReplicaSpec], now: float) -> None:
        """Replace the stored plan (one transaction: a crash leaves the old or the new, never half)."""
        with self.engine.begin() as conn:
            conn.execute(delete(desired_specs))
            if specs:
                conn.execute(
                    insert(desired_specs),
                    [
                        {
                            "replica_id": s.replica_id,
                            "spec_json": json.dumps(to_dict(s), sort_keys=True),
                            "updated_at": now,
                        }
                        for s in specs
                    ],
                )

    def load_desired(self) -> list[ReplicaSpec]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(desired_specs).order_by(desired_specs.c.replica_id)).all()
        return [from_dict(json.loads(r.spec_json)) for r in rows]
