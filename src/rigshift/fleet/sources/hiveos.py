"""HiveOS API v2 JSON -> fleet: a saved export, or what `hiveos_api` fetched live.

Accepted shapes (HiveOS API v2, https://api2.hiveos.farm/api/v2; docs/fleet.md, "HiveOS"): the body of `GET /farms/{id}/workers` (`{"data": [worker...]}`),
a bare list of workers, or the bundle `hiveos_api` writes: `{"farm": {...}, "workers": {...},
"gpus": {...}}` (the farm carries `power_price`; `gpus` is `GET /farms/{id}/workers/gpus`, used
for workers whose `gpu_info` is missing). HiveOS knows no PCIe link: a probe on the rig adds it.
Per-GPU hashrate lives in `miners_stats.hashrates[].hashes[i]` (kH/s), joined on
`bus_numbers[i]`. Problems are located by JSON path (`$.data[3].gpu_info[0].model`).
"""

from __future__ import annotations

import re
from typing import Any

from rigshift.fleet.model import Gpu, Rig, Site
from rigshift.fleet.names import Resolver, parse_mib_string
from rigshift.fleet.sources.common import (
    EntryProblems,
    Parsed,
    RigsByName,
    assemble_fleet,
    at,
    finite,
    gpus_from_entry,
    parse_watts,
    rig_from_values,
    under,
    worker_problems,
)
from rigshift.fleet.sources.nvml import normalise_bus_id

_GPU_BRANDS = {"nvidia", "amd"}  # gpu_info also lists on-board graphics ("cpu", "intel"): not ours


def parse_hiveos(data: Any, source: str, resolver: Resolver, site: str | None = None) -> Parsed:
    parsed = Parsed("hiveos", source, assemble_fleet("fleet", []))
    farm: dict[str, Any] = (
        data["farm"] if isinstance(data, dict) and isinstance(data.get("farm"), dict) else {}
    )
    workers, base = _workers(data)
    if workers is None:
        top = EntryProblems(source, at("$"))
        top.add("no workers", expected='{"data": [worker, ...]}, a list of workers, or {"farm", "workers"}')
        parsed.problems.extend(top.problems)
        return parsed
    site_name = site or str(farm.get("name") or "hiveos")
    gpus_by_worker = _gpus_endpoint(data)
    rigs = RigsByName(parsed, "worker name {name!r} is also {first}", expected="one worker per name")
    for i, worker in enumerate(workers):
        path = f"{base}[{i}]"
        rig = _rig(worker, path, source, site_name, resolver, gpus_by_worker, parsed)
        if rig is not None:
            rigs.add(rig, path, EntryProblems(source, under(path)), skipped=f"{path} {rig.name}")
    parsed.fleet = assemble_fleet(str(farm.get("name") or "fleet"), rigs.rigs, [_site(site_name, farm)])
    return parsed


def _workers(data: Any) -> tuple[list[Any] | None, str]:
    if isinstance(data, list):
        return data, "$"
    if not isinstance(data, dict):
        return None, "$"
    if isinstance(data.get("data"), list):
        return data["data"], "$.data"
    workers = data.get("workers")
    if isinstance(workers, list):
        return workers, "$.workers"
    if isinstance(workers, dict) and isinstance(workers.get("data"), list):
        return workers["data"], "$.workers.data"
    gpus = _gpus_endpoint(data)
    if gpus:  # only the GPU list was saved: one worker per name it mentions
        return [{"name": name, "id": wid} for (wid, name) in gpus], "$.gpus.data"
    return None, "$"


def _gpus_endpoint(data: Any) -> dict[tuple[Any, str], list[dict[str, Any]]]:
    """`GET /workers/gpus` items grouped by worker; each item is one GPU with its worker."""
    raw = data.get("gpus") if isinstance(data, dict) else None
    items = raw.get("data") if isinstance(raw, dict) else raw
    grouped: dict[tuple[Any, str], list[dict[str, Any]]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("worker"), dict):
            continue
        worker = item["worker"]
        flat = {**_dict(item.get("info")), **_dict(item.get("stats")), **item}
        grouped.setdefault((_key(worker.get("id")), str(worker.get("name"))), []).append(flat)
    return grouped


def _site(name: str, farm: dict[str, Any]) -> Site:
    price = farm.get("power_price")
    currency = str(farm.get("power_price_currency") or "").strip().upper()
    labels = {}
    usd = None
    price = finite(price)
    if price is not None and price >= 0:
        if currency in ("USD", "$", ""):
            usd = price
        else:  # not converted: a wrong exchange rate is worse than none
            labels["power_price"] = f"{price} {currency}/kWh"
    return Site(name=name, power_price_usd_kwh=usd, labels=labels)


def _rig(
    worker: Any,
    path: str,
    source: str,
    site: str,
    resolver: Resolver,
    gpus_by_worker: dict[tuple[Any, str], list[dict[str, Any]]],
    parsed: Parsed,
) -> Rig | None:
    problems = worker_problems(worker, path, source, parsed, "HiveOS")
    if problems is None:
        return None
    name = worker.get("name")
    hw = _dict(worker.get("hardware_info"))
    cpu = _dict(hw.get("cpu"))
    values: dict[str, Any] = {"site": site, "mining_os": "hiveos"}
    if isinstance(name, str) and name.strip():
        values["name"] = name.strip()
    if worker.get("id") is not None:
        values["external_id"] = str(worker["id"])
    if isinstance(cpu.get("model"), str):
        values["cpu_model"] = cpu["model"]
    if isinstance(cpu.get("cores"), int) and 0 < cpu["cores"] <= 4096:
        values["cpu_cores"] = cpu["cores"]
    board = hw.get("motherboard")
    if isinstance(board, dict):
        board = " ".join(str(board[k]) for k in ("manufacturer", "model", "product") if board.get(k))
    if isinstance(board, str) and board:
        values["motherboard"] = board
    disk = _dict(hw.get("disk"))
    size = re.search(r"([0-9.]+)\s*(G|T)B", str(disk.get("size") or disk.get("model") or ""), re.I)
    if size:
        values["disk_gib"] = float(size.group(1)) * (1024 if size.group(2).upper() == "T" else 1)
    memory = _dict(_dict(worker.get("hardware_stats")).get("memory"))
    ram = parse_mib_string(str(memory.get("total"))) if memory.get("total") else None
    if ram:
        values["ram_gib"] = ram

    info = worker.get("gpu_info")
    stats = worker.get("gpu_stats")
    info_path = f"{path}.gpu_info"
    if not isinstance(info, list):
        info = gpus_by_worker.get((_key(worker.get("id")), str(name)), [])
        stats = info
        info_path = f"{path}(gpus endpoint)"
    stats_by_bus = {
        _key(s.get("bus_number")): s
        for s in (stats if isinstance(stats, list) else [])
        if isinstance(s, dict)
    }
    hashrates = _hashrates(worker)
    gpus: list[Gpu] = []
    for j, card in enumerate(info):
        gpu = _gpu(card, f"{info_path}[{j}]", source, resolver, stats_by_bus, hashrates, problems)
        if gpu is not None:
            gpus.append(gpu)
    rig = rig_from_values(values, gpus, problems)
    if rig is None:
        parsed.skip(f"{path}" + (f" {name}" if name else ""), problems)
    return rig


def _gpu(
    card: Any,
    path: str,
    source: str,
    resolver: Resolver,
    stats_by_bus: dict[Any, dict[str, Any]],
    hashrates: dict[Any, tuple[float, str | None]],
    rig_problems: EntryProblems,
) -> Gpu | None:
    problems = EntryProblems(source, under(path))
    if not isinstance(card, dict):
        problems.add("not an object", expected="a gpu_info entry")
        rig_problems.problems.extend(problems.problems)
        return None
    brand = str(card.get("brand") or "").lower()
    if brand and brand not in _GPU_BRANDS:
        return None
    details = _dict(card.get("details"))
    values: dict[str, Any] = {}
    if brand:
        values["brand"] = brand
    vram = parse_mib_string(details["mem"]) if details.get("mem") else None
    if vram is None and isinstance(details.get("mem_gb"), (int, float)):
        vram = float(details["mem_gb"])
    if vram:
        values["vram_gib"] = vram
    names = [n for n in (card.get("model"), card.get("short_name")) if isinstance(n, str) and n.strip()]
    if not names:
        problems.add("missing", field="model", expected="the GPU's model name")
    else:
        # The full model string first; HiveOS's short name when the full one is unknown.
        values["model"] = next((n for n in names if resolver(n, values.get("vram_gib")).ok), names[0]).strip()
    bus = _key(card.get("bus_number"))
    if isinstance(card.get("bus_id"), str) and card["bus_id"].strip():
        values["bus_id"] = normalise_bus_id(card["bus_id"])
    elif isinstance(bus, int) and not isinstance(bus, bool):
        if 0 <= bus <= 255:
            values["bus_id"] = f"0000:{bus:02x}:00.0"  # HiveOS's bus_number is the PCI bus, in decimal
        else:
            problems.add(f"bad value {bus!r}", field="bus_number", expected="a PCI bus number from 0 to 255")
    if isinstance(card.get("index"), int) and not isinstance(card.get("index"), bool):
        if 0 <= card["index"] <= 1023:
            values["index"] = card["index"]
        else:
            problems.add(
                f"bad value {card['index']!r}", field="index", expected="a whole number from 0 to 1023"
            )
    power = _dict(card.get("power_limit"))
    for src, dst in (("min", "power_min_w"), ("def", "power_default_w"), ("max", "power_max_w")):
        if power.get(src) not in (None, ""):
            try:
                values[dst] = parse_watts(power[src])
            except (ValueError, TypeError, OverflowError):
                problems.add(f"bad value {power[src]!r}", field=f"power_limit.{src}", expected="'120.00 W'")
    stat = stats_by_bus.get(bus, {})
    for src, dst in (
        ("temp", "temperature_c"),
        ("memtemp", "memory_temperature_c"),
        ("fan", "fan_pct"),
        ("power", "power_draw_w"),
    ):
        number = finite(stat.get(src))
        if number is not None:
            values[dst] = number
    if bus in hashrates:
        mhs, algo = hashrates[bus]
        values["hashrate_mhs"] = mhs
        values["miner_running"] = mhs > 0
        if algo:
            values["algorithm"] = algo
    gpus = gpus_from_entry(values, resolver, problems) if not problems else []
    rig_problems.problems.extend(problems.problems)
    return gpus[0] if gpus else None


def _hashrates(worker: dict[str, Any]) -> dict[Any, tuple[float, str | None]]:
    """bus_number -> (MH/s, algorithm) from the first miner reporting that bus (dual mining: the
    second algorithm's hashrate is not added: it is another coin's unit)."""
    out: dict[Any, tuple[float, str | None]] = {}
    entries = _dict(worker.get("miners_stats")).get("hashrates")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        hashes, buses = entry.get("hashes"), entry.get("bus_numbers")
        if not isinstance(hashes, list) or not isinstance(buses, list):
            continue
        algo = entry.get("algo") if isinstance(entry.get("algo"), str) else None
        for bus, khs in zip(buses, hashes, strict=False):
            rate = finite(khs)
            if rate is not None and rate >= 0 and _key(bus) not in out:
                out[_key(bus)] = (rate / 1000.0, algo)
    return out


def _key(value: Any) -> Any:
    """A JSON value usable as a dict key (a list or object for a bus number or id is not)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
