"""Unlock actions priced from econ's inputs: what each fix costs and what the GPUs it readies earn.

The assessment finds the fixes (rigshift.assess.unlocks); econ supplies the prices (board, CPU,
SSD, RAM, risers from `CapitalInputs`) when it asks for the assessment, and, once its plan is
solved, the value of one more AI-ready GPU a month:

    value = max over price classes with unmet demand of
            D × (min(unmet requests/day, a serving card's capacity at the ceiling) × margin
                 − idle power − staff share)            (0 when all demand is met or nothing pays)

where a "serving card" is the mean of the cards the plan puts on that class. A GPU moving up a tier
is counted at half that (an assumption, printed with the figures).
"""

from __future__ import annotations

from rigshift.assess.unlocks import UnlockCosts
from rigshift.econ import formulas as f
from rigshift.econ.cards import staff_usd_per_gpu_day
from rigshift.econ.inputs import EconInputs
from rigshift.econ.plan import ConversionPlan

TIER_UP_SHARE = 0.5  # assumption: a GPU lifted a tier is worth half a newly ready one


def unlock_costs(inputs: EconInputs) -> UnlockCosts:
    """Fix prices from the econ inputs; the values come later (`value_of_ready_gpu`)."""
    cap = inputs.capital
    return UnlockCosts(
        board_usd=cap.board_usd,
        riser_usd=cap.riser_usd,
        cpu_usd=cap.cpu_usd,
        ssd_usd=cap.ssd_usd,
        ram_usd_per_gib=cap.ram_usd_per_gib,
        value_per_ready_gpu_month=0.0,
        value_per_tier_up_month=0.0,
        source="econ capital inputs (board_usd, riser_usd, cpu_usd, ssd_usd, ram_usd_per_gib)",
    )


def value_of_ready_gpu(plan: ConversionPlan, inputs: EconInputs) -> float:
    """Net a month one more AI-ready GPU would add: only where demand is left unserved."""
    ai = inputs.ai
    staff = staff_usd_per_gpu_day(inputs)
    best = 0.0
    for service in plan.service:
        unmet = service.requests_per_day - service.served_requests_per_day
        serving = [a for a in plan.after if a.use == "infer" and a.model_class == service.model_class]
        cards = sum(a.count for a in serving)
        if unmet <= 0 or not cards:
            continue
        served = sum(a.requests_per_day for a in serving)
        capacity = sum(a.requests_per_day / a.utilisation for a in serving if a.utilisation) / cards
        power_per_request = sum(a.monthly_power_usd for a in serving) / f.DAYS_PER_MONTH / max(served, 1e-9)
        margin = service.usd_per_request - power_per_request
        net = min(unmet, capacity * ai.max_utilisation) * margin - staff
        best = max(best, net * f.DAYS_PER_MONTH)
    return best
