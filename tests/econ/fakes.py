"""Fakes at the economics' seams: GPU specs, a throughput table, a GPU-name resolver, inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from rigshift.catalog.gpu_spec import GpuSpec
from rigshift.econ.cards import CardClass, InferenceRate
from rigshift.econ.inputs import (
    AiInputs,
    CapitalInputs,
    ClassDemand,
    Coin,
    Constraints,
    DemandInputs,
    EconInputs,
    Hashrate,
    MiningInputs,
    ModelClassPrice,
    PowerInputs,
)
from rigshift.errors import UnknownNameError
from rigshift.estimate.types import PcieLink
from rigshift.suggest import did_you_mean


def spec(key: str, vram: float = 12.0, tdp: float = 170.0, fp32: float = 12.7, **kw: object) -> GpuSpec:
    return GpuSpec(
        key=key,
        name=kw.pop("name", key.upper()),  # type: ignore[arg-type]
        vendor="nvidia",
        architecture="Ampere",
        vram_gib=vram,
        mem_bandwidth_gbs=360.0,
        fp32_tflops=fp32,
        fp16_tflops=fp32,
        tdp_w=tdp,
        pcie_gen=4,
        pcie_lanes=16,
        launch_year=2021,
        **kw,  # type: ignore[arg-type]
    )


SPECS = {
    "card-a": spec("card-a", vram=12, tdp=170, fp32=12.7),
    "card-small": spec("card-small", vram=8, tdp=185, fp32=6.2),
    "card-big": spec("card-big", vram=24, tdp=350, fp32=35.6),
}


def spec_of(key: str) -> GpuSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise UnknownNameError(f"unknown GPU {key!r}", suggestions=did_you_mean(key, SPECS)) from None


def resolve(name: str) -> str:
    return spec_of(name).key


@dataclass
class TableThroughput:
    """(gpu key, model class) -> (decode tok/s, prefill tok/s, gpus); anything else does not fit."""

    table: dict[tuple[str, str], tuple[float, float, int]] = field(default_factory=dict)
    calls: int = 0

    def rate(
        self, spec: GpuSpec, gpus: int, link: PcieLink | None, model_class: ModelClassPrice, ai: AiInputs
    ) -> InferenceRate | None:
        self.calls += 1
        found = self.table.get((spec.key, model_class.name))
        if found is None or gpus < found[2]:
            return None
        return InferenceRate(
            decode_tokens_per_s=found[0], prefill_tokens_per_s=found[1], gpus=found[2], runtime="fake"
        )


ETC = Coin(
    tag="ETC", algorithm="Etchash", block_time_s=13.0, block_reward=2.048, nethash_hs=1.8e14, price_usd=16.0
)
CLASS_8B = ModelClassPrice(name="8b", model="llama-3.1-8b", usd_per_m_input=0.15, usd_per_m_output=0.22)


# 48,000 requests a day of the 8B class, spread evenly over the day (a flat load profile).
WORKED_DEMAND = DemandInputs(
    classes=(ClassDemand(name="8b", requests_per_day=48_000),),
    load_profile=(1.0,) * 24,
    source="worked example",
)


def worked_inputs(budget: float = 100.0, **capital: object) -> EconInputs:
    """The inputs of docs/economics.md's worked example."""
    return EconInputs(
        power=PowerInputs(usd_per_kwh=0.10, pue=1.0, host_w_per_rig=60.0, idle_w_per_gpu=15.0),
        mining=MiningInputs(
            coins=(ETC,),
            pool_fee=0.01,
            hashrates={"card-a": (Hashrate(algorithm="Etchash", hashrate_hs=49e6, power_w=115.0),)},
        ),
        ai=AiInputs(
            rent_usd_per_hour={"card-a": 0.05},
            rental_utilisation=0.5,
            marketplace_fee=0.2,
            token_prices=(CLASS_8B,),
            max_utilisation=0.7,
            input_tokens_per_request=1000,
            output_tokens_per_request=250,
            demand=WORKED_DEMAND,
        ),
        capital=CapitalInputs(
            resale_usd={"card-a": 190.0},
            setup_usd_per_gpu=15.0,
            staff_usd_per_month=4000.0,
            staff_gpus=200,
            cost_of_capital_annual=0.12,
            horizon_months=24,
            **capital,  # type: ignore[arg-type]
        ),
        constraints=Constraints(capex_budget_usd=budget),
    )


def worked_card(**update: object) -> CardClass:
    card = CardClass(
        id="site/card-a",
        site="site",
        gpu_key="card-a",
        gpu_name="Card A",
        count=6,
        vram_gib=12.0,
        busy_w=170.0,
        host_share_w=10.0,  # a 60 W host shared by 6 cards
        usd_per_kwh=0.10,
        pue=1.0,
        link_gen=1,
        link_lanes=1,
        max_group=6,
    )
    return card.model_copy(update=update)


WORKED_THROUGHPUT = {("card-a", "8b"): (200.0, 1000.0, 1)}
