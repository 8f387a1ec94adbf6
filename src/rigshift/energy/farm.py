"""A fleet as the energy policy sees it: card groups per site, with what each earns and draws.

The figures come from the places that already compute them, so the policy and `rigshift econ`
agree: card classes, mining revenue and host shares from `rigshift.econ` (its prices file or
its dated defaults), tokens/s from the estimator for one model class on one card, and the
throughput and draw at each power cap from `rigshift.estimate.power`.

Which cards are "converted" (serve AI) is the farm decision's (rigshift.decision, docs/decision.md)
when `converted` is given: each card class splits into its converted cards and the rest, which keep
mining. Without it (library callers, the run-time wiring) a card is converted when the model class
fits on one card of its model. The default model class is the prices file's cheapest-to-run one (`8b`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rigshift.catalog.gpus import gpu_catalog
from rigshift.econ.cards import mining_result
from rigshift.econ.classes import card_classes
from rigshift.econ.inputs import EconInputs, ModelClassPrice
from rigshift.econ.prices import load_inputs
from rigshift.econ.throughput import EstimatorThroughput
from rigshift.energy.policy import CardGroup, cap_levels
from rigshift.errors import InputError, Problem
from rigshift.fleet.model import Fleet
from rigshift.suggest import did_you_mean


@dataclass(frozen=True)
class SiteFarm:
    site: str
    groups: tuple[CardGroup, ...]
    pue: float
    cap_kw: float | None
    staff_usd_per_gpu_month: float = (
        0.0  # econ's staff cost per AI GPU (capital.staff_usd_per_month / staff_gpus)
    )

    @property
    def converted_cards(self) -> int:
        return sum(g.count for g in self.groups if g.converted)

    @property
    def cards(self) -> int:
        return sum(g.count for g in self.groups)


@dataclass(frozen=True)
class Farm:
    sites: tuple[SiteFarm, ...]
    model_class: ModelClassPrice
    provenance: tuple[str, ...] = field(default=())

    def site(self, name: str) -> SiteFarm:
        for s in self.sites:
            if s.site == name:
                return s
        raise InputError(
            Problem(
                f"no site {name!r} in the fleet",
                field="site",
                suggestions=did_you_mean(name, [s.site for s in self.sites]),
            )
        )

    def describe(self) -> dict[str, Any]:
        return {
            "model_class": self.model_class.name,
            "model": f"{self.model_class.model} {self.model_class.quant}",
            "sites": [
                {
                    "site": s.site,
                    "cards": s.cards,
                    "converted": s.converted_cards,
                    "pue": s.pue,
                    "cap_kw": s.cap_kw,
                    "groups": [
                        {
                            "group": g.id,
                            "count": g.count,
                            "converted": g.converted,
                            "tokens_per_s_at_tdp": round(g.levels[0].tokens_per_s, 2) if g.levels else 0.0,
                            "mining_usd_per_day": round(g.mining_usd_per_hour * 24, 4),
                        }
                        for g in s.groups
                    ],
                }
                for s in self.sites
            ],
            "provenance": list(self.provenance),
        }


def _split(group: CardGroup, converted: Mapping[str, int] | None) -> list[CardGroup]:
    """The class's converted cards (the decision's) and the rest, still mining."""
    if converted is None:
        return [group]
    n = min(group.count, converted.get(group.id, 0)) if group.converted else 0
    out = []
    if n:
        out.append(replace(group, count=n))
    if group.count - n:
        out.append(replace(group, id=f"{group.id} mining", count=group.count - n, converted=False, levels=()))
    return out


def _site_cap(fleet: Fleet, name: str) -> float | None:
    site = fleet.site(name)
    return site.power_budget_kw if site is not None else None


def build_farm(
    fleet: Fleet,
    prices: Path | None = None,
    *,
    model_class: str = "8b",
    sites: list[str] | None = None,
    inputs: EconInputs | None = None,
    converted: Mapping[str, int] | None = None,
) -> Farm:
    """The farm as the policy sees it; `converted`: card class id -> the decision's converted cards."""
    inputs = inputs or load_inputs(prices)
    classes = {p.name: p for p in inputs.ai.token_prices}
    if model_class not in classes:
        raise InputError(
            Problem(
                f"no model class {model_class!r}",
                field="--model-class",
                suggestions=did_you_mean(model_class, classes),
            )
        )
    mc = classes[model_class]
    known = [s.name for s in fleet.sites]
    for name in sites or []:
        if name not in known:
            raise InputError(
                Problem(
                    f"no site {name!r} in the fleet", field="--site", suggestions=did_you_mean(name, known)
                )
            )
    catalog = gpu_catalog()
    estimator = EstimatorThroughput()
    by_site: dict[str, list[CardGroup]] = {}
    pue: dict[str, float] = {}
    for card in card_classes(fleet, catalog.get, inputs):
        if sites and card.site not in sites:
            continue
        spec = catalog.get(card.gpu_key)
        mining = mining_result(card.model_copy(update={"price_curve": ()}), spec, inputs)
        rate = estimator.rate(spec, 1, card.link, mc, inputs.ai)
        tps = rate.decode_tokens_per_s if rate is not None else 0.0
        group = CardGroup(
            id=card.id,
            gpu=card.gpu_key,
            count=card.count,
            converted=tps > 0,
            tdp_w=spec.tdp_w,
            idle_w=inputs.power.idle_w_per_gpu,
            host_w=card.host_share_w,
            levels=cap_levels(spec, tps) if tps > 0 else (),
            mining_usd_per_hour=mining.revenue_usd_day / 24 if mining.available else 0.0,
            mining_w=mining.power_w if mining.available else 0.0,
        )
        by_site.setdefault(card.site, []).extend(_split(group, converted))
        pue[card.site] = card.pue
    site_farms = tuple(
        SiteFarm(
            site=name,
            groups=tuple(groups),
            pue=pue[name],
            cap_kw=_site_cap(fleet, name),
            staff_usd_per_gpu_month=inputs.capital.staff_usd_per_month / inputs.capital.staff_gpus,
        )
        for name, groups in sorted(by_site.items())
    )
    notes = tuple(
        f"{p.what}: {p.source}"
        + (f" (as of {p.as_of})" if p.as_of else "")
        + (" [default]" if p.is_default else "")
        for p in inputs.provenance
    )
    notes += (
        f"tokens/s: rigshift estimator, {mc.model} {mc.quant}, {inputs.ai.parallel} streams, one card per replica (prior, not measured)",
        "throughput and draw under a power cap: rigshift.estimate.power (P ∝ f³; decode mostly memory-bound)",
    )
    return Farm(sites=site_farms, model_class=mc, provenance=notes)
