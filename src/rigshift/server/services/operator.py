"""The operator's actions, each written to the audit log with who did it and when.

Apply (or dry-run) a demand on the server's fleet, drain and undrain a rig, start a bench on a
rig, revoke a key, start and end a demand-response event, acknowledge an alert. The HTTP API
(`routers/operations.py`, and the older key and energy-event routes) and the CLI's local control
plane call these same functions; an action that fails is not logged (nothing is stored by a
failed request), except a bench, which is logged when it starts and updated when it ends.

Draining a rig: the gateway sends it no new request (`Router.drained`; requests in flight
finish), no plan may start a new replica on it (`DeploymentsService`), the reconciler moves no
lost rig's replica onto it (`ReplicaManager.avoid_rigs`), and the demand planner leaves it out. Its replicas keep running until a plan moves them or it is undrained.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from rigshift.errors import RigshiftError
from rigshift.plan import parse_demand, plan_placement
from rigshift.run.labels import label_value
from rigshift.run.plan_adapter import specs_from_plan
from rigshift.run.spec import to_dict as spec_to_dict
from rigshift.server.errors import BadRequest, Conflict, NotFound, Unavailable
from rigshift.server.fleet_source import FleetSource
from rigshift.server.replica_picker import Router
from rigshift.server.services.alerts import AlertRecord, AlertsService
from rigshift.server.services.deployments import DeploymentsService
from rigshift.server.services.energy import EnergyApiService
from rigshift.server.services.keys import ApiKey, KeysService
from rigshift.server.services.measurements import MeasurementsService
from rigshift.server.stores.audit import AuditEntry, AuditLog, Drain, DrainStore
from rigshift.server.stores.energy_events import EnergyEvent
from rigshift.suggest import did_you_mean

__all__ = ["Actor", "AuditEntry", "Drain", "OperatorService"]


@dataclass(frozen=True)
class Actor:
    """Who acts: an admin key (its name and id), or the CLI on the database ("local CLI (user)")."""

    name: str
    key_id: str | None = None

    @classmethod
    def of(cls, key: ApiKey) -> Actor:
        return cls(key.name, key.id)


class OperatorService:
    def __init__(
        self,
        audit: AuditLog,
        drains: DrainStore,
        clock: Callable[[], float],
        *,
        keys: KeysService,
        energy: EnergyApiService | None = None,
        alerts: AlertsService | None = None,
        deployments: DeploymentsService | None = None,
        measurements: MeasurementsService | None = None,
        fleet: FleetSource | None = None,
        router: Router | None = None,
    ):
        self.audit = audit
        self.drains = drains
        self.clock = clock
        self.keys = keys
        self.energy = energy
        self.alerts = alerts
        self.deployments = deployments
        self.measurements = measurements
        self.fleet = fleet
        self.router = router  # the gateway's replica picker, told which rigs are drained
        self._drained: frozenset[str] = frozenset()
        self._benches: set[asyncio.Task[None]] = set()

    async def _log(
        self, actor: Actor, action: str, target: str, detail: dict[str, Any], outcome: str = "ok"
    ) -> AuditEntry:
        return await anyio.to_thread.run_sync(
            lambda: self.audit.record(
                at=self.clock(),
                actor=actor.name,
                actor_key_id=actor.key_id,
                action=action,
                target=target,
                detail=detail,
                outcome=outcome,
            )
        )

    async def log(self, limit: int, action: str | None = None) -> list[AuditEntry]:
        return await anyio.to_thread.run_sync(lambda: self.audit.recent(limit=limit, action=action))

    # --- drains ---------------------------------------------------------------------------------

    def drained(self) -> frozenset[str]:
        """The drained rigs as last loaded (what the gateway and the deployments check)."""
        return self._drained

    async def load_drains(self) -> list[Drain]:
        """Read the drained rigs from the database (at start-up, and after each change)."""
        drains = await anyio.to_thread.run_sync(self.drains.list)
        self._drained = frozenset(d.rig for d in drains)
        if self.router is not None:
            self.router.drained = self._drained
        return drains

    async def _check_rig(self, rig: str) -> None:
        """Refuse a rig the server knows not to exist (a typo would drain nothing), where it knows
        every rig: a --fleet file, plus the connected agents and the rigs replicas run on."""
        deployments = self.deployments
        if deployments is None or deployments.rigs is None:
            return
        inventory = await anyio.to_thread.run_sync(deployments.rigs)
        if inventory is None or not inventory.closed:
            return
        known = set(inventory.gpus) | {str(r["rig"]) for r in deployments.replicas()}
        if label_value(rig) not in known and rig not in known:
            near = did_you_mean(rig, sorted(known))
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise NotFound(
                f"no rig {rig!r} in the fleet or the cluster{hint}", code="unknown_rig", param="rig"
            )

    async def drain(self, actor: Actor, rig: str, reason: str) -> Drain:
        await self._check_rig(rig)
        drain = await anyio.to_thread.run_sync(
            lambda: self.drains.drain(rig, by=actor.name, reason=reason, now=self.clock())
        )
        await self.load_drains()
        await self._log(actor, "rig.drain", rig, {"reason": reason})
        return drain

    async def undrain(self, actor: Actor, rig: str) -> dict[str, Any]:
        was = await anyio.to_thread.run_sync(lambda: self.drains.undrain(rig))
        await self.load_drains()
        await self._log(actor, "rig.undrain", rig, {"was_drained": was})
        return {"rig": rig, "drained": False, "was_drained": was}

    # --- demand -------------------------------------------------------------------------------

    async def apply_demand(
        self, actor: Actor, demand_yaml: str, *, dry_run: bool, allow_partial: bool = False
    ) -> dict[str, Any]:
        """Plan the demand on the server's fleet (drained rigs left out), then apply the replicas
        (or, with `dry_run`, only say what would run)."""
        source = self.fleet
        if source is None or not source.configured:
            raise Conflict(
                "this server has no fleet to plan on: start it with `rigshift server --fleet FILE`",
                code="no_fleet",
            )
        drained = self._drained

        def plan() -> tuple[list[Any], list[str]]:
            fleet = source.fleet()
            assert fleet is not None
            demand = parse_demand(demand_yaml, "demand")
            usable = fleet.model_copy(update={"rigs": [r for r in fleet.rigs if r.name not in drained]})
            placed = plan_placement(usable, demand, options=demand.plan_options(), tools=source.tools())
            return specs_from_plan(placed), [u.render() for u in placed.unplaced]

        specs, unplaced = await anyio.to_thread.run_sync(plan)
        result: dict[str, Any] = {
            "dry_run": dry_run,
            "replicas": [spec_to_dict(s) for s in specs],
            "unplaced": unplaced,
            "drained_rigs": sorted(drained),
            "applied": False,
        }
        if dry_run:
            await self._log(actor, "demand.dry_run", "demand", _demand_detail(specs, unplaced), "dry_run")
            return result
        if unplaced and not allow_partial:
            raise BadRequest(
                f"part of the demand cannot be placed ({'; '.join(unplaced[:3])}); "
                "fix the demand or pass allow_partial",
                code="unplaced",
                param="demand",
            )
        if self.deployments is None:
            raise Conflict("this server has no deployments to apply to", code="no_cluster")
        await self.deployments.apply(specs)
        await self._log(actor, "demand.apply", "demand", _demand_detail(specs, unplaced))
        return {**result, "applied": True}

    # --- bench --------------------------------------------------------------------------------

    def _bench_service(self) -> MeasurementsService:
        service = self.measurements
        if service is None or service.rig_bench is None:
            raise Conflict(
                "this server has no cluster to reach rig agents through; run `rigshift bench` on the rig",
                code="no_cluster",
            )
        return service

    async def bench_rig(
        self,
        actor: Actor,
        rig: str,
        runtime: str | None = None,
        threads: int | None = None,
        models: list[str] | None = None,
    ) -> list[Any]:
        """Bench `rig` through its agent and wait for the rows (`rigshift bench --rig`)."""
        service = self._bench_service()
        rows = await service.bench_rig(rig, runtime, threads, models)
        await self._log(actor, "rig.bench", rig, {"rows": len(rows), "runtime": runtime, "models": models})
        return rows

    async def start_bench(self, actor: Actor, rig: str, models: list[str] | None = None) -> AuditEntry:
        """Start a bench on `rig` in the background (minutes); its audit entry says `started`, then
        `ok` with the rows stored, or `failed` with why."""
        service = self._bench_service()
        entry = await self._log(actor, "rig.bench", rig, {"models": models}, "started")

        async def run() -> None:
            detail: dict[str, Any]
            try:
                rows = await service.bench_rig(rig, None, None, models)
                outcome, detail = "ok", {"models": models, "rows": len(rows)}
            except RigshiftError as error:
                outcome, detail = "failed", {"models": models, "error": str(error)[:500]}
            with contextlib.suppress(Exception):  # a locked database must not lose the task's end
                await anyio.to_thread.run_sync(lambda: self.audit.finish(entry.id, outcome, detail))

        task = asyncio.create_task(run())
        self._benches.add(task)
        task.add_done_callback(self._benches.discard)
        return entry

    # --- keys, energy events, alerts ----------------------------------------------------------

    async def revoke_key(self, actor: Actor, id_or_name: str) -> ApiKey:
        key = await self.keys.revoke(id_or_name)
        await self._log(actor, "key.revoke", key.id, {"name": key.name})
        return key

    def _energy(self) -> EnergyApiService:
        if self.energy is None:
            raise Unavailable("energy is not set up on this server", code="no_energy")
        return self.energy

    async def start_event(
        self,
        actor: Actor,
        site: str,
        start: float | None,
        end: float,
        shed_kw: float | None,
        target_kw: float | None,
    ) -> EnergyEvent:
        event = await self._energy().create_event(site, start, end, shed_kw, target_kw)
        detail = {
            "site": site,
            "start": event.start_at,
            "end": end,
            "shed_kw": shed_kw,
            "target_kw": target_kw,
        }
        await self._log(actor, "event.start", event.id, detail)
        return event

    async def end_event(self, actor: Actor, event_id: str) -> EnergyEvent:
        event = await self._energy().cancel_event(event_id)
        await self._log(actor, "event.end", event.id, {"site": event.site})
        return event

    async def acknowledge(self, actor: Actor, alert_id: str) -> AlertRecord:
        if self.alerts is None:
            raise Unavailable("this server keeps no alerts", code="no_alerts")
        alert = await self.alerts.acknowledge(alert_id, actor.name)
        await self._log(actor, "alert.ack", alert_id, {"rule": alert.rule, "subject": alert.subject})
        return alert


def _demand_detail(specs: list[Any], unplaced: list[str]) -> dict[str, Any]:
    return {
        "replicas": len(specs),
        "rigs": sorted({s.rig for s in specs}),
        "unplaced": unplaced[:10],
    }
