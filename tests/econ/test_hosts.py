"""econ books inference only for the cards a rig's host carries (issue 10, item 1).

The regression: a 2-core rig of 8 GPUs that serve qwen2.5-14b was assessed at 8 replicas, planned
at 2, and booked by econ at 8; the three now share rigshift.hosts.
"""

from __future__ import annotations

from rigshift.econ.service import fleet_economics
from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site


def _fleet(cores: int) -> Fleet:
    gpus = [
        Gpu(model="geforce-rtx-3090", vram_gib=24, index=i, pcie=PcieState(gen=1, width=1)) for i in range(8)
    ]
    rig = Rig(name="r", site="s", cpu_cores=cores, ram_gib=32, disk_gib=240, gpus=gpus)
    return Fleet(name="t", sites=[Site(name="s", power_price_usd_kwh=0.05)], rigs=[rig])


def test_a_two_core_rig_earns_inference_on_two_cards_only() -> None:
    econ = fleet_economics(_fleet(cores=2), with_sensitivity=False)
    (card,) = econ.cards
    assert card.inference.available and card.inference.hosted_gpus == 2
    infer = sum(
        a.count for a in econ.plan.after if a.use == "infer" and not a.bought and a.card_id == card.card.id
    )
    assert infer <= 2
    serving = next(t for t in econ.totals.by_use if t.use == "infer")
    assert serving.gpus == 2


def test_a_host_with_a_core_per_card_earns_on_every_card() -> None:
    econ = fleet_economics(_fleet(cores=8), with_sensitivity=False)
    (card,) = econ.cards
    assert card.inference.available and card.inference.hosted_gpus == 8


def test_a_mixed_rig_shares_its_host_between_card_classes() -> None:
    """Two classes on one 2-core rig never count more than the two replicas the host carries."""
    gpus = [
        Gpu(
            model=model,
            vram_gib=24 if model.endswith("3090") else 12,
            index=i,
            pcie=PcieState(gen=1, width=1),
        )
        for i, model in enumerate(["geforce-rtx-3090"] * 4 + ["geforce-rtx-3060-12gb"] * 4)
    ]
    rig = Rig(name="m", site="s", cpu_cores=2, ram_gib=32, disk_gib=240, gpus=gpus)
    econ = fleet_economics(
        Fleet(name="t", sites=[Site(name="s", power_price_usd_kwh=0.05)], rigs=[rig]), with_sensitivity=False
    )
    hosted = sum(c.inference.hosted_gpus or 0 for c in econ.cards if c.inference.available)
    assert hosted <= 2
