"""docs/energy.md documents every `rigshift energy` option, demand/event/config key and route."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from pydantic import BaseModel

from rigshift.cli.app import app
from rigshift.energy.contracts import Contract, DemandResponse, FourCp, PowerTerms, SitePower
from rigshift.energy.demand import BatchArrivals, Event, InteractiveDemand
from rigshift.energy.simulate import TOTAL_KEYS, Totals
from rigshift.energy.wiring import EnergyConfig, LiveErcot, PriceFile
from rigshift.server.routers.energy import agent_router, router

DOC = (Path(__file__).resolve().parents[2] / "docs" / "energy.md").read_text(encoding="utf-8")


def test_every_energy_cli_option_is_documented() -> None:
    group = typer.main.get_command(app).commands["energy"]  # type: ignore[attr-defined]
    missing = []
    for name, command in group.commands.items():
        assert f"energy {name}" in DOC
        missing += [o for p in command.params for o in p.opts if o.startswith("--") and o not in DOC]
    agent = typer.main.get_command(app).commands["agent"]  # type: ignore[attr-defined]
    missing += [o for p in agent.params for o in p.opts if o in ("--caps", "--dry-run") and o not in DOC]
    assert not missing, f"undocumented options: {sorted(set(missing))}"


def test_every_file_key_and_route_is_documented() -> None:
    models: list[type[BaseModel]] = [
        InteractiveDemand,
        BatchArrivals,
        Event,
        EnergyConfig,
        PriceFile,
        LiveErcot,
        PowerTerms,
        SitePower,
        Contract,
        DemandResponse,
        FourCp,
    ]
    keys = {k for m in models for k in m.model_fields if k != "id"}
    # every field of the simulation's JSON totals, and the top-level ones
    keys |= set(Totals.__dataclass_fields__) | set(TOTAL_KEYS)
    keys |= {"best_baseline", "high_price_hours", "policy_margin_usd", "policy_loses", "roles", "by_band"}
    missing = sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}\b", DOC))
    assert not missing, f"undocumented keys: {missing}"
    for route in [*router.routes, *agent_router.routes]:
        path = route.path.split("{")[0].rstrip("/")  # type: ignore[attr-defined]
        assert path in DOC, path
