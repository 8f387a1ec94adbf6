"""minerstat worker stats JSON (`GET api.minerstat.com/v2/stats/{ACCESS_KEY}`) -> fleet.

The body maps worker name -> {info, hardware[{name, temp, fan, power, speed}], revenue{usd_day},
mining{crypto, hashrate{hashrate, hashrate_unit}}}; a list of workers with a `name` key is also
accepted. minerstat reports no bus id, VRAM or link: GPUs are numbered in the order listed, and
a name the catalog does not know cannot be sized (it is reported, with a did-you-mean).
`speed` is taken to be in the worker's `hashrate_unit` (H, KH, MH, GH; MH when absent).
"""

from __future__ import annotations

from typing import Any

from rigshift.fleet.model import UNASSIGNED_SITE, Gpu, Rig
from rigshift.fleet.names import Resolver
from rigshift.fleet.sources.common import (
    EntryProblems,
    Parsed,
    assemble_fleet,
    at,
    finite,
    gpus_from_entry,
    rig_from_values,
    under,
    worker_problems,
)

_UNIT_TO_MHS = {"H": 1e-6, "KH": 1e-3, "MH": 1.0, "GH": 1e3, "TH": 1e6}


def parse_minerstat(data: Any, source: str, resolver: Resolver, site: str = UNASSIGNED_SITE) -> Parsed:
    parsed = Parsed("minerstat", source, assemble_fleet("fleet", []))
    if isinstance(data, dict) and not {"hardware", "info"} & set(data):
        workers = [(f"$[{k!r}]", k, v) for k, v in data.items()]
    elif isinstance(data, list):
        workers = [
            (f"$[{i}]", (w or {}).get("name") if isinstance(w, dict) else None, w) for i, w in enumerate(data)
        ]
    else:
        top = EntryProblems(source, at("$"))
        top.add("no workers", expected="an object of worker name -> stats, or a list of workers")
        parsed.problems.extend(top.problems)
        return parsed
    rigs: list[Rig] = []
    for path, name, worker in workers:
        rig = _rig(path, name, worker, source, site, resolver, parsed)
        if rig is not None:
            rigs.append(rig)
    parsed.fleet = assemble_fleet("fleet", rigs)
    return parsed


def _rig(
    path: str, name: Any, worker: Any, source: str, site: str, resolver: Resolver, parsed: Parsed
) -> Rig | None:
    problems = worker_problems(worker, path, source, parsed, "minerstat")
    if problems is None:
        return None
    values: dict[str, Any] = {"site": site, "mining_os": "minerstat"}
    if isinstance(name, str) and name.strip():
        values["name"] = values["external_id"] = name.strip()
    revenue = worker.get("revenue")
    usd_day = finite(revenue.get("usd_day")) if isinstance(revenue, dict) else None
    if usd_day is not None:
        values["mining_revenue_usd_day"] = usd_day
    mining: dict[str, Any] = worker["mining"] if isinstance(worker.get("mining"), dict) else {}
    rate: dict[str, Any] = mining["hashrate"] if isinstance(mining.get("hashrate"), dict) else {}
    unit = str(rate.get("hashrate_unit") or "MH").upper().removesuffix("/S").removesuffix("S")
    scale = _UNIT_TO_MHS.get(unit)
    algorithm = mining.get("algorithm") or mining.get("crypto")
    hardware = worker.get("hardware")
    if not isinstance(hardware, list):
        problems.add("missing", field="hardware", expected="a list of GPUs")
        hardware = []
    gpus: list[Gpu] = []
    for i, card in enumerate(hardware):
        gpu_problems = EntryProblems(source, under(f"{path}.hardware[{i}]"))
        if not isinstance(card, dict):
            gpu_problems.add("not an object", expected="{name, temp, fan, power, speed}")
        else:
            gpu_values: dict[str, Any] = {"index": i}
            if isinstance(card.get("name"), str) and card["name"].strip():
                gpu_values["model"] = card["name"].strip()
            for src, dst in (("temp", "temperature_c"), ("fan", "fan_pct"), ("power", "power_draw_w")):
                number = finite(card.get(src))
                if number is not None and number >= 0:
                    gpu_values[dst] = number
            speed = finite(card.get("speed"))
            if speed is not None and scale is not None and speed >= 0:
                gpu_values["hashrate_mhs"] = speed * scale
                gpu_values["miner_running"] = speed > 0
                if isinstance(algorithm, str):
                    gpu_values["algorithm"] = algorithm
            gpus.extend(gpus_from_entry(gpu_values, resolver, gpu_problems))
        problems.problems.extend(gpu_problems.problems)
    rig = rig_from_values(values, gpus, problems)
    if rig is None:
        parsed.skip(path, problems)
    return rig
