"""The farm's money now: from what its GPUs are doing where agents report it, else the model.

The decision's `monthly_net_usd.now` is modelled: every card at its best use today (econ's
baseline, docs/economics.md). Where telemetry says what a GPU does (mining, serving, idle),
`net_now` prices that instead, and the rest of its class keeps the model's figure:

- its draw is the measured one (else the model's for that state), at its site's price and PUE,
  with its share of the rig's host; a miner keeps the model's hours (curtailment) and coin revenue;
- serving GPUs pay AI staff as econ's inference does, and the gateway's metered token revenue
  (the last hour's, for a month) is added once;
- an idle GPU earns nothing.

Pure: the server passes the live states in (rigshift.server.fleet_view.live_gpus).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from rigshift.econ import formulas as f

if TYPE_CHECKING:
    from rigshift.decision.compute import FarmDecision
    from rigshift.econ.cards import CardEconomics
    from rigshift.econ.inputs import EconInputs
    from rigshift.econ.plan import Allocation

LiveState = Literal["mining", "serving", "idle"]
LIVE_STATES: tuple[LiveState, ...] = ("mining", "serving", "idle")


@dataclass(frozen=True)
class LiveGpu:
    """One GPU as an agent reports it now."""

    site: str
    gpu_key: str  # catalog key
    state: LiveState
    power_w: float | None = None  # measured draw; None: the model's for that state


class NetNow(BaseModel):
    """The monthly net "now", and what it rests on (the Overview prints `text` beside it)."""

    model_config = ConfigDict(frozen=True)

    monthly_net_usd: float
    basis: Literal["modelled", "live", "mixed"]  # mixed: some GPUs live, the rest modelled
    live_gpus: int
    modelled_gpus: int
    live_by_state: dict[str, int]
    metered_revenue_usd_month: float
    after_minus_now_usd: float  # what the conversion plan changes against this "now"
    text: str


def net_now(made: FarmDecision, live: Sequence[LiveGpu] = (), metered_usd_per_h: float = 0.0) -> NetNow:
    """`made`'s monthly net now, with the GPUs in `live` priced as they are reported."""
    economics = made.economics
    if economics is None:
        return _modelled(made, 0, {})
    cards = {c.card.id: c for c in economics.cards if c.card.count}
    baseline = {a.card_id: a for a in economics.plan.before}
    reported: dict[str, list[LiveGpu]] = defaultdict(list)
    for gpu in live:
        class_id = f"{gpu.site}/{gpu.gpu_key}"
        if class_id in cards:  # a class the economics priced (a site and card it knows)
            reported[class_id].append(gpu)
    total_gpus = sum(c.card.count for c in cards.values())
    modelled_uses = count_by_use(economics.plan.before)
    if not reported:
        return _modelled(made, total_gpus, modelled_uses)
    net = sum(a.monthly_net_usd for a in economics.plan.before)
    by_state: dict[str, int] = dict.fromkeys(LIVE_STATES, 0)
    for class_id, gpus in reported.items():
        econ = cards[class_id]
        gpus = gpus[: econ.card.count]  # never more than the inventory lists
        net -= baseline[class_id].monthly_net_usd / econ.card.count * len(gpus)
        for gpu in gpus:
            net += _live_month(econ, gpu, economics.inputs)
            by_state[gpu.state] += 1
    metered = metered_usd_per_h * f.HOURS_PER_DAY * f.DAYS_PER_MONTH
    net += metered
    live_gpus = sum(by_state.values())
    states = ", ".join(f"{n:,} {s}" for s, n in by_state.items() if n)
    paid = f"; metered token revenue ${metered_usd_per_h:,.2f}/h" if by_state["serving"] or metered else ""
    rest = total_gpus - live_gpus
    text = f"live: {live_gpus:,} GPUs as their agents report them ({states}; measured draw{paid})"
    if rest:
        text += f", {rest:,} modelled at their best use today"
    after = made.summary.monthly_net_usd.after
    return NetNow(
        monthly_net_usd=round(net, 2),
        basis="mixed" if rest else "live",
        live_gpus=live_gpus,
        modelled_gpus=rest,
        live_by_state=by_state,
        metered_revenue_usd_month=round(metered, 2),
        after_minus_now_usd=round(after - round(net, 2), 2),
        text=text,
    )


def _live_month(econ: CardEconomics, gpu: LiveGpu, inputs: EconInputs) -> float:
    """One reported GPU's monthly net in its reported state."""
    card = econ.card
    if gpu.state == "mining":
        mining = econ.mining
        # The model's mining hours and prices (curtailment included), at the measured draw.
        modelled_w = mining.power_w + card.host_share_w
        measured_w = (gpu.power_w if gpu.power_w is not None else mining.power_w) + card.host_share_w
        power = mining.power_cost_usd_day * (measured_w / modelled_w if modelled_w > 0 else 1.0)
        revenue = mining.revenue_usd_day if mining.available else 0.0
        return (revenue - power) * f.DAYS_PER_MONTH
    default_w = card.busy_w if gpu.state == "serving" else inputs.power.idle_w_per_gpu
    watts = (gpu.power_w if gpu.power_w is not None else default_w) + card.host_share_w
    power = f.power_cost_per_day(watts, card.usd_per_kwh, card.pue)
    staff = econ.inference.staff_usd_day if gpu.state == "serving" else 0.0
    return -(power + staff) * f.DAYS_PER_MONTH


def count_by_use(allocations: Iterable[Allocation]) -> dict[str, int]:
    """Cards per use ("mine", "infer", "off", ...) in a plan's allocations."""
    out: dict[str, int] = {}
    for a in allocations:
        out[a.use] = out.get(a.use, 0) + a.count
    return out


def _modelled(made: FarmDecision, gpus: int, uses: dict[str, int]) -> NetNow:
    now = made.summary.monthly_net_usd
    listed = " · ".join(f"{n:,} {'mining' if use == 'mine' else use}" for use, n in uses.items())
    return NetNow(
        monthly_net_usd=now.now,
        basis="modelled",
        live_gpus=0,
        modelled_gpus=gpus,
        live_by_state=dict.fromkeys(LIVE_STATES, 0),
        metered_revenue_usd_month=0.0,
        after_minus_now_usd=round(now.after - now.now, 2),
        text=f"modelled: {listed or 'no card priced'} (each card at its best use today; no agent reports them)",
    )
