"""Unlock actions priced from econ's inputs: what mining boards can take, ranked by gain per dollar."""

from __future__ import annotations

import pytest
from assess_fakes import fake_tools, fleet, gpu, rig

from rigshift.assess import ReadinessCriteria, assess_fleet
from rigshift.assess.unlocks import UnlockCosts

COSTS = UnlockCosts(
    board_usd=180.0,
    riser_usd=10.0,
    cpu_usd=60.0,
    ssd_usd=35.0,
    ram_usd_per_gib=3.0,
    value_per_ready_gpu_month=25.0,
    value_per_tier_up_month=10.0,
    source="test",
)


def _unlock(a, action):
    return next(u for u in a.summary.unlocks if u.action == action)


def test_x1_mining_slots_need_a_new_board_not_risers():
    rigs = [rig(f"r{i}", [gpu("rtx-3090") for _ in range(6)], ram=32, disk_read_gbs=3.0) for i in range(3)]
    a = assess_fleet(fleet(*rigs), tools=fake_tools(), unlock_costs=COSTS)
    risers = _unlock(a, "replace_risers")
    assert "new boards (Gen3 x4 slots) for 3 rigs" in risers.text
    assert "risers for" not in risers.text
    assert risers.cost_usd == pytest.approx(3 * 180.0)  # a board per rig, not 18 risers
    assert risers.cost_detail == "3 boards × $180"


def test_wide_slots_on_an_old_generation_only_need_risers():
    rigs = [rig("r", [gpu("rtx-3060-12g", gen=1, width=4) for _ in range(4)], ram=32, disk_read_gbs=3.0)]
    criteria = ReadinessCriteria(max_load_seconds=3)
    a = assess_fleet(fleet(*rigs), criteria, tools=fake_tools(), unlock_costs=COSTS)
    risers = _unlock(a, "replace_risers")
    assert "boards" not in risers.text and "Gen3 x4 risers for 4 GPUs" in risers.text
    assert risers.cost_usd == pytest.approx(4 * 10.0)


def test_a_fix_that_readies_no_gpu_gains_nothing_and_ranks_last():
    # 2 cores for 6 GPUs: adding cores clears a caveat but readies nothing here; the load-time limit
    # (x1 links, 10 s) blocks every GPU and a new board readies them.
    criteria = ReadinessCriteria(max_load_seconds=10)
    rigs = [rig(f"r{i}", [gpu("rtx-3060-12g") for _ in range(6)], disk_read_gbs=3.0) for i in range(2)]
    for costs in (COSTS, None):
        a = assess_fleet(fleet(*rigs), criteria, tools=fake_tools(), unlock_costs=costs)
        ranked = [u.action for u in a.summary.unlocks]
        risers = _unlock(a, "replace_risers")
        assert risers.gpus_newly_ready == 12
        useless = [u for u in a.summary.unlocks if u.gpus_newly_ready == 0 and u.gpus_tier_up == 0]
        assert useless, ranked
        # every action that unlocks nothing comes after every action that does
        first_useless = min(ranked.index(u.action) for u in useless)
        assert all(ranked.index(u.action) < first_useless for u in a.summary.unlocks if u not in useless)
        if costs is not None:
            # 12 GPUs readied ($25 each) that also move up a tier ($10 each), for 2 boards
            assert risers.monthly_gain_usd == pytest.approx(12 * 25.0 + risers.gpus_tier_up * 10.0)
            assert risers.gain_per_usd == pytest.approx(risers.monthly_gain_usd / (2 * 180.0))
            for u in useless:
                assert u.monthly_gain_usd == 0.0


def test_priced_actions_rank_by_gain_per_dollar():
    criteria = ReadinessCriteria(max_load_seconds=10)
    rigs = [
        rig("tight", [gpu("rtx-3090") for _ in range(2)], ram=4, disk_read_gbs=3.0),
        rig("slow", [gpu("rtx-3060-12g") for _ in range(6)], ram=64, disk_read_gbs=3.0),
        rig(
            "miner",
            [gpu("rtx-3060-12g", vram_used_by_others_gib=9.0, miner_running=True)] * 2,
            ram=64,
            disk_read_gbs=3.0,
        ),
    ]
    a = assess_fleet(fleet(*rigs), criteria, tools=fake_tools(), unlock_costs=COSTS)
    paying = [u for u in a.summary.unlocks if u.monthly_gain_usd and u.monthly_gain_usd > 0]
    assert len(paying) >= 2
    assert paying[0].action == "stop_miners" and paying[0].cost_usd == 0.0  # free and it pays: first
    per_usd = [u.gain_per_usd if u.gain_per_usd is not None else float("inf") for u in paying]
    assert per_usd == sorted(per_usd, reverse=True)
    assert a.summary.unlocks[: len(paying)] == paying
