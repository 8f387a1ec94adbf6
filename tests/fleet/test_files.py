"""CSV and YAML inventories: the examples parse; bad input lists every problem with its line."""

from __future__ import annotations

import pytest

from rigshift.errors import InputError
from rigshift.fleet.importer import import_files, read_source
from rigshift.fleet.model import UNRESOLVED_MODEL
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.csv_file import parse_csv
from rigshift.fleet.sources.yaml_file import parse_yaml


@pytest.mark.parametrize(
    ("name", "rigs", "gpus"),
    [
        ("rig_6x3060-12g_x1.yaml", 1, 6),
        ("farm_2sites_3rigs_mixed.yaml", 3, 20),
        ("farm_3rigs_per-gpu.csv", 3, 18),
    ],
)
def test_each_file_example_parses_against_the_real_catalog(examples, name, rigs, gpus):
    parsed = read_source(examples / name, resolver=CatalogResolver())
    assert parsed.problems == []
    assert (len(parsed.fleet.rigs), parsed.fleet.gpu_count) == (rigs, gpus)
    assert all(gpu.resolved for _, gpu in parsed.fleet.gpus())
    assert {rig.site for rig in parsed.fleet.rigs} <= {site.name for site in parsed.fleet.sites}


def test_yaml_count_expands_and_keeps_every_field(examples, resolver):
    parsed = read_source(examples / "rig_6x3060-12g_x1.yaml", resolver=resolver)
    rig = parsed.fleet.rigs[0]
    assert (rig.name, rig.site, rig.cpu_cores, rig.ram_gib, rig.psu_w) == (
        "rig-3060-01",
        "tx-ercot",
        2,
        8.0,
        1200.0,
    )
    assert len(rig.gpus) == 6
    gpu = rig.gpus[0]
    assert gpu.model == "geforce-rtx-3060-12gb"
    assert gpu.reported_name == "RTX 3060 12GB"
    assert (gpu.pcie.gen, gpu.pcie.width) == (1, 1)
    assert gpu.power.current == 115
    assert gpu.miner_running and gpu.hashrate_mhs == 48 and gpu.vram_used_by_others_gib == 3.9
    # Copies, not one shared object: changing one card leaves the others alone.
    rig.gpus[1].labels["x"] = "y"
    assert rig.gpus[2].labels == {}
    assert parsed.fleet.site("tx-ercot").power_price_usd_kwh == 0.035


BAD_YAML = """\
rigs:
  - name: r1
    site: tx
    ram_gib: lots
    gpus:
      - {model: RTX 3060, count: 0}
      - model: RTX 3600
        pcie: gen1 x1
  - name: r2
    site: tx
    gpus:
      - {model: RX 580, pcie: x1, vram_gb: 8}
  - name: r3
    site: tx
    gpus:
      - {model: RTX 3070, count: 2}
"""


def test_bad_yaml_lists_every_problem_with_its_line(resolver):
    parsed = parse_yaml(BAD_YAML, "farm.yaml", resolver)
    found = {(p.location, p.field) for p in parsed.problems}
    assert found == {
        ("line 4", "ram_gib"),
        ("line 6", "count"),
        ("line 7", "vram_gib"),  # unknown name, no VRAM: cannot be sized
        ("line 12", "pcie"),
        ("line 12", "vram_gb"),
    }
    typo = next(p for p in parsed.problems if p.field == "vram_gb")
    assert "vram_gib" in typo.suggestions
    unknown = next(p for p in parsed.problems if p.field == "vram_gib")
    assert "rtx 3060" in [s.lower() for s in unknown.suggestions]
    assert all(p.source == "farm.yaml" for p in parsed.problems)
    # The valid rig survives for --skip-invalid; the bad ones are listed.
    assert [r.name for r in parsed.fleet.rigs] == ["r3"]
    assert len(parsed.skipped) == 2 and "r1" in parsed.skipped[0]


def test_yaml_syntax_error_is_located():
    parsed = parse_yaml("rigs:\n  - name: [unclosed\n", "x.yaml", lambda n, v: None)  # type: ignore[arg-type,return-value]
    assert len(parsed.problems) == 1
    assert parsed.problems[0].location in ("line 2", "line 3")
    assert "YAML" in parsed.problems[0].message


BAD_CSV = """\
site,rig,model,count,pcie,ram_gib,vram_gib
tx,r1,RTX 3060,6,gen1x1,8,
tx,r1,RTX 3060,2,gen1x1,16,
tx,r2,RTX 3600,1,gen1x1,8,
tx,r3,RTX 3070,two,gen9x1,8,
,r4,RTX 3070,1,gen1x1,8,
tx,r5,Mystery GPU,1,gen1x1,8,6
"""


def test_bad_csv_lists_every_problem_with_its_line(resolver):
    parsed = parse_csv(BAD_CSV, "farm.csv", resolver)
    found = {(p.location, p.field) for p in parsed.problems}
    assert found == {
        ("line 3", "ram_gib"),  # disagrees with line 2 for the same rig
        ("line 4", "vram_gib"),  # unknown name and no VRAM
        ("line 5", "count"),
        ("line 5", "pcie"),
        ("line 6", "site"),
    }
    # An unknown name WITH its VRAM is kept, flagged, with a did-you-mean: never dropped or guessed.
    r5 = next(r for r in parsed.fleet.rigs if r.name == "r5")
    assert r5.gpus[0].model == UNRESOLVED_MODEL and r5.gpus[0].reported_name == "Mystery GPU"
    assert r5.gpus[0].vram_gib == 6


def test_csv_header_problems_stop_early_and_say_what_is_missing(resolver):
    parsed = parse_csv("site,name,gpu\ntx,r1,RTX 3060\n", "f.csv", resolver)
    fields = {p.field for p in parsed.problems}
    assert {"rig", "model", "name", "gpu"} <= fields
    assert all(p.location == "line 1" for p in parsed.problems)


def test_import_refuses_everything_unless_skip_invalid(tmp_path, resolver):
    bad = tmp_path / "farm.csv"
    bad.write_text(BAD_CSV)
    with pytest.raises(InputError) as error:
        import_files([bad], resolver=resolver)
    assert len(error.value.problems) == 5
    result = import_files([bad], resolver=resolver, skip_invalid=True)
    assert {r.name for r in result.fleet.rigs} == {"r1", "r5"}
    assert len(result.fleet.rigs[0].gpus) == 6  # line 3 was skipped, line 2 kept
    assert len(result.skipped) == 4 and len(result.problems) == 5
    assert [u[1].reported_name for u in result.unresolved] == ["Mystery GPU"]


def test_problems_of_several_files_are_reported_together(tmp_path, resolver):
    (tmp_path / "a.csv").write_text(BAD_CSV)
    (tmp_path / "b.yaml").write_text(BAD_YAML)
    with pytest.raises(InputError) as error:
        import_files([tmp_path / "a.csv", tmp_path / "b.yaml", tmp_path / "missing.csv"], resolver=resolver)
    sources = {p.source for p in error.value.problems}
    assert sources == {str(tmp_path / n) for n in ("a.csv", "b.yaml", "missing.csv")}


def test_one_bus_id_on_two_cards_is_a_problem(resolver):
    text = "site,rig,model,bus_id\ntx,r1,RTX 3070,0000:01:00.0\ntx,r1,RTX 3070,0000:01:00.0\n"
    parsed = parse_csv(text, "f.csv", resolver)
    assert [(p.field, p.location) for p in parsed.problems] == [("bus_id", "line 2")]
    assert parsed.fleet.rigs == []


def test_yaml_labels_and_reimporting_a_normalised_yaml_fleet(tmp_path, resolver):
    text = "rigs:\n  - name: r1\n    site: tx\n    labels: {rack: A3}\n    gpus:\n      - {model: RX 580, labels: {slot: 1}}\n"
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(text)
    first = import_files([inventory], resolver=resolver).fleet
    assert first.rigs[0].labels == {"rack": "A3"} and first.rigs[0].gpus[0].labels == {"slot": "1"}
    from rigshift.fleet.store import save_fleet

    save_fleet(first, tmp_path / "fleet.yaml")
    again = import_files([tmp_path / "fleet.yaml"], resolver=resolver).fleet  # detected as a fleet file
    assert again == first
