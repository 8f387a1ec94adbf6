"""The conversion plan: which cards to convert, keep mining, rent out, sell, or replace.

The integer program (solved with OR-Tools' SCIP backend; a few dozen variables):

Variables
    x[c,u] ∈ ℤ≥0   cards of existing class c put to use u ∈ {mine, rent, infer, off, sell}
    y[p,u] ∈ ℤ≥0   cards of purchasable model p (at site s(p)) bought for u ∈ {mine, rent, infer}
    h[s]   ∈ ℤ≥0   new hosts bought at site s (each gives `gpus_per_host` slots)

Objective: maximise the present value over `horizon_months` at the cost of capital,
    Σ x[c,u]·v[c,u] + Σ y[p,u]·v[p,u] − host_usd·Σ h[s]
    v[c,u] = A·m[c,u] − one_off[c,u] ;  v[c,sell] = resale[c] ;  v[c,off] = 0
    v[p,u] = A·m[p,u] − price[p] − riser − one_off[p,u]
  where m is the monthly net (revenue − power − staff share for AI uses), A the annuity factor.
  Kept and bought cards are given no residual value at the horizon (a conservative choice).

Constraints
    Σ_u x[c,u] = count[c]                                            every card gets one fate
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
from typing import Literal

from ortools.linear_solver import pywraplp
from pydantic import BaseModel, ConfigDict

from rigshift.econ import formulas as f
from rigshift.econ.cards import CardEconomics, Use
from rigshift.econ.inputs import EconInputs
from rigshift.errors import InfeasiblePlan

Fate = Literal["mine", "rent", "infer", "off", "sell"]
EXISTING_FATES: tuple[Fate, ...] = ("mine", "rent", "infer", "off", "sell")
BUY_USES: tuple[Use, ...] = ("mine", "rent", "infer")
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


def _staff_per_gpu_month(inputs: EconInputs) -> float:
    return inputs.capital.staff_usd_per_month / inputs.capital.staff_gpus


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
    return Allocation(
        card_id=card.id,
        site=card.site,
        gpu_key=card.gpu_key,
        gpu_name=card.gpu_name,
        bought=bought,
        use=fate,
        count=count,
        monthly_revenue_usd=revenue * count,
        monthly_power_usd=power * count,
        monthly_staff_usd=staff * count,
        monthly_net_usd=(revenue - power - staff) * count,
        power_kw=watts * count / 1000.0,
        detail=detail,
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


def solve_plan(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    site_power_budget_kw: Mapping[str, float],
) -> ConversionPlan:
    cap = inputs.capital
    annuity = f.annuity_factor(cap.horizon_months, f.monthly_rate(cap.cost_of_capital_annual))
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - OR-Tools always ships SCIP
        raise InfeasiblePlan("no MIP solver available in OR-Tools")
    infinity = solver.infinity()
    objective = solver.Objective()
    objective.SetMaximization()
    budget = solver.Constraint(-infinity, inputs.constraints.capex_budget_usd, "capex")
    sites = sorted({e.card.site for e in existing} | {p.card.site for p in purchasable})
    slots = {s: solver.Constraint(-infinity, 0.0, f"slots[{s}]") for s in sites}
    power = {
        s: solver.Constraint(-infinity, site_power_budget_kw[s], f"power[{s}]")
        for s in sites
        if s in site_power_budget_kw
    }
    x: dict[tuple[int, Fate], pywraplp.Variable] = {}
    y: dict[tuple[int, Use], pywraplp.Variable] = {}
    hosts = {s: solver.IntVar(0, infinity, f"h[{s}]") for s in sites}
    for s, h in hosts.items():
        objective.SetCoefficient(h, -cap.host_usd)
        budget.SetCoefficient(h, cap.host_usd)
        slots[s].SetCoefficient(h, -cap.gpus_per_host)

    for i, econ in enumerate(existing):
        card = econ.card
        resale = cap.resale_usd.get(card.gpu_key, 0.0)
        every = solver.Constraint(card.count, card.count, f"count[{card.id}]")
        for fate in EXISTING_FATES:
            most = card.count if _available(econ, fate, inputs) else 0
            taken = econ.use(fate)
            limit = taken.max_gpus if taken is not None else None
            if limit is not None:
                most = min(most, limit)  # inference: only the cards the rigs' hosts carry
            var = solver.IntVar(0, most, f"x[{card.id},{fate}]")
            x[(i, fate)] = var
            every.SetCoefficient(var, 1)
            unit = _per_unit(econ, fate, inputs)
            result = econ.use(fate) if fate in ("mine", "rent", "infer") else None
            one_off = result.one_off_usd_per_gpu if result is not None else 0.0
            if fate == "sell":
                objective.SetCoefficient(var, resale)
                budget.SetCoefficient(var, -resale)
                slots[card.site].SetCoefficient(var, -1)
            else:
                objective.SetCoefficient(var, annuity * unit.monthly_net_usd - one_off)
                budget.SetCoefficient(var, one_off)
            if card.site in power:
                power[card.site].SetCoefficient(var, unit.power_kw)

    depths: dict[str, pywraplp.Constraint] = {}
    for j, econ in enumerate(purchasable):
        card = econ.card
        price = cap.buy_usd.get(card.gpu_key)
        if price is None:
            continue
        if card.gpu_key not in depths:  # market depth holds per model, across all sites
            depths[card.gpu_key] = solver.Constraint(0, cap.max_buy_per_model, f"depth[{card.gpu_key}]")
        depth = depths[card.gpu_key]
        for use in BUY_USES:
            var = solver.IntVar(
                0, cap.max_buy_per_model if _available(econ, use, inputs) else 0, f"y[{card.id},{use}]"
            )
            y[(j, use)] = var
            depth.SetCoefficient(var, 1)
            unit = _per_unit(econ, use, inputs)
            result = econ.use(use)
            one_off = price + cap.riser_usd + (result.one_off_usd_per_gpu if result is not None else 0.0)
            objective.SetCoefficient(var, annuity * unit.monthly_net_usd - one_off)
            budget.SetCoefficient(var, one_off)
            slots[card.site].SetCoefficient(var, 1)
            if card.site in power:
                power[card.site].SetCoefficient(var, unit.power_kw)

    params = pywraplp.MPSolverParameters()
    # Solve to proven optimality (the default stops within 0.01 %): the plan must not change with
    # noise, and dearer power must never show a better plan.
    params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 0.0)
    status = solver.Solve(params)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        raise InfeasiblePlan(
            "no conversion plan meets the constraints (capex budget, site power); "
            "raise the budget or the site power limit"
        )
    return _read_solution(existing, purchasable, inputs, x, y, hosts, objective.Value(), site_power_budget_kw)


def _read_solution(
    existing: Sequence[CardEconomics],
    purchasable: Sequence[CardEconomics],
    inputs: EconInputs,
    x: Mapping[tuple[int, Fate], pywraplp.Variable],
    y: Mapping[tuple[int, Use], pywraplp.Variable],
    hosts: Mapping[str, pywraplp.Variable],
    value: float,
    site_power_budget_kw: Mapping[str, float],
) -> ConversionPlan:
    cap = inputs.capital
    before = [_allocation(e, baseline_fate(e), e.card.count, inputs, bought=False) for e in existing]
    after: list[Allocation] = []
    for (i, fate), var in x.items():
        n = round(var.solution_value())
        if n:
            after.append(_allocation(existing[i], fate, n, inputs, bought=False))
    for (j, use), var in y.items():
        n = round(var.solution_value())
        if n:
            after.append(_allocation(purchasable[j], use, n, inputs, bought=True))
    hosts_bought = {s: round(h.solution_value()) for s, h in hosts.items() if round(h.solution_value())}
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
