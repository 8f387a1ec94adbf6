"""The conversion plan: which cards to convert, keep mining, rent out, sell, or replace.

The integer program (solved with HiGHS through rigshift.mip, to proven optimality; a few dozen
variables):

Variables
    x[c,u] ∈ ℤ≥0   cards of existing class c put to use u ∈ {mine, rent, off, sell}
    n[c,m] ∈ ℤ≥0   cards of class c serving price class m (inference)
    y[p,u] ∈ ℤ≥0   cards of purchasable model p (at site s(p)) bought for u ∈ {mine, rent}
    n[p,m] ∈ ℤ≥0   cards of purchasable model p bought to serve m
    q[c,m,k] ≥ 0   requests an hour that class c's cards serve of m in load level k
    h[s]   ∈ ℤ≥0   new hosts bought at site s (each gives `gpus_per_host` slots)

Objective: maximise the present value over `horizon_months` at the cost of capital,
    Σ x[c,u]·v[c,u] + Σ n[c,m]·w[c,m] + Σ q[c,m,k]·A·D·hours[k]·(r[m] − e[c,m])
      + Σ y[p,u]·v[p,u] + Σ n[p,m]·(w[p,m] − price[p] − riser) − host_usd·Σ h[s]
    v[c,u] = A·m[c,u] − one_off[c,u] ;  v[c,sell] = resale[c] ;  v[c,off] = 0
    w[c,m] = −A·D·(idle power[c] + staff) − setup         a card kept on for m, busy or not
    v[p,u] = A·m[p,u] − price[p] − riser − one_off[p,u]
  where m is the monthly net (revenue − power − staff share for AI uses), A the annuity factor,
  D days a month, r[m] $ per request, e[c,m] the busy energy of one request on c.
  Kept and bought cards are given no residual value at the horizon (a conservative choice).

Constraints
    Σ_u x[c,u] + Σ_m n[c,m] = count[c]                               every card gets one fate
    q[c,m,k] ≤ n[c,m]·cap[c,m]/24·max_utilisation                     a card serves what it can
    Σ_c q[c,m,k] ≤ demand[m]·share[k]                                 never more than the demand
    x[c,u] = 0, y[p,u] = 0 where the use is unavailable (no fit, no market, no hashrate)
    Σ_p Σ_u y[p,u] ≤ Σ_{c at s} x[c,sell] + gpus_per_host·h[s]        bought cards need slots (per site)
    Σ one_off·x + Σ (price + riser + one_off)·y + host_usd·Σh − Σ resale·x[·,sell] ≤ capex budget
    Σ W[c,u]·x + Σ W[p,u]·y ≤ site power budget (kW at the meter)    per site that has one
    Σ_u y[p,u] ≤ max_buy_per_model

The baseline ("before") is what a mining farm does today: every card mines its best coin, or is
counted as off when no coin in the data suits it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rigshift.econ import formulas as f
from rigshift.econ.cards import CardClass, CardEconomics, UseResult, staff_usd_per_gpu_day
from rigshift.econ.demand import usd_per_request
from rigshift.econ.inputs import EconInputs
from rigshift.errors import InfeasiblePlan
from rigshift.mip import INF, MipModel, Row, Var

Fate = Literal["mine", "rent", "infer", "off", "sell"]
EXISTING_FATES: tuple[Fate, ...] = ("mine", "rent", "off", "sell")  # infer: per price class
BUY_USES: tuple[Fate, ...] = ("mine", "rent")
AI_USES = ("rent", "infer")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Allocation(_Model):
    """`count` cards of one class in one use, and what they make a month together."""

    card_id: str
    site: str
    gpu_key: str
    gpu_name: str
    bought: bool
    use: Fate
    count: int
    monthly_revenue_usd: float
    monthly_power_usd: float
    monthly_staff_usd: float
    monthly_net_usd: float
    power_kw: float  # at the meter (PUE included)
    detail: str
    model_class: str | None = None  # infer: the price class served
    requests_per_day: float = 0.0  # infer: requests served a day
    tokens_per_day: float = 0.0  # infer: prompt + output tokens served a day
    utilisation: float | None = None  # infer: share of the day the cards are busy


StepAction = Literal[
    "keep mining", "convert to inference", "rent out", "switch off", "sell", "buy", "consolidate"
]
ACTION_FOR_USE: dict[str, StepAction] = {
    "infer": "convert to inference",
    "rent": "rent out",
    "off": "switch off",
    "mine": "keep mining",
}


class PlanStep(_Model):
    action: StepAction
    site: str
    description: str
    gpus: int
    capex_usd: float  # spent minus sale proceeds; negative when the step raises cash
    monthly_gain_usd: float  # monthly net after the step minus before it
    payback_months: float | None  # 0: pays at once; None: never


class ClassService(_Model):
    """One price class: the demand the plan assumes and what the plan serves of it."""

    model_class: str
    requests_per_day: float  # demand
    tokens_per_day: float  # demand: prompt + output tokens
    served_requests_per_day: float
    served_tokens_per_day: float
    gpus: int  # cards serving it after the plan
    utilisation: float | None  # served / what those cards could do kept busy all day
    usd_per_request: float


class ConversionPlan(_Model):
    before: tuple[Allocation, ...]
    after: tuple[Allocation, ...]
    steps: tuple[PlanStep, ...]
    hosts_bought: dict[str, int]
    spend_usd: float
    sale_proceeds_usd: float
    net_capex_usd: float
    capex_budget_usd: float
    monthly_revenue_before_usd: float
    monthly_revenue_after_usd: float
    monthly_net_before_usd: float
    monthly_net_after_usd: float
    power_kw_before: dict[str, float]
    power_kw_after: dict[str, float]
    site_power_budget_kw: dict[str, float]
    present_value_usd: float  # the objective: value over the horizon, net of what the plan spends
    service: tuple[ClassService, ...] = ()  # per price class: demand and what the plan serves


def _staff_per_gpu_month(inputs: EconInputs) -> float:
    return inputs.capital.staff_usd_per_month / inputs.capital.staff_gpus


def _option(econ: CardEconomics, model_class: str) -> UseResult | None:
    return next((o for o in econ.inference_options if o.model_class == model_class and o.available), None)


def _idle_cost_day(econ: CardEconomics, inputs: EconInputs) -> float:
    """Power of a card kept on for inference while it waits: idle draw plus host share."""
    card = econ.card
    return f.power_cost_per_day(inputs.power.idle_w_per_gpu + card.host_share_w, card.usd_per_kwh, card.pue)


def _busy_cost_per_request(econ: CardEconomics, option: UseResult, inputs: EconInputs) -> float:
    """Power one request adds over idling: (busy − idle) W for the card-seconds it takes."""
    card = econ.card
    seconds = f.SECONDS_PER_DAY / option.capacity_requests_per_day
    extra_w = max(0.0, card.busy_w - inputs.power.idle_w_per_gpu)
    return extra_w * seconds / 3600.0 / 1000.0 * card.pue * card.usd_per_kwh


def _serving(
    econ: CardEconomics,
    option: UseResult,
    count: int,
    served_per_day: float,
    inputs: EconInputs,
    bought: bool,
) -> Allocation:
    """`count` cards of a class serving one price class, `served_per_day` requests between them."""
    card = econ.card
    month = f.DAYS_PER_MONTH
    price = inputs.ai.price(option.model_class or "")
    per_request = usd_per_request(price, inputs.ai) if price is not None else 0.0
    capacity = option.capacity_requests_per_day * count
    utilisation = served_per_day / capacity if capacity > 0 else 0.0
    power_day = count * _idle_cost_day(econ, inputs) + served_per_day * _busy_cost_per_request(
        econ, option, inputs
    )
    revenue_day = served_per_day * per_request
    staff = _staff_per_gpu_month(inputs) * count
    watts = (
        f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, utilisation) + card.host_share_w
    ) * card.pue
    detail = (
        option.detail.rsplit(", ", 1)[0] + f", {utilisation:.0%} busy, {served_per_day:,.0f} requests/day"
    )
    return _card_allocation(
        card,
        "infer",
        count,
        bought,
        watts,
        monthly_revenue_usd=revenue_day * month,
        monthly_power_usd=power_day * month,
        monthly_staff_usd=staff,
        monthly_net_usd=(revenue_day - power_day) * month - staff,
        detail=detail,
        model_class=option.model_class,
        requests_per_day=served_per_day,
        tokens_per_day=served_per_day * inputs.ai.tokens_per_request,
        utilisation=utilisation,
    )


def _allocation(econ: CardEconomics, fate: Fate, count: int, inputs: EconInputs, bought: bool) -> Allocation:
    card = econ.card
    result = econ.use(fate) if fate in ("mine", "rent", "infer") else None
    month = f.DAYS_PER_MONTH
    if result is None or not result.available:
        revenue = power = 0.0
        watts = 0.0
        detail = "sold" if fate == "sell" else "switched off"
    else:
        revenue, power = result.revenue_usd_day * month, result.power_cost_usd_day * month
        watts = (result.power_w + card.host_share_w) * card.pue
        detail = result.detail
    staff = _staff_per_gpu_month(inputs) if fate in AI_USES else 0.0
    return _card_allocation(
        card,
        fate,
        count,
        bought,
        watts,
        monthly_revenue_usd=revenue * count,
        monthly_power_usd=power * count,
        monthly_staff_usd=staff * count,
        monthly_net_usd=(revenue - power - staff) * count,
        detail=detail,
    )


def _card_allocation(
    card: CardClass, use: Fate, count: int, bought: bool, watts: float, **figures: Any
) -> Allocation:
    """`count` cards of `card` put to `use`, each drawing `watts` at the wall; `figures`: the money
    (monthly, for all `count`) and what the use adds (an inference allocation: its traffic)."""
    return Allocation(
        card_id=card.id,
        site=card.site,
        gpu_key=card.gpu_key,
        gpu_name=card.gpu_name,
        bought=bought,
        use=use,
        count=count,
        power_kw=watts * count / 1000.0,
        **figures,
    )


def baseline_fate(econ: CardEconomics) -> Fate:
    return "mine" if econ.mining.available else "off"


def _per_unit(econ: CardEconomics, fate: Fate, inputs: EconInputs) -> Allocation:
    return _allocation(econ, fate, 1, inputs, bought=econ.card.count == 0)


def _available(econ: CardEconomics, fate: Fate, inputs: EconInputs) -> bool:
    if fate == "off":
        return True
    if fate == "sell":
        # No resale price known: the plan cannot count on a sale, so it may only switch the card off.
        return econ.card.gpu_key in inputs.capital.resale_usd
    result = econ.use(fate)
    return result is not None and result.available


Served = dict[tuple[int, str], list[tuple[Var, float]]]  # (card, class) -> [(q, hours)]


def solve_plan(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    site_power_budget_kw: Mapping[str, float],
) -> ConversionPlan:
    cap = inputs.capital
    ai = inputs.ai
    annuity = f.annuity_factor(cap.horizon_months, f.monthly_rate(cap.cost_of_capital_annual))
    month = f.DAYS_PER_MONTH
    solver = MipModel()
    infinity = INF
    budget = solver.row(-infinity, inputs.constraints.capex_budget_usd, "capex")
    sites = sorted({e.card.site for e in existing} | {p.card.site for p in purchasable})
    slots = {s: solver.row(-infinity, 0.0, f"slots[{s}]") for s in sites}
    power = {
        s: solver.row(-infinity, site_power_budget_kw[s], f"power[{s}]")
        for s in sites
        if s in site_power_budget_kw
    }
    buckets = ai.demand.hour_buckets()
    demand = {
        (p.name, k): solver.row(
            -infinity, ai.demand.requests_per_day(p.name) * share, f"demand[{p.name},{k}]"
        )
        for p in ai.token_prices
        for k, (share, _) in enumerate(buckets)
    }
    x: dict[tuple[int, Fate], Var] = {}
    y: dict[tuple[int, Fate], Var] = {}
    n_own: dict[tuple[int, str], Var] = {}
    n_buy: dict[tuple[int, str], Var] = {}
    q_own: Served = defaultdict(list)
    q_buy: Served = defaultdict(list)
    hosts = {s: solver.int_var(0, infinity, f"h[{s}]") for s in sites}
    for s, h in hosts.items():
        solver.set_cost(h, -cap.host_usd)
        budget.set(h, cap.host_usd)
        slots[s].set(h, -cap.gpus_per_host)
    staff_day = staff_usd_per_gpu_day(inputs)

    def serving_vars(
        econ: CardEconomics, tag: str, upper: int, extra_one_off: float, served: Served, key: int
    ) -> dict[str, Var]:
        """n (cards on each price class) and q (requests an hour per load level) for one card class."""
        out: dict[str, Var] = {}
        card = econ.card
        for price in ai.token_prices:
            option = _option(econ, price.name)
            if option is None or option.capacity_requests_per_day <= 0:
                continue
            per_hour = option.capacity_requests_per_day / 24.0 * ai.max_utilisation
            margin = usd_per_request(price, ai) - _busy_cost_per_request(econ, option, inputs)
            one_off = option.one_off_usd_per_gpu + extra_one_off
            fixed = annuity * month * (_idle_cost_day(econ, inputs) + staff_day) + one_off
            if annuity * month * 24.0 * per_hour * margin <= fixed:
                # Even busy to the ceiling every hour a card would not pay its idle power, staff
                # and setup: the optimum never serves this class on it, so leave it out (exact).
                continue
            # Only the cards whose rig's host carries a replica can serve (rigshift.hosts).
            limit = upper if option.hosted_gpus is None else min(upper, option.hosted_gpus)
            n = solver.int_var(0, limit, f"n[{tag},{price.name}]")
            out[price.name] = n
            solver.set_cost(n, -fixed)
            budget.set(n, one_off)
            if card.site in power:
                ceiling_w = f.duty_watts(card.busy_w, inputs.power.idle_w_per_gpu, ai.max_utilisation)
                power[card.site].set(n, (ceiling_w + card.host_share_w) * card.pue / 1000.0)
            for k, (_, hours) in enumerate(buckets):
                q = solver.num_var(0, infinity, f"q[{tag},{price.name},{k}]")
                solver.set_cost(q, annuity * month * hours * margin)
                link = solver.row(-infinity, 0.0, f"cap[{tag},{price.name},{k}]")
                link.set(q, 1)
                link.set(n, -per_hour)
                demand[(price.name, k)].set(q, 1)
                served[(key, price.name)].append((q, hours))
        return out

    def use_var(econ: CardEconomics, use: Fate, upper: int, name: str, one_off: float, count: Row) -> Var:
        """Cards of `econ`'s class put to `use` (counted in `count`): their value over the horizon
        less the one-off cost, which the capex budget pays; their draw at the site."""
        var = solver.int_var(0, upper if _available(econ, use, inputs) else 0, name)
        count.set(var, 1)
        unit = _per_unit(econ, use, inputs)
        solver.set_cost(var, annuity * unit.monthly_net_usd - one_off)
        budget.set(var, one_off)
        if econ.card.site in power:
            power[econ.card.site].set(var, unit.power_kw)
        return var

    for i, econ in enumerate(existing):
        card = econ.card
        resale = cap.resale_usd.get(card.gpu_key, 0.0)
        every = solver.row(card.count, card.count, f"count[{card.id}]")
        for fate in EXISTING_FATES:
            result = econ.use(fate) if fate in ("mine", "rent") else None
            one_off = result.one_off_usd_per_gpu if result is not None else 0.0
            var = x[(i, fate)] = use_var(econ, fate, card.count, f"x[{card.id},{fate}]", one_off, every)
            if fate == "sell":  # no running value: the resale price, which also funds the capex
                solver.set_cost(var, resale)
                budget.set(var, -resale)
                slots[card.site].set(var, -1)
        for name, var in serving_vars(econ, card.id, card.count, 0.0, q_own, i).items():
            n_own[(i, name)] = var
            every.set(var, 1)

    depths: dict[str, Row] = {}
    for j, econ in enumerate(purchasable):
        card = econ.card
        price = cap.buy_usd.get(card.gpu_key)
        if price is None:
            continue
        if card.gpu_key not in depths:  # market depth holds per model, across all sites
            depths[card.gpu_key] = solver.row(0, cap.max_buy_per_model, f"depth[{card.gpu_key}]")
        depth = depths[card.gpu_key]
        for use in BUY_USES:
            result = econ.use(use)
            one_off = price + cap.riser_usd + (result.one_off_usd_per_gpu if result is not None else 0.0)
            var = y[(j, use)] = use_var(
                econ, use, cap.max_buy_per_model, f"y[{card.id},{use}]", one_off, depth
            )
            slots[card.site].set(var, 1)
        for name, var in serving_vars(
            econ, card.id, cap.max_buy_per_model, price + cap.riser_usd, q_buy, j
        ).items():
            n_buy[(j, name)] = var
            depth.set(var, 1)
            slots[card.site].set(var, 1)

    # Solve to proven optimality (a solver's default stops within 0.01 %): the plan must not change
    # with noise, and dearer power must never show a better plan.
    if not solver.solve(maximise=True, rel_gap=0.0):
        raise InfeasiblePlan(
            "no conversion plan meets the constraints (capex budget, site power); "
            "raise the budget or the site power limit"
        )
    after: list[Allocation] = []
    for (i, fate), var in x.items():
        count = round(var.value)
        if count:
            after.append(_allocation(existing[i], fate, count, inputs, bought=False))
    for (j, use), var in y.items():
        count = round(var.value)
        if count:
            after.append(_allocation(purchasable[j], use, count, inputs, bought=True))
    for group, n_vars, served, bought in (
        (existing, n_own, q_own, False),
        (purchasable, n_buy, q_buy, True),
    ):
        for (i, name), var in n_vars.items():
            count = round(var.value)
            if count:
                per_day = sum(q.value * hours for q, hours in served[(i, name)])
                option = _option(group[i], name)
                assert option is not None
                after.append(_serving(group[i], option, count, per_day, inputs, bought))
    return _read_solution(
        existing, purchasable, inputs, after, hosts, solver.objective_value, site_power_budget_kw
    )


def _service(inputs: EconInputs, after: Sequence[Allocation]) -> tuple[ClassService, ...]:
    ai = inputs.ai
    out = []
    for price in ai.token_prices:
        serving = [a for a in after if a.use == "infer" and a.model_class == price.name]
        served = sum(a.requests_per_day for a in serving)
        gpus = sum(a.count for a in serving)
        capacity = sum(a.requests_per_day / a.utilisation for a in serving if a.utilisation)
        wanted = ai.demand.requests_per_day(price.name)
        out.append(
            ClassService(
                model_class=price.name,
                requests_per_day=wanted,
                tokens_per_day=wanted * ai.tokens_per_request,
                served_requests_per_day=served,
                served_tokens_per_day=served * ai.tokens_per_request,
                gpus=gpus,
                utilisation=served / capacity if capacity > 0 else None,
                usd_per_request=usd_per_request(price, ai),
            )
        )
    return tuple(out)


def _read_solution(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    after: list[Allocation],
    hosts: Mapping[str, Var],
    value: float,
    site_power_budget_kw: Mapping[str, float],
) -> ConversionPlan:
    cap = inputs.capital
    before = [_allocation(e, baseline_fate(e), e.card.count, inputs, bought=False) for e in existing]
    hosts_bought = {s: round(h.value) for s, h in hosts.items() if round(h.value)}
    steps = _steps(existing, purchasable, inputs, after, hosts_bought)
    proceeds = sum(a.count * cap.resale_usd.get(a.gpu_key, 0.0) for a in after if a.use == "sell")
    spend = _spend(existing, purchasable, inputs, after, hosts_bought)

    def kw(allocs: Sequence[Allocation]) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for a in allocs:
            out[a.site] += a.power_kw
        return dict(out)

    return ConversionPlan(
        before=tuple(before),
        after=tuple(after),
        steps=tuple(steps),
        hosts_bought=hosts_bought,
        spend_usd=spend,
        sale_proceeds_usd=proceeds,
        net_capex_usd=spend - proceeds,
        capex_budget_usd=inputs.constraints.capex_budget_usd,
        monthly_revenue_before_usd=sum(a.monthly_revenue_usd for a in before),
        monthly_revenue_after_usd=sum(a.monthly_revenue_usd for a in after),
        monthly_net_before_usd=sum(a.monthly_net_usd for a in before),
        monthly_net_after_usd=sum(a.monthly_net_usd for a in after),
        power_kw_before=kw(before),
        power_kw_after=kw(after),
        site_power_budget_kw=dict(site_power_budget_kw),
        present_value_usd=value,
        service=_service(inputs, after),
    )


def _one_off(econ: CardEconomics, fate: Fate, inputs: EconInputs) -> float:
    """What one card costs up front in this fate (purchase price included for bought cards)."""
    result = econ.use(fate) if fate in ("mine", "rent", "infer") else None
    one_off = result.one_off_usd_per_gpu if result is not None and result.available else 0.0
    if econ.card.count == 0:
        one_off += inputs.capital.buy_usd.get(econ.card.gpu_key, 0.0) + inputs.capital.riser_usd
    return one_off


def _spend(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    after: Sequence[Allocation],
    hosts_bought: Mapping[str, int],
) -> float:
    by_id = {e.card.id: e for e in (*existing, *purchasable)}
    spend = sum(a.count * _one_off(by_id[a.card_id], a.use, inputs) for a in after if a.use != "sell")
    return spend + inputs.capital.host_usd * sum(hosts_bought.values())


def _steps(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    after: Sequence[Allocation],
    hosts_bought: Mapping[str, int],
) -> list[PlanStep]:
    rate = inputs.capital.cost_of_capital_annual
    by_id = {e.card.id: e for e in (*existing, *purchasable)}
    base_unit = {e.card.id: _per_unit(e, baseline_fate(e), inputs) for e in existing}
    steps: list[PlanStep] = []
    sells: dict[str, list[Allocation]] = defaultdict(list)
    buys: dict[str, list[Allocation]] = defaultdict(list)
    for a in after:
        if a.bought:
            buys[a.site].append(a)
            continue
        base = base_unit[a.card_id]
        gain = a.monthly_net_usd - a.count * base.monthly_net_usd
        if a.use == "sell":
            sells[a.site].append(a)
            continue
        if a.use == base.use:
            keep: StepAction = "keep mining" if a.use == "mine" else "switch off"
            steps.append(
                PlanStep(
                    action=keep,
                    site=a.site,
                    description=f"keep {a.count} × {a.gpu_name} "
                    f"{'mining' if a.use == 'mine' else 'off'}: {a.detail}",
                    gpus=a.count,
                    capex_usd=0.0,
                    monthly_gain_usd=0.0,
                    payback_months=0.0,
                )
            )
            continue
        action = ACTION_FOR_USE[a.use]
        capex = a.count * _one_off(by_id[a.card_id], a.use, inputs)
        steps.append(
            PlanStep(
                action=action,
                site=a.site,
                description=f"{action} {a.count} × {a.gpu_name}: {a.detail}",
                gpus=a.count,
                capex_usd=capex,
                monthly_gain_usd=gain,
                payback_months=f.payback_months(capex, gain, rate),
            )
        )
    for site in sorted(set(sells) | set(buys)):
        sold, bought = sells.get(site, []), buys.get(site, [])
        proceeds = sum(a.count * inputs.capital.resale_usd.get(a.gpu_key, 0.0) for a in sold)
        lost = sum(a.count * base_unit[a.card_id].monthly_net_usd for a in sold)
        n_hosts = hosts_bought.get(site, 0)
        spend = sum(a.count * _one_off(by_id[a.card_id], a.use, inputs) for a in bought)
        spend += n_hosts * inputs.capital.host_usd
        earned = sum(a.monthly_net_usd for a in bought)
        sell_text = ", ".join(f"{a.count} × {a.gpu_name}" for a in sold)
        buy_text = ", ".join(f"{a.count} × {a.gpu_name} to {_verb(a.use)}" for a in bought)
        if n_hosts:
            buy_text += f" (+{n_hosts} host{'s' if n_hosts > 1 else ''})"
        step: StepAction
        if sold and bought:
            step, text, gpus = "consolidate", f"sell {sell_text} (${proceeds:,.0f}); buy {buy_text}", 0
            gpus = sum(a.count for a in sold) + sum(a.count for a in bought)
        elif sold:
            step, text, gpus = "sell", f"sell {sell_text} (${proceeds:,.0f})", sum(a.count for a in sold)
        else:
            step, text, gpus = "buy", f"buy {buy_text}", sum(a.count for a in bought)
        capex, gain = spend - proceeds, earned - lost
        steps.append(
            PlanStep(
                action=step,
                site=site,
                description=f"{site}: {text}",
                gpus=gpus,
                capex_usd=capex,
                monthly_gain_usd=gain,
                payback_months=f.payback_months(capex, gain, rate),
            )
        )
    order = {"consolidate": 0, "buy": 1, "convert to inference": 2, "rent out": 3, "sell": 4, "switch off": 5}
    return sorted(steps, key=lambda s: (order.get(s.action, 9), s.site, s.description))


def _verb(use: str) -> str:
    return {"infer": "serve tokens", "rent": "rent out", "mine": "mine"}.get(use, use)
