from pathlib import Path

import pytest

from rigshift.errors import InputError
from rigshift.plan.demand import load_demand, parse_demand

GOOD = """\
deployments:
  - name: chat
    model: llama-3.1-8b
    replicas: {min: 1, max: 4}
    value: {usd_per_mtok: 0.2}
  - name: rag
    model: qwen2.5-7b
    throughput: {requests_per_s: 2, output_tokens: 300}
options:
  vram_reserve_gib: 0.5
"""


def test_good_demand_reads_targets_and_options():
    demand = parse_demand(GOOD)
    assert [d.name for d in demand.deployments] == ["chat", "rag"]
    assert demand.deployments[1].throughput is not None
    assert demand.deployments[1].throughput.target_tokens_per_s == 600
    assert demand.plan_options().vram_reserve_gib == 0.5


def _error(text: str) -> str:
    with pytest.raises(InputError) as caught:
        parse_demand(text, "d.yaml")
    return str(caught.value)


def test_unknown_field_names_line_and_field():
    text = GOOD.replace("    value: {usd_per_mtok: 0.2}", "    value: {usd_per_mtok: 0.2}\n    contxt: 4096")
    message = _error(text)
    assert "d.yaml:line 6" in message
    assert "contxt" in message
    assert "did you mean: context" in message


def test_min_above_max_is_reported_at_its_line():
    message = _error(GOOD.replace("{min: 1, max: 4}", "{min: 5, max: 4}"))
    assert "line 4" in message and "min (5) is larger than max (4)" in message


def test_both_or_neither_goal_is_refused():
    text = "deployments:\n  - name: a\n    model: x\n"
    assert "exactly one of replicas" in _error(text)


def test_duplicate_names_and_bad_options():
    dup = GOOD.replace("name: rag", "name: chat")
    assert "appears twice" in _error(dup)
    bad = GOOD.replace("vram_reserve_gib: 0.5", "vram_reserve_gib: -1")
    message = _error(bad)
    assert "line 10" in message and "vram_reserve_gib" in message


def test_broken_yaml_and_missing_file(tmp_path: Path):
    assert "line 3" in _error("deployments:\n  - name: a\n   model: [x\n")
    with pytest.raises(InputError, match="no such file"):
        load_demand(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "path", sorted(Path(__file__).parents[2].joinpath("examples", "demand").glob("*.yaml"))
)
def test_example_demand_files_read(path: Path):
    assert load_demand(path).deployments


def test_a_bare_replica_count_means_exactly_that_many():
    demand = parse_demand("deployments:\n  - name: a\n    model: x\n    replicas: 3\n")
    assert demand.deployments[0].replicas is not None
    assert (demand.deployments[0].replicas.min, demand.deployments[0].replicas.max) == (3, 3)
