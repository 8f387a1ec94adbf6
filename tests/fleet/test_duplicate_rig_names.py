"""A second rig of a name already taken is left out with a problem that says where the first stands
(merging them would fold two rigs' cards, with the same bus ids, into one)."""

from __future__ import annotations

from rigshift.fleet.names import CatalogResolver
from rigshift.fleet.sources.hiveos import parse_hiveos
from rigshift.fleet.sources.yaml_file import parse_yaml


def test_yaml_skips_a_second_rig_of_the_same_name() -> None:
    text = """rigs:
  - name: a
    site: s
    gpus: [{model: RTX 3060 12GB}]
  - name: b
    site: s
    gpus: [{model: RTX 3060 12GB}]
  - name: a
    site: s
    gpus: [{model: RTX 3070}]
"""
    parsed = parse_yaml(text, "f.yaml", CatalogResolver())
    assert [r.name for r in parsed.fleet.rigs] == ["a", "b"]
    assert parsed.skipped == ["rigs[2] a (line 8)"]
    (problem,) = parsed.problems
    assert problem.message == "rig 'a' already listed as rigs[0]"
    assert (problem.location, problem.field) == ("line 8", "name")


def test_hiveos_skips_a_second_worker_of_the_same_name() -> None:
    worker = {"name": "w", "gpu_info": [{"bus_number": 1, "model": "RTX 3060"}]}
    parsed = parse_hiveos({"data": [worker, {**worker, "name": "x"}, worker]}, "h.json", CatalogResolver())
    assert [r.name for r in parsed.fleet.rigs] == ["w", "x"]
    assert parsed.skipped == ["$.data[2] w"]
    (problem,) = parsed.problems
    assert problem.message == "worker name 'w' is also $.data[0]"
    assert (problem.location, problem.field) == ("$.data[2].name", "name")
