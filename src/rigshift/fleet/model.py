"""Sites -> rigs -> GPUs: the normalised fleet every later stage reads.

Pydantic models so a fleet file (JSON or YAML) validates on load and writes back unchanged.
`Gpu.model` holds the catalog key (`GpuSpec.key`) once resolved; `Gpu.reported_name` keeps what
the source printed, so nothing is lost when a name could not be resolved.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from rigshift.readers.names import PrintableName


class _Model(BaseModel):
    # allow_inf_nan=False: an infinite VRAM or price in a fleet file is refused, not computed with
    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


class PcieState(_Model):
    """The PCIe link as trained now and at most. HiveOS does not know it; a probe on the rig does."""

    gen: int = Field(ge=1, le=6)
    width: int = Field(ge=1, le=32)
    max_gen: int | None = Field(default=None, ge=1, le=6)
    max_width: int | None = Field(default=None, ge=1, le=32)


class PowerLimits(_Model):
    """Watts."""

    min: float | None = None
    default: float | None = None
    max: float | None = None
    current: float | None = None


# `Gpu.model` of a card whose reported name the catalog does not know: it is kept (never dropped
# or guessed) with its did-you-mean in `Gpu.name_suggestions`, and later stages skip it.
UNRESOLVED_MODEL = "unresolved"
# `Rig.site` of a rig whose source knows no site (minerstat, a probe): another source or the user
# assigns it; merging never lets it override a real site.
UNASSIGNED_SITE = "unassigned"


class Gpu(_Model):
    model: str  # catalog key (GpuSpec.key), or UNRESOLVED_MODEL
    reported_name: str | None = None  # as the source printed it
    name_suggestions: list[str] = Field(default_factory=list)  # did-you-mean when unresolved
    # The name fit several memory sizes and the source gave none ("RX 570": [4, 8]): decided on the
    # smallest, flagged in fleet and assess output until the inventory says which. Empty: known.
    vram_variants_gib: list[float] = Field(default_factory=list)
    brand: str | None = None  # "nvidia", "amd" as the source reported it
    vram_gib: float = Field(gt=0, le=1024)
    index: int | None = None
    bus_id: str | None = None  # "0000:03:00.0"
    uuid: str | None = None
    serial: str | None = None
    pcie: PcieState | None = None
    power: PowerLimits | None = None
    power_draw_w: float | None = None
    temperature_c: float | None = None
    memory_temperature_c: float | None = None
    fan_pct: float | None = None
    miner_running: bool = False
    hashrate_mhs: float | None = None
    algorithm: str | None = None
    vram_used_by_others_gib: float = Field(default=0.0, ge=0)
    reserved_for_mining: bool = False
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return self.model != UNRESOLVED_MODEL


class Rig(_Model):
    name: PrintableName
    site: PrintableName
    hostname: str | None = None  # as the rig itself reports it (a probe); merge matches on it too
    external_id: str | None = None  # the mining OS's worker id (HiveOS worker id, minerstat name)
    cpu_model: str | None = None
    cpu_cores: int | None = Field(default=None, ge=1)
    ram_gib: float | None = Field(default=None, gt=0)
    disk_gib: float | None = Field(default=None, gt=0)
    disk_read_gbs: float | None = Field(default=None, gt=0)
    network_gbps: float | None = Field(default=None, gt=0)
    psu_w: float | None = Field(default=None, gt=0)
    mining_os: str | None = None
    motherboard: str | None = None
    mining_revenue_usd_day: float | None = None  # as the mining OS reported it (minerstat)
    labels: dict[str, str] = Field(default_factory=dict)
    gpus: list[Gpu] = Field(default_factory=list)


class Site(_Model):
    name: PrintableName
    power_budget_kw: float | None = Field(default=None, gt=0)
    power_price_usd_kwh: float | None = Field(default=None, ge=0)
    pue: float = Field(default=1.0, ge=1.0)
    labels: dict[str, str] = Field(default_factory=dict)


class FleetMeasurement(_Model):
    """One llama-bench result kept in the fleet file (`rigshift bench --fleet FILE`): the fields
    the measurements database holds (rigshift.measure.types.Measurement), so the fleet carries its
    own measured speeds to whoever reads it. Catalog names are checked on load
    (fleet/measurements.py); `assess`, `econ`, `plan` and `estimate --fleet` calibrate on them."""

    card_key: str  # GPU catalog key, or "host-cpu" for llama.cpp-cpu
    card_name: str = ""  # as the runtime reported it
    runtime: str
    model_key: str
    quant: str
    n_prompt: int = Field(ge=0)  # pp512 = (512, 0), tg128 = (0, 128)
    n_gen: int = Field(ge=0)
    tokens_per_s: float = Field(gt=0)
    stddev_tokens_per_s: float = Field(default=0.0, ge=0)
    samples_tokens_per_s: list[PositiveFloat] = Field(default_factory=list, max_length=1000)  # each rep
    n_depth: int = Field(default=0, ge=0)
    vram_gib: float | None = Field(default=None, gt=0)
    card_uuid: str | None = None
    driver: str | None = None
    runtime_build: str | None = None
    power_limit_w: float | None = Field(default=None, gt=0)
    pcie_link: str | None = None
    gpu_memory_used_gib: float | None = Field(default=None, ge=0)
    n_gpu_layers: int | None = None
    n_threads: int | None = Field(default=None, ge=1)
    source: str = "bench"
    rig: str | None = None
    measured_at: float = Field(default=0.0, ge=0)


class Fleet(_Model):
    """A whole farm. Rigs name their site; every site a rig names is listed in `sites`."""

    name: str = "fleet"
    sites: list[Site] = Field(default_factory=list)
    rigs: list[Rig] = Field(default_factory=list)
    measurements: list[FleetMeasurement] = Field(default_factory=list)

    def gpus(self) -> Iterator[tuple[Rig, Gpu]]:
        for rig in self.rigs:
            for gpu in rig.gpus:
                yield rig, gpu

    @property
    def gpu_count(self) -> int:
        return sum(len(r.gpus) for r in self.rigs)

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)
