"""A card name that fits several memory sizes ("RX 570": 4 or 8 GB) is flagged and decided on the
smaller variant until the inventory says which, never silently (issue 16, item 6)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rigshift.catalog.gpus import gpu_catalog
from rigshift.cli.app import app
from rigshift.cli.estimate import resolve_gpu_arg
from rigshift.fleet.importer import read_source
from rigshift.fleet.names import CatalogResolver

runner = CliRunner()


def _farm(tmp_path: Path) -> Path:
    path = tmp_path / "farm.csv"
    path.write_text(
        "site,rig,model,vram_gib,count\n"
        "s,r1,RX 570,,2\n"  # ambiguous: 4 or 8 GB
        "s,r1,GTX 1060,,1\n"  # ambiguous: 3 or 6 GB
        "s,r2,RX 580,8,1\n"  # the inventory says which
        "s,r2,GTX 1080 Ti,,1\n"  # one size only
    )
    return path


def test_an_ambiguous_name_is_decided_on_the_smaller_variant_and_says_so(tmp_path) -> None:
    parsed = read_source(_farm(tmp_path), resolver=CatalogResolver())
    assert parsed.problems == []
    gpus = [(g.model, g.vram_gib, tuple(g.vram_variants_gib)) for _, g in parsed.fleet.gpus()]
    assert gpus == [
        ("radeon-rx-570-4gb", 4.0, (4.0, 8.0)),
        ("radeon-rx-570-4gb", 4.0, (4.0, 8.0)),
        ("geforce-gtx-1060-3gb", 3.0, (3.0, 6.0)),
        ("radeon-rx-580-8gb", 8.0, ()),
        ("geforce-gtx-1080-ti", 11.0, ()),
    ]


def test_fleet_import_and_show_flag_the_ambiguous_names(tmp_path) -> None:
    out = tmp_path / "fleet.json"
    result = runner.invoke(app, ["fleet", "import", str(_farm(tmp_path)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "ambiguous GPU name 'RX 570' x2: 4 or 8 GiB; decided as 4 GiB" in result.output
    shown = json.loads(runner.invoke(app, ["fleet", "show", str(out), "--json"]).stdout)
    ambiguous = {a["reported_name"]: a for a in shown["ambiguous"]}
    assert set(ambiguous) == {"RX 570", "GTX 1060"}
    assert ambiguous["GTX 1060"]["decided_gib"] == 3.0 and ambiguous["GTX 1060"]["variants_gib"] == [3.0, 6.0]


def test_assess_warns_about_the_ambiguous_names_in_text_and_json(tmp_path) -> None:
    out = tmp_path / "fleet.json"
    assert runner.invoke(app, ["fleet", "import", str(_farm(tmp_path)), "-o", str(out)]).exit_code == 0
    text = runner.invoke(app, ["assess", str(out), "--no-measurements"])
    assert text.exit_code == 0, text.output
    assert "ambiguous GPU name" in text.output and "RX 570" in text.output
    data = json.loads(runner.invoke(app, ["assess", str(out), "--no-measurements", "--json"]).stdout)
    names = {a["reported_name"] for a in data["summary"]["ambiguous_names"]}
    assert names == {"RX 570", "GTX 1060"}


def test_estimate_warns_when_the_name_leaves_the_size_open() -> None:
    vague = runner.invoke(app, ["estimate", "--gpu", "GTX 1060", "--model", "llama-3.2-3b", "--json"])
    assert vague.exit_code == 0, vague.output
    data = json.loads(vague.stdout)
    assert data["vram_variants_gib"] == [3.0, 6.0]
    assert any("ambiguous GPU name 'GTX 1060': 3 or 6 GiB" in note for note in data["notes"])
    sized = json.loads(
        runner.invoke(app, ["estimate", "--gpu", "GTX 1060 3GB", "--model", "llama-3.2-3b", "--json"]).stdout
    )
    assert sized["vram_variants_gib"] == [] and not any("ambiguous" in n for n in sized["notes"])


@pytest.mark.parametrize("name", ["GTX 1060", "RX 570", "RX 580", "P104-100", "RTX 3060"])
def test_estimate_decides_an_ambiguous_name_on_the_smaller_variant_and_says_so(name: str) -> None:
    smallest = gpu_catalog().variants(name)[0]
    result = runner.invoke(app, ["estimate", "--gpu", name, "--model", "llama-3.2-3b", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["gpu_key"], data["vram_gib"]) == (smallest.key, smallest.vram_gib)
    assert any(f"estimated as the {smallest.vram_gib:g} GiB card (the smaller)" in n for n in data["notes"])
    text = runner.invoke(app, ["estimate", "--gpu", name, "--model", "llama-3.2-3b"])
    assert text.exit_code == 0, text.output
    assert "(the smaller)" in " ".join(text.output.split())


def test_estimate_and_a_fleet_inventory_decide_every_ambiguous_name_alike() -> None:
    catalog = gpu_catalog()
    # Every catalog card's name without its memory size ("RX 570 8GB" -> "RX 570").
    stems = {re.sub(r"\s*\d+\s*GB$", "", spec.name) for spec in catalog.all()}
    open_names = sorted(n for n in stems if catalog.variants(n))
    assert open_names, "the catalog has names with memory-size variants"
    inventory = CatalogResolver()
    for name in open_names:
        assert resolve_gpu_arg(name).spec.key == inventory(name, None).key, name
