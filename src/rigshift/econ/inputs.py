"""Every money and market assumption the economics reads, as plain pydantic models.

These are the *parsed* inputs: file formats (ERCOT CSVs, WhatToMine JSON, the prices YAML) are
read by `rigshift.econ.prices`, which builds an `EconInputs`; the core never touches a file.
Tables keyed by GPU are keyed by catalog key (`GpuSpec.key`). Money is US dollars as floats,
rounded only for display.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provenance(_Model):
    """Where one group of figures came from, so the output can say which defaults it used."""

    what: str  # "coin data", "market rent", ...
    source: str  # file path, or the citation of a shipped default
    as_of: str | None = None  # date of the figures
    is_default: bool = False


class PriceSeriesSummary(_Model):
    """What a power price series reduces to: flat loads pay its time-weighted mean; a load that
    can stop (mining) reads the duration curve and runs only in the hours that pay."""

    source: str
    points: int
    hours: float
    mean_usd_kwh: float
    min_usd_kwh: float
    max_usd_kwh: float
    first: str
    last: str
    settlement_point: str | None = None
    # (price $/kWh, share of hours), cheapest first: the series sorted into equal-count buckets.
    duration_curve: tuple[tuple[float, float], ...] = ()


class PowerInputs(_Model):
    usd_per_kwh: float  # may be < 0 as a series mean (ERCOT has negative hours); applied to every site that sets no price of its own
    series: PriceSeriesSummary | None = None  # set when usd_per_kwh is the mean of a series
    override_sites: bool = False  # True: usd_per_kwh wins over prices written in the fleet file
    pue: float | None = Field(default=None, ge=1.0)  # None: each site's own PUE from the fleet
    host_w_per_rig: float = Field(default=60.0, ge=0)  # CPU, board, fans, PSU loss: shared by the rig's GPUs
    idle_w_per_gpu: float = Field(default=15.0, ge=0)  # a GPU waiting for requests


class Coin(_Model):
    """One mineable coin, reduced to what revenue needs."""

    tag: str  # "ETC"
    algorithm: str  # "Etchash"
    block_time_s: float = Field(gt=0)
    block_reward: float = Field(ge=0)  # coins per block
    nethash_hs: float = Field(gt=0)  # network hashrate, H/s
    price_usd: float = Field(ge=0)


class Hashrate(_Model):
    """What one card does on one algorithm, tuned: H/s and watts at the wall."""

    algorithm: str
    hashrate_hs: float = Field(gt=0)
    power_w: float = Field(gt=0)


class MiningInputs(_Model):
    coins: tuple[Coin, ...] = ()
    pool_fee: float = Field(default=0.01, ge=0, lt=1)
    # Per card key, overrides and additions to the catalog's Etchash figures (ethash_mhs/_power_w).
    hashrates: dict[str, tuple[Hashrate, ...]] = Field(default_factory=dict)


class ModelClassPrice(_Model):
    """Token prices for one class of model, and the model that stands for the class."""

    name: str  # "8b"
    model: str  # catalog key or name of the representative model: "llama-3.1-8b"
    quant: str = "Q4_K_M"
    usd_per_m_input: float = Field(ge=0)
    usd_per_m_output: float = Field(ge=0)


class AiInputs(_Model):
    rent_usd_per_hour: dict[str, float] = Field(default_factory=dict)  # card key -> $/GPU-hour
    rental_utilisation: float = Field(default=0.5, ge=0, le=1)  # share of hours a renter pays for
    marketplace_fee: float = Field(default=0.2, ge=0, lt=1)  # the marketplace's cut of rent
    token_prices: tuple[ModelClassPrice, ...] = ()
    utilisation: float = Field(default=0.3, ge=0, le=1)  # share of time a replica is busy with requests
    input_tokens_per_request: int = Field(default=1000, ge=0)
    output_tokens_per_request: int = Field(default=250, ge=1)
    parallel: int = Field(default=4, ge=1)  # streams per replica
    context: int = Field(default=8192, ge=256)  # tokens per stream


class CapitalInputs(_Model):
    resale_usd: dict[str, float] = Field(default_factory=dict)  # card key -> what a used card fetches
    buy_usd: dict[str, float] = Field(default_factory=dict)  # card key -> price of a card to buy
    max_buy_per_model: int = Field(default=64, ge=0)  # market depth: at most this many of one model
    riser_usd: float = Field(default=10.0, ge=0)
    ram_usd_per_gib: float = Field(default=3.0, ge=0)
    host_usd: float = Field(default=400.0, ge=0)  # board + CPU + RAM + PSU for one new host
    gpus_per_host: int = Field(default=8, ge=1)  # slots a new mining-style host offers
    host_pcie_lanes: int = Field(default=20, ge=1)  # lanes a proper (rental-grade) host gives its GPUs
    setup_usd_per_gpu: float = Field(default=15.0, ge=0)  # labour to convert one GPU to AI
    staff_usd_per_month: float = Field(default=4000.0, ge=0)  # one AI operations person ...
    staff_gpus: int = Field(default=200, ge=1)  # ... looks after this many AI GPUs
    cost_of_capital_annual: float = Field(default=0.12, ge=0, lt=2)
    horizon_months: int = Field(default=24, ge=1, le=120)


class Constraints(_Model):
    capex_budget_usd: float = Field(default=5000.0, ge=0)  # new money on top of what sales bring in
    site_power_kw: dict[str, float] = Field(default_factory=dict)  # overrides Site.power_budget_kw


class EconInputs(_Model):
    power: PowerInputs
    mining: MiningInputs = MiningInputs()
    ai: AiInputs = AiInputs()
    capital: CapitalInputs = CapitalInputs()
    constraints: Constraints = Constraints()
    provenance: tuple[Provenance, ...] = ()
