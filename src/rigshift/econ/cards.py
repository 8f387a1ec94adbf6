"""Per card class: what one card nets a day mining, rented out, and selling tokens.

A card class is one GPU model at one site (sites can have different power prices and budgets).
The three uses are computed side by side with the same power accounting, so they compare:
each card carries its own draw plus its share of the rig's host power, times the site's PUE.
Per-card figures here count power only; staff and capital enter in the plan (plan.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ import formulas as f
from rigshift.econ.inputs import AiInputs, EconInputs, Hashrate, ModelClassPrice
from rigshift.estimate.types import PcieLink
from rigshift.hosts import replicas_on_rig
from rigshift.suggest import normalise

Use = Literal["mine", "rent", "infer", "off"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardClass(_Model):
    """One GPU model at one site, with what the economics needs to know about its rigs."""

    id: str  # "site-a/geforce-rtx-3060-12gb"
    site: str
    gpu_key: str
    gpu_name: str
    count: int  # cards the fleet has (0 for a card the plan may buy)
    vram_gib: float
    busy_w: float  # draw while serving or rented: the power limit, else the TDP
    host_share_w: float  # the rig's host power divided among its GPUs
    usd_per_kwh: float  # the mean price over the period
    pue: float
    # Set when the site buys at a price series: (price, share of hours), cheapest first. Mining can
    # stop in dear hours; serving and renting run regardless, at the mean price.
    price_curve: tuple[tuple[float, float], ...] = ()
    # What the class's own GPUs report mining (HiveOS, minerstat): mean per algorithm. Beats tables.
    measured_hashrates: tuple[Hashrate, ...] = ()
    link_gen: int | None = None  # worst link in the class; None = the card's own slot
    link_lanes: int | None = None
    max_group: int = 1  # most cards of this model in one rig: the largest multi-GPU replica
    rental_fix_usd_per_gpu: float = 0.0  # host work a marketplace demands before it lists the card
    rental_blockers: tuple[str, ...] = ()
    # The class's rigs for the shared host rule (rigshift.hosts): (cards of this class on the rig,
    # CPU cores, RAM GiB, disk GiB, how many such rigs). Empty: hosts sized for the cards (bought).
    rig_hosts: tuple[tuple[int, float | None, float | None, float | None, int], ...] = ()

    def hosted_gpus(self, gpus_per_replica: int, host_ram_gib: float, model_file_gib: float) -> int:
        """Cards of this class that serve a replica once every rig's host limit is applied: the
        replicas `replicas_on_rig` (the rule assess and plan count with) allows, times their size."""
        if not self.rig_hosts:
            return self.count
        return sum(
            rigs
            * gpus_per_replica
            * replicas_on_rig(
                gpus, cores, ram, host_ram_gib, gpus_per_replica=gpus_per_replica,
                disk_gib=disk, model_file_gib=model_file_gib,
            )
            for gpus, cores, ram, disk, rigs in self.rig_hosts
        )  # fmt: skip

    @property
    def link(self) -> PcieLink | None:
        if self.link_gen is None or self.link_lanes is None:
            return None
        return PcieLink(self.link_gen, self.link_lanes)


class UseResult(_Model):
    use: Use
    available: bool
    detail: str  # what the card does in this use, or why it cannot
    revenue_usd_day: float = 0.0
    power_w: float = 0.0  # the card's mean draw (host share not included)
    power_cost_usd_day: float = 0.0  # card + host share, times PUE, times price
    net_usd_day: float = 0.0
    break_even_usd_kwh: float | None = None  # the power price at which net is zero
    one_off_usd_per_gpu: float = 0.0  # paid once before the card can start this use
    model_class: str | None = None  # inference: the class of model served
    # Cards of the class this use can take at most (inference: the replicas the rigs' hosts carry,
    # rigshift.hosts); None: every card. The figures above are per card that takes it.
    max_gpus: int | None = None


class CardEconomics(_Model):
    card: CardClass
    mining: UseResult
    rental: UseResult
    inference: UseResult  # the best model class this card can serve
    inference_options: tuple[UseResult, ...]  # every model class, served or not, and why
    best_use: Use
    break_even_utilisation: float | None  # inference utilisation that matches the best other use

    def use(self, use: str) -> UseResult | None:
        return {"mine": self.mining, "rent": self.rental, "infer": self.inference}.get(use)


@dataclass(frozen=True)
class InferenceRate:
    """How fast one replica of a model class runs on `gpus` cards of one class."""

    decode_tokens_per_s: float  # all parallel streams together
    prefill_tokens_per_s: float
    gpus: int
    runtime: str
    host_ram_gib: float = 0.0  # what one replica keeps in host RAM (the estimator's)
    model_file_gib: float = 0.0


class ThroughputModel(Protocol):
    """The seam to the estimator: None when the model does not fit on `gpus` such cards."""

    def rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None: ...


def _power_cost(card: CardClass, card_w: float) -> float:
    return f.power_cost_per_day(card_w + card.host_share_w, card.usd_per_kwh, card.pue)


def _break_even(revenue: float, card: CardClass, card_w: float) -> float | None:
    return f.break_even_power_price(revenue, card_w + card.host_share_w, card.pue)


def _hashrates(spec: GpuSpec, inputs: EconInputs) -> dict[str, tuple[float, float]]:
    """algorithm (normalised) -> (H/s, W): the catalog's Etchash figure, then the table's overrides."""
    rates: dict[str, tuple[float, float]] = {}
    if spec.ethash_mhs:
        # Etchash hashes like Ethash did (DOMAIN.md §1): the historic figure still holds.
        rates["etchash"] = (spec.ethash_mhs * 1e6, spec.ethash_power_w or spec.tdp_w)
    for entry in inputs.mining.hashrates.get(spec.key, ()):
        rates[canonical_algorithm(entry.algorithm)] = (entry.hashrate_hs, entry.power_w)
    return rates


# Names miners and dashboards use for the algorithms the coin data calls otherwise.
_ALGORITHM_ALIASES = {
    "ethash": "etchash",
    "daggerhashimoto": "etchash",
    "autolykos2": "autolykos",
    "autolykos v2": "autolykos",
}


def canonical_algorithm(name: str) -> str:
    key = normalise(name)
    return _ALGORITHM_ALIASES.get(key, key)


def mining_result(card: CardClass, spec: GpuSpec, inputs: EconInputs) -> UseResult:
    rates = _hashrates(spec, inputs)
    for entry in card.measured_hashrates:
        rates[canonical_algorithm(entry.algorithm)] = (entry.hashrate_hs, entry.power_w)
    best: UseResult | None = None
    for coin in inputs.mining.coins:
        found = rates.get(canonical_algorithm(coin.algorithm))
        if found is None:
            continue
        hashrate, watts = found
        revenue = f.mining_revenue_per_day(
            hashrate,
            coin.nethash_hs,
            coin.block_reward,
            coin.block_time_s,
            inputs.mining.pool_fee,
            coin.price_usd,
        )
        cost = _power_cost(card, watts)
        detail = f"{coin.tag} ({coin.algorithm}) at {_hashrate_text(hashrate)}, {watts:.0f} W"
        if card.price_curve:
            revenue, cost, running = _curtailed(card, revenue, watts)
            detail += f", running {running:.0%} of hours (stops when power costs more than it earns)"
        result = UseResult(
            use="mine",
            available=True,
            detail=detail,
            revenue_usd_day=revenue,
            power_w=watts,
            power_cost_usd_day=cost,
            net_usd_day=revenue - cost,
            break_even_usd_kwh=_break_even(revenue, card, watts),
        )
        if best is None or result.net_usd_day > best.net_usd_day:
            best = result
    if best is None:
        return UseResult(use="mine", available=False, detail="no hashrate for any coin in the coin data")
    return best


def _curtailed(card: CardClass, revenue: float, watts: float) -> tuple[float, float, float]:
    """Mining that runs only in the hours whose price it beats: (revenue, power cost, share running).

    A rig can stop mining at once and lose nothing but that hour's coins, so over the duration
    curve it earns Σ share × max(0, revenue − kWh × price) (rig and host off when stopped).
    """
    kwh = f.energy_kwh_per_day(watts + card.host_share_w, card.pue)
    earned = cost = running = 0.0
    for price, share in card.price_curve:
        if revenue - kwh * price > 0:
            earned += share * revenue
            cost += share * kwh * price
            running += share
    return earned, cost, running


def _hashrate_text(hs: float) -> str:
    for unit, scale in (("GH/s", 1e9), ("MH/s", 1e6), ("kH/s", 1e3)):
        if hs >= scale:
            return f"{hs / scale:.1f} {unit}"
    return f"{hs:.0f} H/s"


def rental_result(card: CardClass, inputs: EconInputs) -> UseResult:
    ai = inputs.ai
    rate = ai.rent_usd_per_hour.get(card.gpu_key)
    if rate is None:
        return UseResult(use="rent", available=False, detail=f"no market rent known for {card.gpu_name}")
    watts = f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, ai.rental_utilisation)
    revenue = f.rental_revenue_per_day(rate, ai.rental_utilisation, ai.marketplace_fee)
    cost = _power_cost(card, watts)
    detail = f"${rate:.3f}/GPU-h at {ai.rental_utilisation:.0%} occupancy"
    if card.rental_blockers:
        detail += f"; host fix ${card.rental_fix_usd_per_gpu:.0f}/GPU first: " + "; ".join(
            card.rental_blockers
        )
    return UseResult(
        use="rent",
        available=True,
        detail=detail,
        revenue_usd_day=revenue,
        power_w=watts,
        power_cost_usd_day=cost,
        net_usd_day=revenue - cost,
        break_even_usd_kwh=_break_even(revenue, card, watts),
        one_off_usd_per_gpu=card.rental_fix_usd_per_gpu,
    )


def _group_sizes(max_group: int) -> list[int]:
    sizes, n = [], 1
    while n <= max_group:
        sizes.append(n)
        n *= 2
    if max_group not in sizes:
        sizes.append(max_group)
    return sizes


def inference_option(
    card: CardClass,
    spec: GpuSpec,
    model_class: ModelClassPrice,
    inputs: EconInputs,
    throughput: ThroughputModel,
) -> UseResult:
    """One model class on this card: the smallest group of same-model cards in a rig that fits it."""
    ai = inputs.ai
    rate: InferenceRate | None = None
    for gpus in _group_sizes(card.max_group):
        rate = throughput.rate(spec, gpus, card.link, model_class, ai)
        if rate is not None:
            break
    if rate is None or rate.decode_tokens_per_s <= 0 or rate.prefill_tokens_per_s <= 0:
        # A throughput model may know a better reason than "does not fit" (the assessment's verdict).
        refusal = getattr(throughput, "refusal", None)
        why = refusal(spec, model_class) if refusal is not None else None
        return UseResult(
            use="infer",
            available=False,
            model_class=model_class.name,
            detail=f"{model_class.name} ({model_class.model} {model_class.quant}): "
            + (why or f"does not fit on up to {card.max_group} × {card.gpu_name}"),
        )
    rps = f.requests_per_second(
        ai.input_tokens_per_request,
        ai.output_tokens_per_request,
        rate.prefill_tokens_per_s,
        rate.decode_tokens_per_s,
    )
    # Only the cards whose rig's host carries a replica can serve (the host rule assess and plan
    # count with): the plan may put at most that many of the class on inference.
    hosted = card.hosted_gpus(rate.gpus, rate.host_ram_gib, rate.model_file_gib)
    if card.count and hosted == 0:
        return UseResult(
            use="infer",
            available=False,
            model_class=model_class.name,
            detail=f"{model_class.name} ({model_class.model} {model_class.quant}): the rigs' CPU cores, RAM"
            " or disk carry no replica (rigshift.hosts)",
        )
    limited = bool(card.count) and hosted < card.count
    host_note = f"; the rigs' hosts carry replicas for {hosted:,} of {card.count:,} cards" if limited else ""
    # A replica on k cards earns for all k: each card is credited a k-th.
    revenue = (
        f.inference_revenue_per_day(
            rps,
            ai.input_tokens_per_request,
            ai.output_tokens_per_request,
            model_class.usd_per_m_input,
            model_class.usd_per_m_output,
            ai.utilisation,
        )
        / rate.gpus
    )
    watts = f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, ai.utilisation)
    cost = _power_cost(card, watts)
    return UseResult(
        use="infer",
        available=True,
        model_class=model_class.name,
        detail=f"{model_class.name} ({model_class.model} {model_class.quant}) on {rate.gpus} GPU"
        f"{'s' if rate.gpus > 1 else ''} via {rate.runtime}: {rate.decode_tokens_per_s:.1f} tok/s decode "
        f"({ai.parallel} streams), {rate.prefill_tokens_per_s:.0f} tok/s prefill, {ai.utilisation:.0%} busy"
        + host_note,
        revenue_usd_day=revenue,
        power_w=watts,
        power_cost_usd_day=cost,
        net_usd_day=revenue - cost,
        break_even_usd_kwh=_break_even(revenue, card, watts),
        one_off_usd_per_gpu=inputs.capital.setup_usd_per_gpu,
        max_gpus=hosted if limited else None,
    )


def card_economics(
    card: CardClass, spec: GpuSpec, inputs: EconInputs, throughput: ThroughputModel
) -> CardEconomics:
    mining = mining_result(card, spec, inputs)
    rental = rental_result(card, inputs)
    options = tuple(inference_option(card, spec, mc, inputs, throughput) for mc in inputs.ai.token_prices)
    served = [o for o in options if o.available]
    if served:
        inference = max(served, key=lambda o: o.net_usd_day)
    else:
        inference = UseResult(
            use="infer",
            available=False,
            detail=options[0].detail if len(options) == 1 else "fits none of the priced model classes",
        )
    candidates: list[tuple[float, Use]] = [(0.0, "off")]
    candidates += [(r.net_usd_day, r.use) for r in (mining, rental, inference) if r.available]
    # Ties go to the first listed: off, then mine, rent, infer (do nothing new unless it pays).
    best_net, best_use = max(candidates, key=lambda t: t[0])
    del best_net
    return CardEconomics(
        card=card,
        mining=mining,
        rental=rental,
        inference=inference,
        inference_options=options,
        best_use=best_use,
        break_even_utilisation=_break_even_utilisation(card, inputs, inference, mining, rental),
    )


def _break_even_utilisation(
    card: CardClass, inputs: EconInputs, inference: UseResult, mining: UseResult, rental: UseResult
) -> float | None:
    if not inference.available or inputs.ai.utilisation <= 0:
        return None
    revenue_at_full = inference.revenue_usd_day / inputs.ai.utilisation
    target = max([0.0] + [r.net_usd_day for r in (mining, rental) if r.available])
    return f.break_even_utilisation(
        revenue_at_full,
        busy_w=card.busy_w,
        idle_w=inputs.power.idle_w_per_gpu,
        fixed_w=card.host_share_w,
        usd_per_kwh=card.usd_per_kwh,
        pue=card.pue,
        target_net_per_day=target,
    )


def economics_for(
    cards: Sequence[CardClass],
    spec_of: Callable[[str], GpuSpec],
    inputs: EconInputs,
    throughput: ThroughputModel,
) -> list[CardEconomics]:
    return [card_economics(card, spec_of(card.gpu_key), inputs, throughput) for card in cards]
