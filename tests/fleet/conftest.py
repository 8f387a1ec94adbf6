"""Fixtures for the fleet tests: a fake catalog seam, the example inventories."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigshift.fleet.model import UNRESOLVED_MODEL
from rigshift.fleet.names import Resolved, Resolver
from rigshift.suggest import did_you_mean, normalise

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "fleet"

# name -> (key, VRAM); the fake catalog knows a handful of cards, like the real one knows many.
_KNOWN = {
    "rtx 3060": ("geforce-rtx-3060-12gb", 12.0),
    "rtx 3060 12gb": ("geforce-rtx-3060-12gb", 12.0),
    "geforce rtx 3060": ("geforce-rtx-3060-12gb", 12.0),
    "nvidia geforce rtx 3060": ("geforce-rtx-3060-12gb", 12.0),
    "rtx 3070": ("geforce-rtx-3070", 8.0),
    "rx 580": ("radeon-rx-580-8gb", 8.0),
    "radeon rx 580 series": ("radeon-rx-580-8gb", 8.0),
    "gtx 1070 ti": ("geforce-gtx-1070-ti", 8.0),
    "geforce gtx 1070 ti": ("geforce-gtx-1070-ti", 8.0),
}


def fake_resolve(name: str, vram_gib: float | None) -> Resolved:
    hit = _KNOWN.get(normalise(name))
    if hit is None:
        return Resolved(UNRESOLVED_MODEL, None, did_you_mean(name, _KNOWN))
    return Resolved(hit[0], hit[1])


@pytest.fixture
def resolver() -> Resolver:
    return fake_resolve


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
