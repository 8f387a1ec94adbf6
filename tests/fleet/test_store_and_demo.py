"""The fleet file (load, atomic save) and the demo fleet."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from rigshift.errors import InputError
from rigshift.fleet.demo import demo_fleet
from rigshift.fleet.model import Fleet
from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.store import load_fleet, save_fleet


@pytest.fixture(scope="module")
def demo() -> Fleet:
    return demo_fleet(resolver=CatalogResolver())


def test_fleet_round_trips_through_json_and_yaml(tmp_path, demo):
    small = Fleet(name=demo.name, sites=demo.sites, rigs=demo.rigs[:5])
    for name in ("f.json", "f.yaml"):
        save_fleet(small, tmp_path / name)
        assert load_fleet(tmp_path / name) == small


def test_load_reports_every_problem_by_json_path(tmp_path):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"rigs": [{"name": "r", "gpus": [{"model": "x", "vram_gib": -1}]}]}))
    with pytest.raises(InputError) as error:
        load_fleet(path)
    where = {(p.location, p.field) for p in error.value.problems}
    assert where == {("$.rigs[0].site", "site"), ("$.rigs[0].gpus[0].vram_gib", "vram_gib")}
    assert all(p.source == str(path) for p in error.value.problems)


def test_load_of_a_yaml_fleet_names_the_line_of_each_problem(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text("name: f\nrigs:\n- name: r\n  gpus:\n  - model: x\n    vram_gib: -1\n")
    with pytest.raises(InputError) as error:
        load_fleet(path)
    where = {(p.location, p.field) for p in error.value.problems}
    assert where == {("line 3, $.rigs[0].site", "site"), ("line 6, $.rigs[0].gpus[0].vram_gib", "vram_gib")}


def test_load_of_broken_or_missing_files_is_an_input_error(tmp_path):
    (tmp_path / "bad.json").write_text('{"rigs": [')
    with pytest.raises(InputError, match="not valid JSON"):
        load_fleet(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no such file"):
        load_fleet(tmp_path / "nope.json")


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, demo):
    path = tmp_path / "fleet.json"
    old = Fleet(name="old", sites=demo.sites, rigs=demo.rigs[:1])
    save_fleet(old, path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(InputError, match=r"fleet\.json: cannot write: disk full"):  # one line, exit 2
        save_fleet(demo, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["fleet.json"]


def test_demo_is_deterministic_and_seed_dependent():
    resolver = CatalogResolver()
    a, b = demo_fleet(seed=3, resolver=resolver), demo_fleet(seed=3, resolver=resolver)
    assert a.model_dump() == b.model_dump()
    assert demo_fleet(seed=4, resolver=resolver).model_dump() != a.model_dump()


def test_demo_has_the_stated_shape(demo):
    rigs = demo.rigs
    assert demo.gpu_count == 2000 and 250 <= len(rigs) <= 330
    assert {s.name for s in demo.sites} == {rig.site for rig in rigs} == {"tx-ercot", "no-hydro"}
    assert all(gpu.resolved for _, gpu in demo.gpus())  # every card name is in the real catalog
    assert all(len({g.model for g in rig.gpus}) == 1 for rig in rigs)  # homogeneous rigs
    sizes = Counter(len(r.gpus) for r in rigs)
    assert sum(n for size, n in sizes.items() if 6 <= size <= 12) >= 0.9 * len(rigs)
    x1 = sum(1 for _, g in demo.gpus() if g.pcie.width == 1 and g.pcie.gen <= 2)
    assert x1 >= 0.85 * demo.gpu_count  # mostly Gen1/Gen2 x1 risers
    assert any(g.pcie.width >= 4 for _, g in demo.gpus())  # and a few Gen3 boards
    assert sum(r.cpu_cores == 2 for r in rigs) >= 0.8 * len(rigs)
    assert sum(r.ram_gib <= 8 for r in rigs) >= 0.8 * len(rigs)
    mining = [g for _, g in demo.gpus() if g.miner_running]
    assert 0.05 * demo.gpu_count < len(mining) < 0.3 * demo.gpu_count
    assert all(g.vram_used_by_others_gib > 0 and g.hashrate_mhs for g in mining)
    assert all(20 <= g.temperature_c <= 90 for _, g in demo.gpus())
    assert all(g.power.min < g.power.default <= g.power.max for _, g in demo.gpus())
    models = Counter(g.model for _, g in demo.gpus())
    assert models.most_common(1)[0][0] == "radeon-rx-580-8gb"
    assert len(models) >= 20
    assert len({r.name for r in rigs}) == len(rigs)


def test_demo_validates_as_a_fleet_file(demo):
    assert Fleet.model_validate(demo.model_dump()) == demo


def test_demo_scales():
    fleet = demo_fleet(scale=20_000, resolver=CatalogResolver())
    assert fleet.gpu_count == 20_000


@pytest.mark.parametrize("name", ["rig-1\nrig-2", "rig\u0000", "rig-1\u202etxt.exe"])
def test_a_rig_or_site_name_with_control_characters_is_refused_with_its_path(tmp_path, name: str) -> None:
    """Regression: control characters (newline, NUL, U+202E) in rig names were accepted and reached
    logs, labels and the console."""
    for field in ("name", "site"):
        rig = {"name": "rig-1", "site": "tx", field: name, "gpus": []}
        path = tmp_path / "fleet.json"
        path.write_text(json.dumps({"sites": [{"name": "tx"}], "rigs": [rig]}))
        with pytest.raises(InputError) as refused:
            load_fleet(path)
        assert f"$.rigs[0].{field}" in str(refused.value) and "control or formatting" in str(refused.value)
