"""What `rigshift fleet show` prints, as plain data: sites, GPUs by model, links, unresolved names."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rigshift.fleet.model import Fleet, Gpu


def link_label(gpu: Gpu) -> str:
    return f"Gen{gpu.pcie.gen} x{gpu.pcie.width}" if gpu.pcie else "unknown"


def summarize(fleet: Fleet) -> dict[str, Any]:
    sites: dict[str, dict[str, Any]] = {
        s.name: {
            "site": s.name,
            "rigs": 0,
            "gpus": 0,
            "vram_gib": 0.0,
            "power_price_usd_kwh": s.power_price_usd_kwh,
            "power_budget_kw": s.power_budget_kw,
        }
        for s in fleet.sites
    }
    models: dict[tuple[str, float], dict[str, Any]] = {}
    links: Counter[str] = Counter()
    unresolved: dict[str, dict[str, Any]] = {}
    ambiguous: dict[tuple[str, str], dict[str, Any]] = {}
    mining = others_gib = 0.0
    for rig in fleet.rigs:
        row = sites.setdefault(rig.site, {"site": rig.site, "rigs": 0, "gpus": 0, "vram_gib": 0.0})
        row["rigs"] += 1
        for gpu in rig.gpus:
            row["gpus"] += 1
            row["vram_gib"] += gpu.vram_gib
            links[link_label(gpu)] += 1
            mining += gpu.miner_running
            others_gib += gpu.vram_used_by_others_gib
            entry = models.setdefault(
                (gpu.model if gpu.resolved else f"? {gpu.reported_name}", gpu.vram_gib),
                {
                    "model": gpu.model,
                    "reported_name": gpu.reported_name,
                    "vram_gib": gpu.vram_gib,
                    "count": 0,
                    "links": Counter(),
                },
            )
            entry["count"] += 1
            entry["links"][link_label(gpu)] += 1
            if gpu.vram_variants_gib:
                vague = ambiguous.setdefault(
                    (gpu.reported_name or gpu.model, gpu.model),
                    {
                        "reported_name": gpu.reported_name,
                        "model": gpu.model,
                        "decided_gib": gpu.vram_gib,
                        "variants_gib": list(gpu.vram_variants_gib),
                        "count": 0,
                        "rigs": [],
                    },
                )
                vague["count"] += 1
                if rig.name not in vague["rigs"]:
                    vague["rigs"].append(rig.name)
            if not gpu.resolved:
                bad = unresolved.setdefault(
                    gpu.reported_name or "?",
                    {
                        "reported_name": gpu.reported_name,
                        "count": 0,
                        "rigs": [],
                        "did_you_mean": gpu.name_suggestions,
                    },
                )
                bad["count"] += 1
                if rig.name not in bad["rigs"]:
                    bad["rigs"].append(rig.name)
    by_model = sorted(models.values(), key=lambda m: (-m["count"], m["model"]))
    for m in by_model:
        m["vram_total_gib"] = round(m["count"] * m["vram_gib"], 2)
        m["links"] = dict(m["links"].most_common())
    for s in sites.values():
        s["vram_gib"] = round(s["vram_gib"], 2)
    return {
        "name": fleet.name,
        "sites": list(sites.values()),
        "rigs": len(fleet.rigs),
        "gpus": fleet.gpu_count,
        "vram_gib": round(sum(g.vram_gib for _, g in fleet.gpus()), 2),
        "gpus_mining": int(mining),
        "vram_used_by_others_gib": round(others_gib, 2),
        "by_model": by_model,
        "links": dict(links.most_common()),
        "unresolved": list(unresolved.values()),
        "ambiguous": list(ambiguous.values()),
    }


def ambiguity_warning(entry: dict[str, Any]) -> str:
    """One line for an `ambiguous` entry of `summarize`: what was decided and how to settle it."""
    sizes = " or ".join(f"{v:g}" for v in entry["variants_gib"])
    return (
        f"ambiguous GPU name {entry['reported_name']!r} x{entry['count']}: {sizes} GiB; decided as "
        f"{entry['decided_gib']:g} GiB (the smaller) until the inventory gives vram_gib"
    )


def ambiguous_names(fleet: Fleet) -> list[dict[str, Any]]:
    """The names that fit several memory sizes, as `summarize` lists them (assess reports them too)."""
    if not any(gpu.vram_variants_gib for _, gpu in fleet.gpus()):
        return []
    return list(summarize(fleet)["ambiguous"])
