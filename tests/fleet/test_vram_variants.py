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


def test_a_fleet_file_vram_column_picks_the_variant_or_overrides(tmp_path) -> None:
    from rigshift.fleet.importer import read_source

    path = tmp_path / "farm.csv"
    path.write_text(
        "site,rig,model,vram_gib,count\n"
        "s,r1,P104-100,8,2\n"  # flashed cards: the 8 GB variant
        "s,r1,RX 580 2048SP,8,1\n"
        "s,r2,CMP 50HX,16,1\n"  # a memory mod no variant has: the card, with its 16 GB
    )
    parsed = read_source(path, resolver=CatalogResolver())
    assert parsed.problems == []
    gpus = [(g.model, g.vram_gib) for _, g in parsed.fleet.gpus()]
    assert gpus == [
        ("p104-100-8gb", 8.0),
        ("p104-100-8gb", 8.0),
        ("radeon-rx-580-2048sp-8gb", 8.0),
        ("cmp-50hx", 16.0),
    ]
