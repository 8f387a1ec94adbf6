"""A bundled demo fleet: a synthetic former Ethereum farm, generated deterministically.

`demo_fleet()` is about 2,000 GPUs on about 300 rigs at two sites: a Texas site on ERCOT power
and a Nordic hydro site. Nothing here is a real farm: the card mix, rig shapes and hosts follow
what docs/fleet.md ("The demo fleet") describes for mining farms (6-12 GPU open-air rigs on PCIe x1 risers, 2-core
Celeron hosts with 4-8 GB RAM and a small SSD or USB stick, HiveOS) and the cards miners bought
in 2017-2022. Weights and figures are ours; docs/fleet.md explains them.

`demo_fleet(scale=N)` makes a fleet of about N GPUs with the same mix (100,000 for benchmarks).
Every rig is homogeneous, so each rig's cards are built from one template and copied: building
a 100,000-GPU fleet stays well under the 3 s the benchmarks allow.
"""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass
from typing import Any

from rigshift.fleet.model import Fleet, Site
from rigshift.fleet.names import CatalogResolver, Resolved, Resolver


@dataclass(frozen=True)
class _Card:
    name: str  # as a mining OS prints it; resolved through the catalog
    vram_gib: float
    brand: str
    share: float  # share of the farm's GPUs
    tdp_w: float  # board power at default limit
    mining_w: float  # tuned power limit for Ethash/Etchash
    mhs: float  # tuned Etchash MH/s
    max_link: tuple[int, int]  # the card's own PCIe link (gen, width)
    rig_sizes: tuple[int, ...] = (6, 6, 8)  # drawn uniformly: mostly 6-card rigs
    hot_memory: bool = False  # GDDR6X runs its memory near 100 °C when mining


# Shares: Polaris (RX 470-580) was the bulk of small farms; Pascal and P10x mining cards next;
# Ampere bought 2020-2022; a few CMP, Navi and Vega rigs. TDPs are the reference boards';
# mining power limits and hashrates are typical tuned values as miners reported them.
_CARDS: tuple[_Card, ...] = (
    _Card("RX 580", 8, "amd", 0.20, 185, 95, 30.5, (3, 16), (6, 8, 12)),
    _Card("RX 570", 8, "amd", 0.08, 150, 90, 29.5, (3, 16), (6, 8, 12)),
    _Card("RX 570", 4, "amd", 0.06, 150, 85, 27.0, (3, 16), (6, 8, 12)),
    _Card("GTX 1070", 8, "nvidia", 0.06, 150, 105, 30.0, (3, 16)),
    _Card("GTX 1070 Ti", 8, "nvidia", 0.05, 180, 120, 31.0, (3, 16)),
    _Card("GTX 1080 Ti", 11, "nvidia", 0.04, 250, 190, 45.0, (3, 16)),
    _Card("P104-100", 4, "nvidia", 0.05, 180, 110, 36.0, (1, 4), (6, 8, 12)),
    _Card("P106-100", 6, "nvidia", 0.04, 120, 80, 21.0, (1, 16), (6, 8, 12)),
    _Card("RTX 3060", 12, "nvidia", 0.06, 170, 115, 48.0, (4, 16)),
    _Card("RTX 3060 Ti", 8, "nvidia", 0.06, 200, 125, 60.0, (4, 16)),
    _Card("RTX 3070", 8, "nvidia", 0.06, 220, 125, 61.0, (4, 16)),
    _Card("RTX 3080", 10, "nvidia", 0.04, 320, 230, 97.0, (4, 16), (6, 8), True),
    _Card("RTX 3090", 24, "nvidia", 0.02, 350, 290, 120.0, (4, 16), (4, 6), True),
    _Card("CMP 30HX", 6, "nvidia", 0.02, 125, 100, 26.0, (1, 4)),
    _Card("CMP 50HX", 10, "nvidia", 0.01, 250, 200, 49.0, (1, 4)),
    _Card("CMP 90HX", 10, "nvidia", 0.01, 320, 250, 86.0, (1, 4), (6,)),
    _Card("CMP 170HX", 8, "nvidia", 0.01, 250, 200, 164.0, (1, 4), (4, 8)),
    _Card("RX 5700 XT", 8, "amd", 0.05, 225, 130, 54.0, (4, 16)),
    _Card("RX 6600 XT", 8, "amd", 0.03, 160, 70, 32.0, (4, 8)),
    _Card("RX 6700 XT", 12, "amd", 0.03, 230, 120, 47.0, (4, 16)),
    _Card("RX 6800 XT", 16, "amd", 0.02, 300, 150, 62.0, (4, 16), (6,)),
    _Card("RX Vega 56", 8, "amd", 0.02, 210, 150, 40.0, (3, 16), (6,)),
    _Card("RX Vega 64", 8, "amd", 0.02, 295, 170, 43.0, (3, 16), (6,)),
)


@dataclass(frozen=True)
class _SiteShape:
    site: Site
    prefix: str
    share: float  # of the rigs
    ambient_c: float


_SITES = (
    _SiteShape(
        Site(
            name="tx-ercot",
            power_budget_kw=900,
            power_price_usd_kwh=0.035,
            pue=1.12,
            labels={"market": "ERCOT", "hub": "HB_WEST", "region": "Texas"},
        ),
        "tx",
        0.6,
        30,
    ),
    _SiteShape(
        Site(
            name="no-hydro",
            power_budget_kw=600,
            power_price_usd_kwh=0.045,
            pue=1.05,
            labels={"market": "Nord Pool", "zone": "NO4", "region": "Northern Norway"},
        ),
        "no",
        0.4,
        12,
    ),
)
# (name, cores, share); mining rigs ran the cheapest CPU the board took.
_CPUS = (
    ("Intel Celeron G3930", 2, 0.45),
    ("Intel Celeron G4900", 2, 0.35),
    ("Intel Celeron G5905", 2, 0.1),
    ("Intel Pentium G4560", 4, 0.1),
)
# (board, slots, link pattern): x1-riser boards, and a few Gen3 boards with x4/x16 slots.
_BOARDS = (
    ("ASRock H110 Pro BTC+", 13),
    ("Biostar TB250-BTC PRO", 12),
    ("MSI Z270-A PRO", 7),
    ("Gigabyte GA-B250-FinTech", 12),
)
_GEN3_BOARDS = (("ASUS B250 Mining Expert", 19), ("Supermicro X10DRG-Q", 4))
_DISKS = ((16, 0.04, "USB stick"), (32, 0.08, "USB stick"), (60, 0.45, "SSD"), (120, 0.5, "SSD"))


def demo_fleet(seed: int = 0, scale: int = 2000, resolver: Resolver | None = None) -> Fleet:
    """About `scale` GPUs on rigs of 4-12; the same seed and scale always give the same fleet."""
    # Millions of small acyclic objects: the cyclic GC would rescan them again and again (it was
    # 70% of the time at 100,000 GPUs), so it is paused while they are built.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _generate(seed, scale, resolver or CatalogResolver())
    finally:
        if paused:
            gc.enable()


def _generate(seed: int, scale: int, resolver: Resolver) -> Fleet:
    rng = random.Random(seed)
    keys = {card: resolver(card.name, card.vram_gib) for card in _CARDS}
    weights = [card.share / _mean(card.rig_sizes) for card in _CARDS]  # rig weight from GPU share
    site_weights = [s.share for s in _SITES]
    counters: dict[str, int] = {}
    rigs: list[dict[str, Any]] = []
    total = 0
    while total < scale:
        card = rng.choices(_CARDS, weights)[0]
        shape = rng.choices(_SITES, site_weights)[0]
        size = min(rng.choice(card.rig_sizes), max(1, scale - total))
        rig = _rig(rng, card, shape, size, keys[card], counters)
        rigs.append(rig)
        total += size
    sites = [s.site.model_dump(exclude_defaults=True) for s in _SITES]
    # Plain data validated in one call: pydantic's core validates 100,000 cards in about a second,
    # far faster than building each model in Python.
    return Fleet.model_validate({"name": "demo-farm", "sites": sites, "rigs": rigs})


def _rig(
    rng: random.Random,
    card: _Card,
    shape: _SiteShape,
    size: int,
    resolved: Resolved,
    counters: dict[str, int],
) -> dict[str, Any]:
    """One rig as plain data: validated once, with the whole fleet, which is much faster."""
    short = card.name.lower().replace("rtx ", "").replace("gtx ", "").replace("rx ", "rx")
    short = short.replace(" ", "").replace("-100", "")
    n = counters[shape.prefix] = counters.get(shape.prefix, 0) + 1
    name = f"{shape.prefix}-{short}-{n:03d}"
    gen3 = rng.random() < 0.06 or size <= 4
    board, _slots = rng.choice(_GEN3_BOARDS if gen3 else _BOARDS)
    if gen3:
        link = (3, 16 if board.startswith("Supermicro") else 4)
    else:
        link = (1, 1) if rng.random() < 0.6 else (2, 1)  # many farms forced Gen1 for riser stability
    cpu, cores, _ = rng.choices(_CPUS, [c[2] for c in _CPUS])[0]
    disk_gib, disk_gbs, _kind = rng.choice(_DISKS)
    mining = rng.random() < 0.15  # a rig still mining ETC, holding its DAG in VRAM
    ram = rng.choices((4, 8, 16), (0.45, 0.45, 0.1))[0]
    psu = _round_up(size * card.mining_w * 1.25 + 80, 100)

    pcie = {
        "gen": min(link[0], card.max_link[0]),
        "width": min(link[1], card.max_link[1]),
        "max_gen": card.max_link[0],
        "max_width": card.max_link[1],
    }
    power = {
        "min": round(card.tdp_w * 0.5),
        "default": card.tdp_w,
        "max": round(card.tdp_w * 1.15),
        "current": card.mining_w if mining else card.tdp_w,
    }
    dag_gib = 3.9 if card.vram_gib >= 6 else 2.4  # Etchash DAG; 4 GB cards mine Autolykos (ERG)
    template: dict[str, Any] = {
        "model": resolved.key,
        "reported_name": card.name,
        "brand": card.brand,
        "vram_gib": card.vram_gib,
        "miner_running": mining,
        "vram_used_by_others_gib": dag_gib if mining else 0.0,
    }
    if resolved.suggestions:
        template["name_suggestions"] = list(resolved.suggestions)
    if mining:
        template["hashrate_mhs"] = card.mhs
        template["algorithm"] = "etchash" if card.vram_gib >= 6 else "autolykos2"
    gpus = []
    for i in range(size):
        temperature = shape.ambient_c + rng.uniform(20, 38 if mining else 12)
        gpu = {
            **template,
            "index": i,
            "bus_id": f"0000:{i + 1:02x}:00.0",
            "pcie": dict(pcie),
            "power": dict(power),
            "temperature_c": round(temperature, 1),
            "memory_temperature_c": round(temperature + (rng.uniform(28, 40) if card.hot_memory else 8), 1),
            "fan_pct": round(rng.uniform(35, 85 if mining else 50)),
            "power_draw_w": round(
                card.mining_w * rng.uniform(0.92, 1.0) if mining else rng.uniform(8, 20), 1
            ),
        }
        if card.brand == "nvidia":
            gpu["uuid"] = _uuid(rng)
        gpus.append(gpu)
    return {
        "name": name,
        "site": shape.site.name,
        "hostname": name,
        "external_id": str(rng.randrange(10**6, 10**7)),
        "cpu_model": cpu,
        "cpu_cores": cores,
        "ram_gib": ram,
        "disk_gib": disk_gib,
        "disk_read_gbs": disk_gbs,
        "network_gbps": 1.0,
        "psu_w": psu,
        "mining_os": "hiveos",
        "motherboard": board,
        "labels": {"riser": "none" if gen3 else f"gen{link[0]} x1 usb riser"},
        "gpus": gpus,
    }


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _round_up(value: float, step: int) -> float:
    return float(-(-int(value) // step) * step)


def _mean(values: tuple[int, ...]) -> float:
    return sum(values) / len(values)
