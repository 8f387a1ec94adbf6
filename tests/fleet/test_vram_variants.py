"""A HiveOS-reported VRAM picks the market variant, or wins over the catalog default."""

from __future__ import annotations

from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.hiveos import parse_hiveos


def _one_gpu(model: str, mem: str) -> dict:
    return {
        "gpus": {
            "data": [
                {"worker": {"id": 9, "name": "w9"}, "bus_number": 5, "brand": "nvidia", "model": model,
                 "details": {"mem": mem}},
            ]
        }
    }  # fmt: skip


def test_a_flashed_p104_reporting_8_gb_is_the_8_gb_variant() -> None:
    parsed = parse_hiveos(_one_gpu("P104-100", "8192 MiB"), "gpus.json", CatalogResolver())
    gpu = parsed.fleet.rigs[0].gpus[0]
    assert parsed.problems == [] and (gpu.model, gpu.vram_gib) == ("p104-100-8gb", 8.0)


def test_a_stock_p104_stays_the_4_gb_card() -> None:
    gpu = parse_hiveos(_one_gpu("P104-100", "4096 MiB"), "gpus.json", CatalogResolver()).fleet.rigs[0].gpus[0]
    assert (gpu.model, gpu.vram_gib) == ("p104-100", 4.0)


def test_a_memory_mod_the_catalog_lacks_keeps_the_card_and_its_reported_vram() -> None:
    gpu = (
        parse_hiveos(_one_gpu("CMP 50HX", "16384 MiB"), "gpus.json", CatalogResolver()).fleet.rigs[0].gpus[0]
    )
    assert (gpu.model, gpu.vram_gib) == ("cmp-50hx", 16.0)
