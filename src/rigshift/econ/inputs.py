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
    # How one replica is sized for this class (streams x tokens per stream). None until
    # `rigshift.econ.demand.size_replicas` derives them from the request mix and the demand.
    parallel: int | None = Field(default=None, ge=1)
    context: int | None = Field(default=None, ge=256)


# A working day's shape when nobody gives one: relative load per hour 00-23 (local time). Night
# at half the mean, a business-day peak at 1.5x; a stated assumption, not a measurement.
DEFAULT_LOAD_PROFILE: tuple[float, ...] = (0.5,) * 7 + (1.0,) * 2 + (1.5,) * 9 + (1.0,) * 6


class ClassDemand(_Model):
    """What buyers ask of one price class a day (requests of the request mix in `AiInputs`)."""

    name: str  # the price class: "8b"
    requests_per_day: float = Field(ge=0)


class DemandInputs(_Model):
    """How much inference there is to sell, and how it spreads over the day.

    Revenue is bounded by it: in each hour a class serves at most its demand that hour, and at
    most what its replicas can do at `AiInputs.max_utilisation`.
    """

    classes: tuple[ClassDemand, ...] = ()
    load_profile: tuple[float, ...] = DEFAULT_LOAD_PROFILE  # relative load per hour (the utilisation curve)
    source: str = "assumption"
    as_of: str | None = None
    notes: tuple[str, ...] = ()  # what reading it left out (a deployment with no volume, an unknown model)

    def requests_per_day(self, name: str) -> float:
        return sum(c.requests_per_day for c in self.classes if c.name == name)

    def hour_buckets(self) -> tuple[tuple[float, float], ...]:
        """(share of the day's requests per hour, hours at that share): equal hours merged.

        Capacity is the same every hour, so only how many hours sit at each load level matters.
        """
        total = sum(self.load_profile)
        if total <= 0:
            return ()
        buckets: dict[float, float] = {}
        for weight in self.load_profile:
            share = weight / total * 24.0 / len(self.load_profile)  # share of a day's requests per hour
            buckets[share] = buckets.get(share, 0.0) + 24.0 / len(self.load_profile)
        return tuple(sorted(buckets.items()))

    def scaled(self, factor: float) -> DemandInputs:
        return self.model_copy(
            update={
                "classes": tuple(
                    c.model_copy(update={"requests_per_day": c.requests_per_day * factor})
                    for c in self.classes
                )
            }
        )


class AiInputs(_Model):
    rent_usd_per_hour: dict[str, float] = Field(default_factory=dict)  # card key -> $/GPU-hour
    rental_utilisation: float = Field(default=0.5, ge=0, le=1)  # share of hours a renter pays for
    marketplace_fee: float = Field(default=0.2, ge=0, lt=1)  # the marketplace's cut of rent
    token_prices: tuple[ModelClassPrice, ...] = ()
    # The most of any hour a replica is kept busy (headroom for latency); demand decides the rest.
    max_utilisation: float = Field(default=0.7, gt=0, le=1)
    input_tokens_per_request: int = Field(default=1000, ge=0)
    output_tokens_per_request: int = Field(default=250, ge=1)
    # Replica sizing overrides; None: derived from the request mix and the demand (econ/demand.py).
    parallel: int | None = Field(default=None, ge=1)  # streams per replica
    context: int | None = Field(default=None, ge=256)  # tokens per stream
    max_parallel: int = Field(default=4, ge=1)  # most streams a derived replica gets
    demand: DemandInputs = DemandInputs()

    def price(self, name: str) -> ModelClassPrice | None:
        return next((p for p in self.token_prices if p.name == name), None)

    @property
    def tokens_per_request(self) -> int:
        return self.input_tokens_per_request + self.output_tokens_per_request


class CapitalInputs(_Model):
    resale_usd: dict[str, float] = Field(default_factory=dict)  # card key -> what a used card fetches
    buy_usd: dict[str, float] = Field(default_factory=dict)  # card key -> price of a card to buy
    max_buy_per_model: int = Field(default=64, ge=0)  # market depth: at most this many of one model
    riser_usd: float = Field(default=10.0, ge=0)
    ram_usd_per_gib: float = Field(default=3.0, ge=0)
    host_usd: float = Field(default=400.0, ge=0)  # board + CPU + RAM + PSU for one new host
    gpus_per_host: int = Field(default=8, ge=1)  # slots a new mining-style host offers
    host_pcie_lanes: int = Field(default=20, ge=1)  # lanes a proper (rental-grade) host gives its GPUs
    board_usd: float = Field(default=180.0, ge=0)  # a board with x4+ slots, replacing a mining board
    cpu_usd: float = Field(default=60.0, ge=0)  # a CPU with more cores for an existing board
    ssd_usd: float = Field(default=35.0, ge=0)  # an SSD big enough for the model files
    setup_usd_per_gpu: float = Field(default=15.0, ge=0)  # labour to convert one GPU to AI
    staff_usd_per_month: float = Field(default=4000.0, ge=0)  # one AI operations person ...
    staff_gpus: int = Field(default=200, ge=1)  # ... looks after this many AI GPUs
    cost_of_capital_annual: float = Field(default=0.12, ge=0, lt=2)
    horizon_months: int = Field(default=24, ge=1, le=120)


class Constraints(_Model):
    capex_budget_usd: float = Field(default=5000.0, ge=0)  # new money on top of what sales bring in
    site_power_kw: dict[str, float] = Field(default_factory=dict)  # overrides Site.power_budget_kw


class EconInputs(_Model):
    # The day the figures are for (ISO date): coin block rewards follow each chain's emission
    # schedule at this date (econ/prices/emission.py). Default: the day econ runs.
    as_of: str | None = None
    power: PowerInputs
    mining: MiningInputs = MiningInputs()
    ai: AiInputs = AiInputs()
    capital: CapitalInputs = CapitalInputs()
    constraints: Constraints = Constraints()
    provenance: tuple[Provenance, ...] = ()
