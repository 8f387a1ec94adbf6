"""Money is decided on the safe end (issue 16 item 6): where every figure for a card rests on
priors, econ's token rates and the farm decision's service-level check read the low end of the
prior's interval, never the central (optimistic) figure."""

from __future__ import annotations

from rigshift.assess.criteria import ModelClass
from rigshift.assess.types import ClassResult
from rigshift.econ.inputs import ModelClassPrice

EIGHT_B = ModelClassPrice(name="8b", model="llama-3.1-8b", usd_per_m_input=0.1, usd_per_m_output=0.2)


def test_the_service_level_reads_the_safe_figure_and_falls_back_to_the_central_one() -> None:
    base = {"model_class": ModelClass.B7_9, "usable": True, "model": "m", "quant": "Q4_K_M", "context": 4096}
    judged = ClassResult(
        **base, decode_tps=24.0, prefill_tps=200.0, decode_tps_safe=10.5, prefill_tps_safe=90.0
    )
    assert (judged.decision_decode_tps, judged.decision_prefill_tps) == (10.5, 90.0)
    unknown = ClassResult(**base, decode_tps=24.0, prefill_tps=200.0)  # built without a safe figure
    assert (unknown.decision_decode_tps, unknown.decision_prefill_tps) == (24.0, 200.0)
