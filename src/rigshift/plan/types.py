"""The Plan: what the runtime applies, and the options that shape it.

Everything here is a pydantic model so a plan written with `--json` reads back unchanged
(`Plan.model_validate_json`), which is how a re-plan receives the current placement.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rigshift.hosts import (
    DEFAULT_CPU_CORES_PER_REPLICA,
    DEFAULT_HOST_RESERVE_RAM_GIB,
    DEFAULT_MIN_DECODE_TPS,
    DEFAULT_RAM_GIB_PER_REPLICA,
    DEFAULT_VRAM_RESERVE_GIB,
    HostCriteria,
    host_criteria,
)

LeftoverPolicy = Literal["mining", "idle", "off"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanOptions(_Model):
    """Knobs of the planner. Defaults suit a mining farm of x1-riser rigs.

    A demand file may override them, so they are bounded (finite, and small where a value
    multiplies the planner's work: cap fractions, packing, the time limit)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # kept free on every GPU besides the estimator's overhead; the assessment keeps none (rigshift.hosts)
    vram_reserve_gib: float = Field(default=DEFAULT_VRAM_RESERVE_GIB, ge=0)
    # The host model shared with assess and econ (rigshift.hosts): defaults are the assessment's.
    cpu_cores_per_replica: float = Field(default=DEFAULT_CPU_CORES_PER_REPLICA, ge=0)
    ram_gib_per_replica: float = Field(default=DEFAULT_RAM_GIB_PER_REPLICA, ge=0)
    host_reserve_ram_gib: float = Field(default=DEFAULT_HOST_RESERVE_RAM_GIB, ge=0)
    # Slowest stream a deployment may be served at (tokens/s, one stream); a deployment's own
    # `min_tokens_per_s` wins. The default is the assessment's "usable" floor.
    min_decode_tps: float = Field(default=DEFAULT_MIN_DECODE_TPS, ge=0)
    max_temperature_c: float = 85.0  # GPUs reported hotter than this are not used
    circuit_power_kw: dict[str, float] = Field(default_factory=dict)  # rig label "circuit" -> kW
    site_power_kw: dict[str, float] = Field(default_factory=dict)  # overrides Site.power_budget_kw
    # Power caps tried per GPU, as fractions of the card's default limit; the solver picks one per
    # configuration. Caps only matter where a power budget binds, so sites without a budget get 1.0.
    power_cap_fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        default=(1.0, 0.8, 0.65), min_length=1, max_length=8
    )
    host_watts_per_rig: float = 60.0  # CPU, board, risers, fans
    leftover: LeftoverPolicy = "idle"
    # A replica-count deployment gives no volume: each replica is paid for this share of its
    # capacity, a stated utilisation (econ's max_utilisation), never 24 h at full speed.
    replica_utilisation: float = Field(default=0.7, gt=0, le=1)
    # A GPU whose miner keeps running beside a replica (VRAM held by others): "derate" credits the
    # replica `miner_contention_factor` of its speed (both stream the card's memory); "stop_miner"
    # frees the miner's VRAM and gives full speed, and the plan lists the miners it stops (their
    # mining income is lost: the farm decision counts it).
    beside_miner: Literal["derate", "stop_miner"] = "derate"
    miner_contention_factor: float = Field(default=0.5, gt=0, le=1)
    idle_watts_fraction: float = Field(default=0.08, ge=0, le=1)  # an idle GPU's draw, share of TDP
    mining_watts_fraction: float = Field(default=0.7, ge=0, le=1)  # an undervolted miner's draw
    migration_cost: float = Field(default=0.05, ge=0)  # objective units ($/h) a moved replica must gain
    shortfall_penalty: float = Field(default=100.0, ge=0)  # per replica (or 100 tok/s) of unmet minimum
    time_limit_s: float = Field(default=8.0, gt=0, le=3600)
    solver: Literal["milp", "greedy"] = "milp"
    max_pack_per_gpu: int = Field(default=4, ge=1, le=64)  # most replicas of one deployment sharing one GPU
    min_link_gbs_tensor_parallel: float = 3.9  # vLLM tensor parallel wants at least Gen3 x4
    rpc_network_gbs: float = 0.125  # 1 GbE between rigs, for llama.cpp RPC splits

    def host(self) -> HostCriteria:
        """The shared host rule's criteria (rigshift.hosts) these options set."""
        return host_criteria(
            self.cpu_cores_per_replica,
            self.ram_gib_per_replica,
            self.host_reserve_ram_gib,
            self.min_decode_tps,
        )

    @field_validator("leftover", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML 1.1 reads a bare `off` as false: `leftover: off` means "off", not a boolean.
        return "off" if value is False else value


class PlannedGpu(_Model):
    index: int | None
    position: int  # position of the GPU in the rig's list (stable when index is unknown)
    bus_id: str | None = None
    uuid: str | None = None
    model: str
    rig: str
    power_cap_w: float | None = None


class PlannedReplica(_Model):
    id: str
    deployment: str
    model: str
    quant: str
    context: int
    parallel: int
    runtime: str
    site: str
    rig: str  # the first rig; cross-rig (RPC) replicas list every rig's GPUs in `gpus`
    gpus: list[PlannedGpu]
    tensor_split: list[float] | None = None  # llama.cpp --tensor-split, by free VRAM
    split_mode: str = "layer"
    shared_gpu: int = 1  # replicas of this deployment sharing these GPUs
    cross_rig: bool = False  # llama.cpp RPC across rigs: flagged slow
    tokens_per_s: float  # all parallel streams together
    revenue_usd_per_h: float
    power_w: float
    power_cost_usd_per_h: float
    vram_gib_per_gpu: list[float] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Rejection(_Model):
    """One filter's verdict: how many GPUs (or groups) it rejected and why."""

    filter: str
    rejected: int
    message: str


class Unplaced(_Model):
    deployment: str
    replicas: int  # replicas wanted (at least) but not placed
    tokens_per_s_short: float = 0.0
    reasons: list[Rejection]

    def render(self) -> str:
        """One line: what is short and why, the most GPUs first (plan.report words it for screens)."""
        what = f"{self.replicas} replica(s) short"
        if self.tokens_per_s_short:
            what += f" ({self.tokens_per_s_short:.0f} tok/s short)"
        reasons = sorted(self.reasons, key=lambda r: (-r.rejected, r.filter))
        return f"{self.deployment}: {what}: " + "; ".join(
            f"{r.rejected:,} GPU(s): {r.message}" for r in reasons
        )


class Move(_Model):
    action: Literal["keep", "start", "stop", "move"]
    deployment: str
    replica_id: str | None = None
    source: str | None = None  # "rig/gpu positions"
    target: str | None = None


class DeploymentSummary(_Model):
    deployment: str
    replicas: int
    tokens_per_s: float
    revenue_usd_per_h: float
    wanted: str


class Plan(_Model):
    fleet: str
    replicas: list[PlannedReplica]
    objective: float  # value of this plan in the solver's objective ($/h, less penalties)
    bound: float | None  # the solver's proven upper bound on any plan's objective (None: greedy only)
    gap: float | None  # (bound - objective) / max(|bound|, 1e-9)
    solver: str
    solver_status: str
    solve_seconds: float
    revenue_usd_per_h: float
    power_cost_usd_per_h: float
    power_w_by_site: dict[str, float] = Field(default_factory=dict)
    deployments: list[DeploymentSummary] = Field(default_factory=list)
    unplaced: list[Unplaced] = Field(default_factory=list)
    moves: list[Move] = Field(default_factory=list)
    leftover: dict[str, int] = Field(default_factory=dict)  # policy -> GPUs
    # GPUs no deployment may use, by reason (reserved, too hot, no free VRAM, unassessed)
    excluded: dict[str, int] = Field(default_factory=dict)
    # Cards the catalog does not know, by the name the inventory gave: counted, never an error
    unassessed: dict[str, int] = Field(default_factory=dict)
    gpus: int = 0  # every GPU of the fleet
    min_tokens_per_s: dict[str, float] = Field(default_factory=dict)  # deployment -> speed floor used
    notes: list[str] = Field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.unplaced
