"""HiveOS (saved and live) and minerstat JSON."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

from rigshift.errors import EnvironmentProblem, InputError
from rigshift.fleet.importer import read_source
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.hiveos import parse_hiveos
from rigshift.fleet.sources.hiveos_api import fetch_farm
from rigshift.fleet.sources.minerstat import parse_minerstat


@pytest.fixture
def hiveos_export(examples):
    return json.loads((examples / "hiveos_farm_2workers.json").read_text())


def test_hiveos_example_parses_with_the_real_catalog(examples):
    parsed = read_source(examples / "hiveos_farm_2workers.json", resolver=CatalogResolver())
    assert parsed.kind == "hiveos" and parsed.problems == []
    assert [(r.name, len(r.gpus)) for r in parsed.fleet.rigs] == [("rig-3060-01", 6), ("rig-rx580-02", 4)]
    assert {g.model for _, g in parsed.fleet.gpus()} == {"geforce-rtx-3060-12gb", "radeon-rx-580-8gb"}


def test_hiveos_fields_land_where_they_belong(hiveos_export, resolver):
    parsed = parse_hiveos(hiveos_export, "farm.json", resolver)
    rig = parsed.fleet.rigs[0]
    assert (rig.external_id, rig.cpu_cores, rig.mining_os, rig.site) == ("4100001", 2, "hiveos", "tx-ercot")
    assert rig.ram_gib == pytest.approx(7853 / 1024, abs=0.01)
    assert rig.disk_gib == 120
    assert "H110" in rig.motherboard
    # The on-board Intel graphics in gpu_info is not a GPU we can serve on.
    assert len(rig.gpus) == 6 and all(g.brand == "nvidia" for g in rig.gpus)
    first = rig.gpus[0]
    assert first.vram_gib == 12.0  # "12288 MiB"
    assert (first.power.min, first.power.default, first.power.max) == (100.0, 170.0, 182.0)  # "100.00 W"
    assert first.bus_id == "0000:01:00.0"
    # gpu_stats joined on bus_number, hashrate joined on bus_numbers[i] and converted kH/s -> MH/s.
    assert (first.temperature_c, first.power_draw_w) == (55, 112)
    assert rig.gpus[3].hashrate_mhs == pytest.approx(48.2) and rig.gpus[3].algorithm == "etchash"
    assert first.miner_running and first.pcie is None  # HiveOS knows no PCIe link
    # A miner reporting zero hashrate is not mining.
    assert not any(g.miner_running for g in parsed.fleet.rigs[1].gpus)
    assert parsed.fleet.site("tx-ercot").power_price_usd_kwh == 0.035


def test_hiveos_bad_fields_are_reported_by_json_path(hiveos_export, resolver):
    data = copy.deepcopy(hiveos_export)
    workers = data["workers"]["data"]
    workers[0]["gpu_info"][2]["model"] = "RTX 3600"
    workers[0]["gpu_info"][2]["short_name"] = None
    workers[0]["gpu_info"][2]["details"] = {}
    workers[0]["gpu_info"][3]["power_limit"]["max"] = "lots"
    workers[1]["name"] = ""
    parsed = parse_hiveos(data, "farm.json", resolver)
    found = {(p.location, p.field) for p in parsed.problems}
    assert found == {
        ("$.workers.data[0].gpu_info[2].vram_gib", "vram_gib"),
        ("$.workers.data[0].gpu_info[3].power_limit.max", "power_limit.max"),
        ("$.workers.data[1].name", "name"),
    }
    assert parsed.fleet.rigs == []  # both workers had a problem


def test_hiveos_gpus_endpoint_alone_is_enough(resolver):
    data = {
        "gpus": {
            "data": [
                {
                    "worker": {"id": 7, "name": "w7"},
                    "bus_number": 3,
                    "brand": "amd",
                    "model": "RX 580",
                    "details": {"mem": "8192 MiB"},
                    "temp": 61,
                },
            ]
        }
    }
    parsed = parse_hiveos(data, "gpus.json", resolver)
    assert parsed.problems == []
    gpu = parsed.fleet.rigs[0].gpus[0]
    assert (parsed.fleet.rigs[0].name, gpu.bus_id, gpu.temperature_c) == ("w7", "0000:03:00.0", 61)


def test_live_client_reads_farm_workers_and_gpus_with_the_bearer_token(hiveos_export, resolver):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers.get("authorization")))
        bodies = {
            "/api/v2/farms/42": hiveos_export["farm"],
            "/api/v2/farms/42/workers": hiveos_export["workers"],
            "/api/v2/farms/42/workers/gpus": {"data": []},
        }
        return httpx.Response(200, json=bodies[request.url.path])

    bundle = fetch_farm("secret-token", 42, transport=httpx.MockTransport(handler))
    assert [p for p, _ in seen] == [
        "/api/v2/farms/42",
        "/api/v2/farms/42/workers",
        "/api/v2/farms/42/workers/gpus",
    ]
    assert {auth for _, auth in seen} == {"Bearer secret-token"}
    parsed = parse_hiveos(bundle, "live", resolver)
    assert parsed.fleet.gpu_count == 10


@pytest.mark.parametrize(
    ("status", "error", "field"),
    [(401, InputError, "--hiveos-token"), (404, InputError, "--farm-id"), (500, EnvironmentProblem, None)],
)
def test_live_client_translates_http_errors_without_leaking_the_token(status, error, field):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json={"message": "no"}))
    with pytest.raises(error) as raised:
        fetch_farm("secret-token", 42, transport=transport)
    assert "secret-token" not in str(raised.value)
    if field:
        assert raised.value.problems[0].field == field


def test_live_client_network_failure_is_an_environment_problem():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(EnvironmentProblem, match="cannot reach HiveOS"):
        fetch_farm("t", 1, transport=httpx.MockTransport(refuse))


def test_minerstat_example_parses(examples):
    parsed = read_source(examples / "minerstat_2workers.json", resolver=CatalogResolver())
    assert parsed.kind == "minerstat" and parsed.problems == []
    rigs = {r.name: r for r in parsed.fleet.rigs}
    assert len(rigs["rig-3060-01"].gpus) == 6 and len(rigs["rig-1070ti-03"].gpus) == 8
    assert rigs["rig-3060-01"].mining_revenue_usd_day == 1.42
    gpu = rigs["rig-3060-01"].gpus[2]
    assert (gpu.index, gpu.hashrate_mhs, gpu.algorithm, gpu.temperature_c) == (2, 48.1, "ETC", 58)


def test_minerstat_units_and_unknown_names(resolver):
    data = {
        "w1": {
            "hardware": [{"name": "RX 580", "speed": 30500000}],
            "mining": {"hashrate": {"hashrate_unit": "H"}},
        },
        "w2": {"hardware": [{"name": "Mystery 9000", "temp": 50}, "junk"]},
    }
    parsed = parse_minerstat(data, "ms.json", resolver)
    assert parsed.fleet.rigs[0].gpus[0].hashrate_mhs == pytest.approx(30.5)
    assert {(p.location, p.field) for p in parsed.problems} == {
        ("$['w2'].hardware[0].vram_gib", "vram_gib"),
        ("$['w2'].hardware[1]", None),
    }


def test_two_hiveos_workers_with_one_name_are_not_folded_together(hiveos_export, resolver):
    data = copy.deepcopy(hiveos_export)
    data["workers"]["data"][1]["name"] = "rig-3060-01"
    parsed = parse_hiveos(data, "farm.json", resolver)
    assert [(p.location, p.field) for p in parsed.problems] == [("$.workers.data[1].name", "name")]
    assert [len(r.gpus) for r in parsed.fleet.rigs] == [6]


def test_a_worker_that_is_not_an_object_is_skipped_by_its_path(hiveos_export, resolver):
    workers = hiveos_export["workers"]["data"]
    workers.append(3)
    parsed = parse_hiveos(hiveos_export, "h.json", resolver)
    where = f"$.workers.data[{len(workers) - 1}]"
    assert parsed.skipped == [where]
    assert [(p.location, p.message, p.expected) for p in parsed.problems] == [
        (where, "not an object", "a HiveOS worker")
    ]
    assert len(parsed.fleet.rigs) == len(workers) - 1
    parsed = parse_minerstat(["rig", 3], "m.json", resolver)
    assert parsed.skipped == ["$[0]", "$[1]"]
    assert {(p.message, p.expected) for p in parsed.problems} == {("not an object", "a minerstat worker")}
