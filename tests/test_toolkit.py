"""The one tools object (issue 13, item 8): shared cache, unknown cards as None, a calibration hook."""

from __future__ import annotations

from dataclasses import replace

from rigshift.catalog.gpus import gpu_catalog
from rigshift.catalog.models import load_model
from rigshift.estimate import Estimate, Hardware, Workload, estimate
from rigshift.estimate.power import speed_factor_at_power_limit
from rigshift.estimate.runtimes import runtimes_for
from rigshift.toolkit import Calibration, Toolkit


def _tools(calls: list[Workload], calibration: Calibration | None = None) -> Toolkit:
    def counting(workload: Workload, hardware: Hardware) -> Estimate:
        calls.append(workload)
        return estimate(workload, hardware)

    return Toolkit(
        gpu_spec=gpu_catalog().get,
        model=load_model,
        estimator=counting,
        runtimes_for=runtimes_for,
        speed_factor=speed_factor_at_power_limit,  # type: ignore[arg-type]
        calibration=calibration,
    )


def test_one_estimate_per_distinct_question() -> None:
    calls: list[Workload] = []
    tools = _tools(calls)
    w = Workload(load_model("llama-3.1-8b"), "Q4_K_M", 8192)
    hw = Hardware.of(gpu_catalog().resolve("RTX 3060 12GB"))
    first = tools.estimate(w, hw)
    assert tools.estimate(w, Hardware.of(gpu_catalog().resolve("RTX 3060 12GB"))) is first
    tools.estimate(replace(w, context=4096), hw)
    assert len(calls) == 2 and tools.estimator_calls == 2


def test_unknown_cards_are_none_not_errors() -> None:
    tools = _tools([])
    assert tools.gpu("unresolved") is None and tools.gpu("geforce-rtx-9999") is None
    assert tools.gpu("geforce-rtx-3060-12gb") is not None


class HalfSpeed:
    """A measured correction: this card decodes at half the prior."""

    def __init__(self) -> None:
        self.applied = 0

    def apply(self, workload: Workload, hardware: Hardware, estimate: Estimate | None = None) -> Estimate:
        assert estimate is not None  # the toolkit always hands over the prior
        self.applied += 1
        return replace(
            estimate,
            decode_tokens_per_s=estimate.decode_tokens_per_s / 2,
            decode_tokens_per_s_total=estimate.decode_tokens_per_s_total / 2,
        )


def test_a_calibration_corrects_every_stage_that_asks() -> None:
    from rigshift.assess import assess_fleet
    from rigshift.fleet.model import Fleet, Gpu, PcieState, Rig, Site

    w = Workload(load_model("llama-3.1-8b"), "Q4_K_M", 8192)
    hw = Hardware.of(gpu_catalog().resolve("RTX 3060 12GB"))
    plain, calibrated = _tools([]), _tools([], HalfSpeed())
    assert calibrated.estimate(w, hw).decode_tokens_per_s == plain.estimate(w, hw).decode_tokens_per_s / 2
    gpus = [Gpu(model="geforce-rtx-3060-12gb", vram_gib=12, index=0, pcie=PcieState(gen=4, width=16))]
    fleet = Fleet(name="c", sites=[Site(name="s")], rigs=[Rig(name="r", site="s", gpus=gpus)])
    fast = assess_fleet(fleet, tools=plain).profiles[0].classes
    slow = assess_fleet(fleet, tools=_tools([], HalfSpeed())).profiles[0].classes
    assert slow[1].decode_tps < fast[1].decode_tps  # the assessment sees the measured speed
