"""Per card class: what one card nets a day mining, rented out, and selling tokens.

A card class is one GPU model at one site (sites can have different power prices and budgets).
The three uses are computed side by side with the same power accounting, so they compare:
each card carries its own draw plus its share of the rig's host power, times the site's PUE.
AI uses (rent, infer) also carry their share of the AI staff. Inference is bounded by demand:
a card is credited the utilisation its price class gets when the class's demand is spread over
every card of the fleet that can serve it (`class_utilisation`), never a flat guess; the plan
(plan.py) then decides which cards actually serve, hour by hour against the load profile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ import formulas as f
from rigshift.econ.demand import served_per_day, usd_per_request
from rigshift.econ.inputs import AiInputs, EconInputs, Hashrate, ModelClassPrice
from rigshift.estimate.types import PcieLink
from rigshift.hosts import replicas_on_rig
from rigshift.suggest import normalise

Use = Literal["mine", "rent", "infer", "off"]
Verdict = Literal["mine", "rent", "infer", "off", "sell"]
AI_USES = ("rent", "infer")


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
    # The farm decision's cap (rigshift.decision): cards of the class that are hostable today and
    # meet the service level. None: no cap beyond the host rule.
    viable_gpus: int | None = Field(default=None, ge=0)

    def hosted_gpus(self, gpus_per_replica: int, host_ram_gib: float, model_file_gib: float) -> int:
        """Cards of this class that serve a replica once every rig's host limit is applied: the
        replicas `replicas_on_rig` (the rule assess and plan count with) allows, times their size,
        and no more than the decision's viable cards."""
        hosted = (
            self.count
            if not self.rig_hosts
            else self._host_rule_gpus(gpus_per_replica, host_ram_gib, model_file_gib)
        )
        return hosted if self.viable_gpus is None else min(hosted, self.viable_gpus)

    def _host_rule_gpus(self, gpus_per_replica: int, host_ram_gib: float, model_file_gib: float) -> int:
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
    staff_usd_day: float = 0.0  # the card's share of AI staff (rent, infer); already in net
    model_class: str | None = None  # inference: the class of model served
    # inference: what one card does at 100 % busy, and the share of the day demand keeps it busy
    capacity_requests_per_day: float = 0.0
    utilisation: float | None = None
    requests_per_day: float = 0.0  # served by one card at that utilisation
    gpus_per_replica: int = 1
    hosted_gpus: int | None = None  # cards of the class their rigs' hosts let serve it (None: bought)


class CardEconomics(_Model):
    card: CardClass
    mining: UseResult
    rental: UseResult
    inference: UseResult  # the best model class this card can serve
    inference_options: tuple[UseResult, ...]  # every model class, served or not, and why
    # The plan's verdict for most of the class's cards once the plan is solved; before that, the
    # card's best standalone use.
    best_use: Verdict
    break_even_utilisation: float | None  # inference utilisation that matches the best other use (staff in)

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
    # The low end of the estimate's interval (all streams; prompt processing): what a decision
    # that moves money counts on where the figure rests on priors. None: no interval known.
    decode_tps_low: float | None = None
    prefill_tps_low: float | None = None
    uncalibrated: bool = False  # every figure is a prior: nothing measured on this card


class ThroughputModel(Protocol):
    """The seam to the estimator: None when the model does not fit on `gpus` such cards."""

    def rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None: ...


def _power_cost(card: CardClass, card_w: float) -> float:
    return f.power_cost_per_day(card_w + card.host_share_w, card.usd_per_kwh, card.pue)


def _break_even(revenue: float, card: CardClass, card_w: float, staff_usd_day: float = 0.0) -> float | None:
    """The power price at which the use nets zero, staff share included for AI uses."""
    return f.break_even_power_price(revenue - staff_usd_day, card_w + card.host_share_w, card.pue)


def _in_use(
    use: Use,
    card: CardClass,
    detail: str,
    revenue: float,
    watts: float,
    cost: float,
    staff: float = 0.0,
    **more: Any,
) -> UseResult:
    """A use the card can take up, a day: net and break-even power price follow from its revenue,
    power cost and staff share (0 for mining); `more`: what the use adds."""
    return UseResult(
        use=use,
        available=True,
        detail=detail,
        revenue_usd_day=revenue,
        power_w=watts,
        power_cost_usd_day=cost,
        net_usd_day=revenue - cost - staff,
        break_even_usd_kwh=_break_even(revenue, card, watts, staff),
        staff_usd_day=staff,
        **more,
    )


def staff_usd_per_gpu_day(inputs: EconInputs) -> float:
    return inputs.capital.staff_usd_per_month / inputs.capital.staff_gpus / f.DAYS_PER_MONTH


def _hashrates(spec: GpuSpec, inputs: EconInputs) -> dict[str, tuple[float, float]]:
    """algorithm (normalised) -> (H/s, W): the catalog's Etchash figure, then the table's overrides."""
    rates: dict[str, tuple[float, float]] = {}
    if spec.ethash_mhs:
        # Etchash is Ethash with a longer epoch (ECIP-1099,
        # https://ecips.ethereumclassic.org/ECIPs/ecip-1099): the historic figure still holds.
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
        result = _in_use("mine", card, detail, revenue, watts, cost)
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
    staff = staff_usd_per_gpu_day(inputs)
    detail = f"${rate:.3f}/GPU-h at {ai.rental_utilisation:.0%} occupancy"
    if card.rental_blockers:
        detail += f"; host fix ${card.rental_fix_usd_per_gpu:.0f}/GPU first: " + "; ".join(
            card.rental_blockers
        )
    return _in_use(
        "rent", card, detail, revenue, watts, cost, staff, one_off_usd_per_gpu=card.rental_fix_usd_per_gpu
    )


def _group_sizes(max_group: int) -> list[int]:
    sizes, n = [], 1
    while n <= max_group:
        sizes.append(n)
        n *= 2
    if max_group not in sizes:
        sizes.append(max_group)
    return sizes


def replica_rate(
    card: CardClass,
    spec: GpuSpec,
    model_class: ModelClassPrice,
    inputs: EconInputs,
    throughput: ThroughputModel,
) -> InferenceRate | None:
    """The smallest group of same-model cards in one rig that fits the class, and its speed."""
    for gpus in _group_sizes(card.max_group):
        rate = throughput.rate(spec, gpus, card.link, model_class, inputs.ai)
        if rate is not None:
            if rate.decode_tokens_per_s <= 0 or rate.prefill_tokens_per_s <= 0:
                return None
            return rate
    return None


def capacity_per_gpu_day(rate: InferenceRate, ai: AiInputs) -> float:
    """Requests one card completes in a day kept 100 % busy (a replica on k cards: a k-th each)."""
    rps = f.requests_per_second(
        ai.input_tokens_per_request,
        ai.output_tokens_per_request,
        rate.prefill_tokens_per_s,
        rate.decode_tokens_per_s,
    )
    return rps * f.SECONDS_PER_DAY / rate.gpus


def class_utilisation(capacity_per_day: float, model_class: str, ai: AiInputs) -> float:
    """Share of the day a pool of `capacity_per_day` (at 100 % busy) is busy serving the class's demand.

    Each hour the pool serves the smaller of that hour's demand and its capacity at the ceiling
    (`max_utilisation`); the result is served / capacity, so it never exceeds the ceiling and
    falls as capacity outgrows demand.
    """
    if capacity_per_day <= 0:
        return 0.0
    served = served_per_day(
        ai.demand.requests_per_day(model_class),
        ai.demand.hour_buckets(),
        capacity_per_day / 24.0 * ai.max_utilisation,
    )
    return served / capacity_per_day


def inference_option(
    card: CardClass,
    spec: GpuSpec,
    model_class: ModelClassPrice,
    inputs: EconInputs,
    throughput: ThroughputModel,
    utilisation: float | None = None,
    rate: InferenceRate | None = None,
) -> UseResult:
    """One model class on this card, busy `utilisation` of the day (default: the class's demand
    spread over this class of cards alone)."""
    ai = inputs.ai
    rate = rate or replica_rate(card, spec, model_class, inputs, throughput)
    if rate is None:
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
    capacity = capacity_per_gpu_day(rate, ai)
    # Only the cards whose rig's host carries a replica serve (the host rule assess and plan use,
    # rigshift.hosts); the class's revenue is spread over all its cards.
    hosted = card.hosted_gpus(rate.gpus, rate.host_ram_gib, rate.model_file_gib) if card.count else 0
    hosted_share = hosted / card.count if card.count else 1.0
    host_note = (
        f"; rig hosts carry {hosted:,} of {card.count:,} cards" if card.count and hosted < card.count else ""
    )
    if utilisation is None:
        utilisation = class_utilisation(capacity * max(hosted, 1), model_class.name, ai)
    served = capacity * utilisation * hosted_share  # per card of the class, on average
    revenue = served * usd_per_request(model_class, ai)
    watts = f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, utilisation * hosted_share)
    cost = _power_cost(card, watts)
    staff = staff_usd_per_gpu_day(inputs)
    streams = model_class.parallel or ai.parallel or ai.max_parallel
    context = model_class.context or ai.context
    return _in_use(
        "infer",
        card,
        f"{model_class.name} ({model_class.model} {model_class.quant}) on {rate.gpus} GPU"
        f"{'s' if rate.gpus > 1 else ''} via {rate.runtime}: {rate.decode_tokens_per_s:.1f} tok/s decode "
        f"({streams} streams × {context} tokens), {rate.prefill_tokens_per_s:.0f} tok/s prefill, "
        f"{utilisation:.0%} busy"
        + (" (low end of the prior's interval: nothing measured on this card)" if rate.uncalibrated else "")
        + host_note,
        revenue,
        watts,
        cost,
        staff,
        model_class=model_class.name,
        one_off_usd_per_gpu=inputs.capital.setup_usd_per_gpu,
        capacity_requests_per_day=capacity,
        utilisation=utilisation,
        requests_per_day=served,
        gpus_per_replica=rate.gpus,
        hosted_gpus=hosted if card.count else None,
    )


def card_economics(
    card: CardClass,
    spec: GpuSpec,
    inputs: EconInputs,
    throughput: ThroughputModel,
    utilisation: Mapping[str, float] | None = None,
    rates: Mapping[str, InferenceRate | None] | None = None,
) -> CardEconomics:
    """All uses of one card class; `utilisation` per price class (default: this class alone
    serving the class's whole demand), `rates` the replica speeds when already asked."""
    mining = mining_result(card, spec, inputs)
    rental = rental_result(card, inputs)
    options = tuple(
        inference_option(
            card,
            spec,
            mc,
            inputs,
            throughput,
            utilisation=None if utilisation is None else utilisation.get(mc.name),
            rate=None if rates is None else rates.get(mc.name),
        )
        for mc in inputs.ai.token_prices
    )
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
    """The busy share at which serving tokens nets as much as the best other use, staff included."""
    if not inference.available:
        return None
    price = inputs.ai.price(inference.model_class or "")
    if price is None:
        return None
    revenue_at_full = inference.capacity_requests_per_day * usd_per_request(price, inputs.ai)
    # Serving must also pay its staff share: it is the bar the utilisation has to clear.
    target = max([0.0] + [r.net_usd_day for r in (mining, rental) if r.available]) + inference.staff_usd_day
    return f.break_even_utilisation(
        revenue_at_full,
        busy_w=card.busy_w,
        idle_w=inputs.power.idle_w_per_gpu,
        fixed_w=card.host_share_w,
        usd_per_kwh=card.usd_per_kwh,
        pue=card.pue,
        target_net_per_day=target,
    )


def replica_rates(
    cards: Sequence[CardClass],
    spec_of: Callable[[str], GpuSpec],
    inputs: EconInputs,
    throughput: ThroughputModel,
) -> dict[str, dict[str, InferenceRate | None]]:
    """card class id -> price class -> the replica that serves it (None: none fits)."""
    return {
        card.id: {
            mc.name: replica_rate(card, spec_of(card.gpu_key), mc, inputs, throughput)
            for mc in inputs.ai.token_prices
        }
        for card in {c.id: c for c in cards}.values()
    }


def economics_for(
    cards: Sequence[CardClass],
    spec_of: Callable[[str], GpuSpec],
    inputs: EconInputs,
    throughput: ThroughputModel,
    pool: Sequence[CardClass] = (),
    rates: Mapping[str, Mapping[str, InferenceRate | None]] | None = None,
) -> list[CardEconomics]:
    """Every card class's economics, inference credited at the utilisation its price class gets
    when the class's demand is spread over every card (of `pool`, default `cards`) able to serve it.

    `rates` (from `replica_rates`) spares asking again: speeds do not move with prices or demand.
    """
    pool = pool or cards
    rates = rates or replica_rates([*pool, *cards], spec_of, inputs, throughput)
    capacity: dict[str, float] = defaultdict(float)
    for card in pool:
        for name, rate in rates[card.id].items():
            if rate is not None:
                hosted = (
                    card.hosted_gpus(rate.gpus, rate.host_ram_gib, rate.model_file_gib) if card.count else 0
                )
                capacity[name] += hosted * capacity_per_gpu_day(rate, inputs.ai)
    out = []
    for card in cards:
        utilisation = {}
        for name, rate in rates[card.id].items():
            if rate is not None:
                # A card the pool lacks (one to buy) is judged as if it joined the pool.
                own = capacity_per_gpu_day(rate, inputs.ai) * (0 if card.count else 1)
                utilisation[name] = class_utilisation(capacity[name] + own, name, inputs.ai)
        out.append(
            card_economics(card, spec_of(card.gpu_key), inputs, throughput, utilisation, rates[card.id])
        )
    return out
