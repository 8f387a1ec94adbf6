"""The assessment decides which classes a card can sell; the estimator only says how fast."""

from __future__ import annotations

from rigshift.assess import ModelClass, ReadinessCriteria, assess_fleet
from rigshift.catalog.gpus import gpu_catalog
from rigshift.econ.assessed import AssessedThroughput, assessment_class, served_classes
from rigshift.econ.cards import card_economics
from rigshift.fleet.model import Fleet, Gpu, Rig, Site

from .fakes import CLASS_8B, SPECS, TableThroughput, worked_card, worked_inputs


def test_priced_models_map_to_assessment_classes():
    criteria = ReadinessCriteria()
    assert assessment_class("llama-3.1-8b", 8.0, criteria) == ModelClass.B7_9
    assert assessment_class("llama-3.3-70b", 70.6, criteria) == ModelClass.B30_PLUS
    assert assessment_class("some-2b", 2.0, criteria) == ModelClass.UP_TO_3B
    assert assessment_class("some-13b", 13.0, criteria) == ModelClass.B12_14


def test_a_class_the_assessment_rejects_earns_nothing_and_says_why():
    inner = TableThroughput({("card-a", "8b"): (200.0, 1000.0, 1), ("card-big", "8b"): (500.0, 2500.0, 1)})
    gate = AssessedThroughput(inner, {"card-a": {ModelClass.UP_TO_3B}}, {"8b": ModelClass.B7_9})
    econ = card_economics(worked_card(), SPECS["card-a"], worked_inputs(), gate)
    (option,) = econ.inference_options
    assert not option.available and option.revenue_usd_day == 0.0
    assert "assessment finds no" in option.detail and "7-9B" in option.detail
    # A card the fleet does not have (one to buy) is left to the estimator.
    big = worked_card(id="s/card-big+buy", gpu_key="card-big", count=0)
    assert card_economics(big, SPECS["card-big"], worked_inputs(), gate).inference.available
    assert gate.refusal(SPECS["card-a"], CLASS_8B) is not None


def test_served_classes_from_a_real_assessment():
    catalog = gpu_catalog()

    def rig(name: str, card: str, n: int) -> Rig:
        spec = catalog.resolve(card)
        return Rig(
            name=name,
            site="s",
            cpu_cores=4,
            ram_gib=16,
            gpus=[Gpu(model=spec.key, vram_gib=spec.vram_gib) for _ in range(n)],
        )

    fleet = Fleet(sites=[Site(name="s")], rigs=[rig("small", "P104-100", 4), rig("big", "RTX 3090", 2)])
    served = served_classes(assess_fleet(fleet), fleet)
    p104, rtx = catalog.resolve("P104-100").key, catalog.resolve("RTX 3090").key
    assert ModelClass.B7_9 in served[rtx]
    assert ModelClass.B30_PLUS not in served[p104]
