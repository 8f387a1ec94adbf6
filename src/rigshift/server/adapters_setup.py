"""Wire tenants' adapters into the server: store, gateway routing, and the data plane's plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rigshift.run.adapter_placement import place_adapters
from rigshift.run.spec import AdapterRef, ModelSource, ReplicaSpec
from rigshift.server.adapter_routing import AdapterRouting
from rigshift.server.gateway import Gateway
from rigshift.server.services.adapters import AdapterService
from rigshift.server.services.deployments import DeploymentsService
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.adapters import Adapter, AdapterStore
from rigshift.server.stores.model_files import ModelStore


def adapter_refs(adapters: list[Adapter]) -> list[tuple[str, AdapterRef]]:
    """(base model, what a replica loads) per adapter, oldest first: rigs fetch it from the store."""
    return [(a.base_model, AdapterRef(a.id, ModelSource("store", a.file_name, a.sha256))) for a in adapters]


def build_adapters(
    store: AdapterStore,
    gateway: Gateway,
    settings: ServerSettings,
    clock: Callable[[], float],
    deployments: DeploymentsService,
) -> AdapterService:
    routing = AdapterRouting(store.every)
    routing.refresh()
    gateway.adapters = routing
    deployments.place_adapters = lambda specs: place_adapters(specs, adapter_refs(store.every()))

    def replan(every: list[Adapter]) -> None:
        manager = deployments.manager
        if manager is not None:
            desired: list[ReplicaSpec] = list(manager.desired)
            manager.apply(place_adapters(desired, adapter_refs(every)))

    files = ModelStore(Path(settings.model_store_dir)) if settings.model_store_dir else None
    return AdapterService(store, files, routing, clock, on_change=replan)
