"""From a fleet to card classes: host share, site prices, links, marketplace blockers."""

from __future__ import annotations

import pytest

from rigshift.econ.cards import mining_result
from rigshift.econ.classes import card_classes, lanes_needed_for_rental, purchase_class
from rigshift.econ.inputs import Coin
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site

from .fakes import SPECS, spec_of, worked_inputs


def _fleet(site_price: float | None = 0.05) -> Fleet:
    mining_rig = Rig(
        name="rig-1",
        site="s",
        cpu_cores=2,
        ram_gib=8,
        gpus=[Gpu(model="card-a", vram_gib=12) for _ in range(8)],
    )
    proper_host = Rig(
        name="host-1",
        site="s",
        cpu_cores=8,
        ram_gib=64,
        gpus=[Gpu(model="card-small", vram_gib=8, pcie=PcieState(gen=3, width=16)) for _ in range(2)],
    )
    other_site = Rig(
        name="rig-2", site="t", gpus=[Gpu(model="card-a", vram_gib=12, pcie=PcieState(gen=2, width=4))]
    )
    return Fleet(
        sites=[Site(name="s", power_price_usd_kwh=site_price, pue=1.3), Site(name="t")],
        rigs=[mining_rig, proper_host, other_site],
    )


def test_classes_group_by_site_and_model():
    classes = {c.id: c for c in card_classes(_fleet(), spec_of, worked_inputs())}
    assert set(classes) == {"s/card-a", "s/card-small", "t/card-a"}
    a = classes["s/card-a"]
    assert (a.count, a.max_group, a.host_share_w) == (8, 8, pytest.approx(60 / 8))
    assert (a.link_gen, a.link_lanes) == (1, 1)  # no link recorded: assumed x1 riser
    assert (classes["t/card-a"].link_gen, classes["t/card-a"].link_lanes) == (2, 4)


def test_site_price_and_pue_unless_the_prices_file_overrides():
    inputs = worked_inputs()
    inputs = inputs.model_copy(
        update={"power": inputs.power.model_copy(update={"pue": None, "usd_per_kwh": 0.2})}
    )
    classes = {c.id: c for c in card_classes(_fleet(), spec_of, inputs)}
    assert (classes["s/card-a"].usd_per_kwh, classes["s/card-a"].pue) == (0.05, 1.3)
    assert classes["t/card-a"].usd_per_kwh == 0.2  # the site sets no price: the prices file's
    forced = inputs.model_copy(update={"power": inputs.power.model_copy(update={"override_sites": True})})
    assert {c.usd_per_kwh for c in card_classes(_fleet(), spec_of, forced)} == {0.2}


def test_marketplace_blockers_and_the_cost_of_fixing_them():
    classes = {c.id: c for c in card_classes(_fleet(), spec_of, worked_inputs())}
    a = classes["s/card-a"]
    assert any("CPU cores" in b for b in a.rental_blockers)
    assert any("RAM" in b for b in a.rental_blockers)
    assert any("PCIe x1" in b for b in a.rental_blockers)
    # card-a: 12.7 TFLOPS needs ceil(12.7 / 2.5) = 6 lanes; a 20-lane host takes 3 of them: $400 / 3.
    assert lanes_needed_for_rental(SPECS["card-a"]) == 6
    assert a.rental_fix_usd_per_gpu == pytest.approx(400 / 3)
    assert classes["s/card-small"].rental_blockers == ()
    assert classes["s/card-small"].rental_fix_usd_per_gpu == 0.0


def test_a_card_to_buy_sits_on_a_riser_in_a_new_host():
    card = purchase_class(SPECS["card-big"], "s", _fleet(), worked_inputs())
    assert card.count == 0 and card.id == "s/card-big+buy"
    assert card.host_share_w == pytest.approx(60 / 8)
    assert card.rental_fix_usd_per_gpu == pytest.approx(400.0)  # 35.6 TFLOPS needs 15 lanes: one per host


def test_a_rig_short_only_of_ram_buys_ram_not_a_host():
    rig = Rig(
        name="almost",
        site="s",
        cpu_cores=8,
        ram_gib=8,
        gpus=[Gpu(model="card-small", vram_gib=8, pcie=PcieState(gen=3, width=16)) for _ in range(4)],
    )
    (card,) = card_classes(Fleet(sites=[Site(name="s")], rigs=[rig]), spec_of, worked_inputs())
    assert card.rental_blockers == ("8.0 GiB RAM for 4 GPUs",)
    # 4 GPUs × 4 GB = 14.90 GiB needed, 8 GiB present: 6.90 GiB × $3/GiB over 4 GPUs = $5.18 each.
    assert card.rental_fix_usd_per_gpu == pytest.approx((16 / 1.073741824 - 8) * 3 / 4)


def test_hashrates_the_rigs_report_beat_the_tables():
    gpus = [
        Gpu(model="card-a", vram_gib=12, algorithm="autolykos2", hashrate_mhs=100.0, power_draw_w=90.0),
        Gpu(model="card-a", vram_gib=12, algorithm="autolykos2", hashrate_mhs=120.0, power_draw_w=110.0),
        Gpu(model="card-a", vram_gib=12),  # reports nothing: not counted
    ]
    fleet = Fleet(sites=[Site(name="s")], rigs=[Rig(name="r", site="s", gpus=gpus)])
    (card,) = card_classes(fleet, spec_of, worked_inputs())
    (measured,) = card.measured_hashrates
    assert (measured.algorithm, measured.hashrate_hs, measured.power_w) == ("autolykos2", 110e6, 100.0)
    erg = Coin(
        tag="ERG", algorithm="Autolykos", block_time_s=120, block_reward=6, nethash_hs=2e13, price_usd=1
    )
    inputs = worked_inputs()
    inputs = inputs.model_copy(update={"mining": inputs.mining.model_copy(update={"coins": (erg,)})})
    result = mining_result(card, SPECS["card-a"], inputs)
    # 110 MH/s of a 20 TH/s network × 6 ERG × 720 blocks/day × 0.99 × $1
    assert result.revenue_usd_day == pytest.approx(110e6 / 2e13 * 6 * 720 * 0.99)
    assert "ERG (Autolykos) at 110.0 MH/s, 100 W" in result.detail
