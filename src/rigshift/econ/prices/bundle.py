"""The prices file: one YAML or JSON document, every section optional, merged over the defaults.

GPU names in tables are resolved through the GPU catalog, so `RTX 3090` and the catalog key both
work and a typo gets a did-you-mean naming the file and the table. Relative file paths (coin data,
power series) are relative to the prices file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    Provenance,
)
from rigshift.econ.prices.coins import parse_coins, read_coins
from rigshift.econ.prices.emission import scheduled_reward
from rigshift.econ.prices.power_series import read_power_series
from rigshift.errors import InputError, Problem, RigshiftError
from rigshift.readers import fields_in, load_json, load_yaml, problems_from_validation, read_text
from rigshift.suggest import did_you_mean
from rigshift.units import british_keys

DEFAULTS_PACKAGE = "rigshift.econ.defaults"
DEFAULT_MARKET = "market.yaml"
DEFAULT_COINS = "coins_whattomine_snapshot.json"

GpuResolver = Callable[[str], str]  # a GPU name as people write it -> catalog key


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)  # `usd_per_mtok: .inf` is refused, not priced


class _Section(BaseModel):
    model_config = _STRICT
    as_of: str | None = None
    source: str | None = None


class SeriesRef(BaseModel):
    model_config = _STRICT
    file: str
    format: str = "auto"
    settlement_point: str | None = None


class PowerSection(_Section):
    usd_per_kwh: float | None = Field(default=None, ge=0)
    series: SeriesRef | None = None
    override_sites: bool | None = None
    pue: float | None = Field(default=None, ge=1.0)
    host_w_per_rig: float | None = Field(default=None, ge=0)
    idle_w_per_gpu: float | None = Field(default=None, ge=0)


class RentSection(_Section):
    rental_utilisation: float | None = Field(default=None, ge=0, le=1)
    marketplace_fee: float | None = Field(default=None, ge=0, lt=1)
    usd_per_gpu_hour: dict[str, float] = Field(default_factory=dict)


class TokenClass(BaseModel):
    model_config = _STRICT
    model: str
    quant: str = "Q4_K_M"
    input: float = Field(ge=0)  # $/M input tokens
    output: float = Field(ge=0)  # $/M output tokens


class TokensSection(_Section):
    max_utilisation: float | None = Field(default=None, gt=0, le=1)
    input_tokens_per_request: int | None = Field(default=None, ge=0)
    output_tokens_per_request: int | None = Field(default=None, ge=1)
    parallel: int | None = Field(default=None, ge=1)
    context: int | None = Field(default=None, ge=256)
    max_parallel: int | None = Field(default=None, ge=1)
    classes: dict[str, TokenClass] = Field(default_factory=dict)


class DemandSection(_Section):
    """Requests or tokens (prompt + output) a day per price class, and the day's load profile."""

    requests_per_day: dict[str, float] = Field(default_factory=dict)
    tokens_per_day: dict[str, float] = Field(default_factory=dict)
    load_profile: list[float] | None = None  # 24 relative loads, hour 0 first

    @field_validator("requests_per_day", "tokens_per_day")
    @classmethod
    def _non_negative(cls, table: dict[str, float]) -> dict[str, float]:
        for name, value in table.items():
            if value < 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")
        return table

    @field_validator("load_profile")
    @classmethod
    def _profile(cls, profile: list[float] | None) -> list[float] | None:
        if profile is None:
            return None
        if len(profile) != 24:
            raise ValueError(f"give 24 hourly values (hour 0 first), got {len(profile)}")
        if any(v < 0 for v in profile) or sum(profile) <= 0:
            raise ValueError("hourly loads must be >= 0 and not all zero")
        return profile


class MiningSection(_Section):
    coins: str | None = None
    btc_usd: float | None = Field(default=None, gt=0)
    pool_fee: float | None = Field(default=None, ge=0, lt=1)
    hashrates: dict[str, dict[str, tuple[float, float]]] = Field(
        default_factory=dict
    )  # name -> algo -> (MH/s, W)


class CapitalSection(_Section):
    resale_usd: dict[str, float] = Field(default_factory=dict)
    buy_usd: dict[str, float] = Field(default_factory=dict)
    max_buy_per_model: int | None = Field(default=None, ge=0)
    riser_usd: float | None = Field(default=None, ge=0)
    ram_usd_per_gib: float | None = Field(default=None, ge=0)
    host_usd: float | None = Field(default=None, ge=0)
    gpus_per_host: int | None = Field(default=None, ge=1)
    host_pcie_lanes: int | None = Field(default=None, ge=1)
    board_usd: float | None = Field(default=None, ge=0)
    cpu_usd: float | None = Field(default=None, ge=0)
    ssd_usd: float | None = Field(default=None, ge=0)
    setup_usd_per_gpu: float | None = Field(default=None, ge=0)
    staff_usd_per_month: float | None = Field(default=None, ge=0)
    staff_gpus: int | None = Field(default=None, ge=1)
    cost_of_capital_annual: float | None = Field(default=None, ge=0, lt=2)
    horizon_months: int | None = Field(default=None, ge=1, le=120)


class ConstraintsSection(_Section):
    capex_budget_usd: float | None = Field(default=None, ge=0)
    site_power_kw: dict[str, float] = Field(default_factory=dict)


class PricesFile(BaseModel):
    model_config = _STRICT
    as_of: str | None = None
    source: str | None = None
    power: PowerSection = PowerSection()
    rent: RentSection = RentSection()
    tokens: TokensSection = TokensSection()
    mining: MiningSection = MiningSection()
    capital: CapitalSection = CapitalSection()
    constraints: ConstraintsSection = ConstraintsSection()
    demand: DemandSection = DemandSection()


SECTIONS = ("power", "rent", "tokens", "mining", "capital", "constraints", "demand")


def parse_prices_text(text: str, source: str) -> PricesFile:
    expected = "a prices file (docs/economics.md)"
    data = (
        load_json(text, source, expected) if source.endswith(".json") else load_yaml(text, source, expected)
    )
    if data is None:
        data = {}
    data = british_keys(data)  # `utilization` and `utilisation` both read
    if not isinstance(data, dict):
        raise InputError(
            Problem(
                "the prices file must be a mapping of sections",
                source=source,
                location="$",
                expected="keys: " + ", ".join(SECTIONS),
            )
        )
    try:
        return PricesFile.model_validate(data)
    except ValidationError as error:
        raise InputError(
            problems_from_validation(error, source, known_fields=fields_in(PricesFile))
        ) from None


def _default_resolver(name: str) -> str:
    from rigshift.catalog.gpus import gpu_catalog

    return gpu_catalog().resolve(name).key


def _resolve_table(
    table: dict[str, Any], resolve: GpuResolver, source: str, where: str, strict: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in table.items():
        try:
            out[resolve(name)] = value
        except RigshiftError as error:
            if not strict:
                continue  # a shipped default for a card this catalog lacks: not the operator's problem
            suggestions = tuple(getattr(error, "suggestions", ()))
            raise InputError(
                Problem(
                    f"unknown GPU {name!r}",
                    source=source,
                    location=f"{where}.{name}",
                    field=name,
                    suggestions=suggestions,
                )
            ) from None
    return out


class _Merged:
    """Defaults first, then the operator's file over them; remembers which defaults stayed in use."""

    def __init__(
        self, defaults: PricesFile, user: PricesFile | None, user_source: str | None, resolve: GpuResolver
    ):
        self.defaults, self.user, self.user_source, self.resolve = defaults, user, user_source, resolve
        self.defaulted: dict[str, list[str]] = {s: [] for s in SECTIONS}
        self.from_user: dict[str, list[str]] = {s: [] for s in SECTIONS}

    def scalar(self, section: str, name: str) -> Any:
        if self.user is not None:
            value = getattr(getattr(self.user, section), name)
            if value is not None:
                self.from_user[section].append(name)
                return value
        value = getattr(getattr(self.defaults, section), name)
        if value is not None:
            self.defaulted[section].append(name)
        return value

    def table(self, section: str, name: str, by_gpu: bool) -> dict[str, Any]:
        base = getattr(getattr(self.defaults, section), name)
        mine = getattr(getattr(self.user, section), name) if self.user is not None else {}
        if by_gpu:
            base = _resolve_table(
                base, self.resolve, "defaults/market.yaml", f"$.{section}.{name}", strict=False
            )
            mine = _resolve_table(
                mine, self.resolve, self.user_source or "", f"$.{section}.{name}", strict=True
            )
        if mine:
            self.from_user[section].append(name)
        if set(base) - set(mine):
            self.defaulted[section].append(f"{name} ({len(set(base) - set(mine))} entries)")
        return {**base, **mine}


def load_defaults_file() -> PricesFile:
    text = resources.files(DEFAULTS_PACKAGE).joinpath(DEFAULT_MARKET).read_text(encoding="utf-8")
    return parse_prices_text(text, f"{DEFAULTS_PACKAGE}/{DEFAULT_MARKET}")


def load_inputs(
    path: Path | None = None,
    resolve: GpuResolver | None = None,
    demand: DemandInputs | None = None,
    as_of: date | None = None,
) -> EconInputs:
    """The prices file at `path` (None: defaults only) merged over the shipped defaults; `demand`
    (from `--demand`) replaces the demand of both. `as_of` (default: today) is the day the coin
    block rewards are taken at, by each chain's emission schedule."""
    resolve = resolve or _default_resolver
    as_of = as_of or date.today()
    user = None
    source = str(path) if path is not None else None
    if path is not None:
        user = parse_prices_text(read_text(path, "a prices file (docs/economics.md)"), str(path))
    base_dir = path.parent if path is not None else Path(".")
    m = _Merged(load_defaults_file(), user, source, resolve)
    provenance: list[Provenance] = []

    power, series_note = _power(m, base_dir)
    mining, coin_provenance = _mining(m, base_dir, as_of)
    ai = _ai(m, demand)
    capital = CapitalInputs(
        resale_usd=m.table("capital", "resale_usd", by_gpu=True),
        buy_usd=m.table("capital", "buy_usd", by_gpu=True),
        **{
            name: m.scalar("capital", name)
            for name in CapitalInputs.model_fields
            if name not in ("resale_usd", "buy_usd")
        },
    )
    constraints = Constraints(
        capex_budget_usd=m.scalar("constraints", "capex_budget_usd"),
        site_power_kw=user.constraints.site_power_kw if user is not None else {},
    )
    if series_note is not None:
        provenance.append(series_note)
    if demand is not None:  # from --demand: neither the defaults nor the prices file
        provenance.append(
            Provenance(what="demand: requests/tokens per day", source=demand.source, as_of=demand.as_of)
        )
    provenance.extend(coin_provenance)
    for section in SECTIONS:
        dflt = getattr(m.defaults, section)
        if m.defaulted[section]:
            provenance.append(
                Provenance(
                    what=f"{section}: " + ", ".join(m.defaulted[section]),
                    source=dflt.source or "defaults",
                    as_of=dflt.as_of,
                    is_default=True,
                )
            )
        if m.from_user[section] and user is not None:
            mine = getattr(user, section)
            provenance.append(
                Provenance(
                    what=f"{section}: " + ", ".join(m.from_user[section]),
                    source=f"{source}" + (f" ({mine.source})" if mine.source else ""),
                    as_of=mine.as_of or user.as_of,
                )
            )
    return EconInputs(
        as_of=as_of.isoformat(),
        power=power,
        mining=mining,
        ai=ai,
        capital=capital,
        constraints=constraints,
        provenance=tuple(provenance),
    )


def _referenced(path: Path, source: str | None, location: str, field: str) -> Path:
    """A file the prices file names: a missing one is the prices file's error, so say where it is named."""
    if not path.is_file():
        raise InputError(
            Problem(
                f"no such file: {path}",
                source=source,
                location=location,
                field=field,
                expected="a path relative to the prices file",
            )
        )
    return path


def _power(m: _Merged, base_dir: Path) -> tuple[PowerInputs, Provenance | None]:
    series = m.user.power.series if m.user is not None else None
    summary = None
    note = None
    if series is not None:
        target = _referenced(base_dir / series.file, m.user_source, "$.power.series.file", "file")
        summary = read_power_series(target, series.format, series.settlement_point)
        price = summary.mean_usd_kwh
        m.from_user["power"].append("series")
        note = Provenance(
            what=f"power price: mean of {summary.points} prices, {summary.first} … {summary.last}",
            source=summary.source,
            as_of=summary.last,
        )
    else:
        price = m.scalar("power", "usd_per_kwh")
    user_set_price = m.user is not None and (series is not None or m.user.power.usd_per_kwh is not None)
    override = m.user.power.override_sites if m.user is not None else None
    return (
        PowerInputs(
            usd_per_kwh=price,
            series=summary,
            # A price the operator wrote in the prices file wins over the fleet file unless told otherwise.
            override_sites=override if override is not None else user_set_price,
            pue=m.user.power.pue if m.user is not None else None,
            host_w_per_rig=m.scalar("power", "host_w_per_rig"),
            idle_w_per_gpu=m.scalar("power", "idle_w_per_gpu"),
        ),
        note,
    )


def _mining(m: _Merged, base_dir: Path, as_of: date) -> tuple[MiningInputs, list[Provenance]]:
    btc_usd = m.user.mining.btc_usd if m.user is not None else None
    coins_file = m.user.mining.coins if m.user is not None else None
    if coins_file is not None:
        coins, meta = read_coins(
            _referenced(base_dir / coins_file, m.user_source, "$.mining.coins", "coins"), btc_usd
        )
        m.from_user["mining"].append("coins")
        provenance = Provenance(
            what="coin data",
            source=str(base_dir / coins_file),
            as_of=meta.get("as_of") or (m.user.mining.as_of if m.user else None),
        )
    else:
        text = resources.files(DEFAULTS_PACKAGE).joinpath(DEFAULT_COINS).read_text(encoding="utf-8")
        coins, meta = parse_coins(
            load_json(text, DEFAULT_COINS), f"{DEFAULTS_PACKAGE}/{DEFAULT_COINS}", btc_usd
        )
        provenance = Provenance(
            what=f"coin data ({meta.get('label', 'snapshot')})",
            source=meta.get("source", DEFAULT_COINS),
            as_of=meta.get("as_of"),
            is_default=True,
        )
    provenances = [provenance]
    if meta.get("format") != "minerstat":
        coins, rewards = _scheduled(coins, as_of, provenance.is_default)
        provenances += rewards
    raw = m.table("mining", "hashrates", by_gpu=True)
    hashrates = {
        key: tuple(
            Hashrate(algorithm=algo, hashrate_hs=mhs * 1e6, power_w=w) for algo, (mhs, w) in algos.items()
        )
        for key, algos in raw.items()
    }
    mining = MiningInputs(coins=coins, pool_fee=m.scalar("mining", "pool_fee"), hashrates=hashrates)
    return mining, provenances


def _scheduled(
    coins: tuple[Coin, ...], as_of: date, is_default: bool
) -> tuple[tuple[Coin, ...], list[Provenance]]:
    """Each coin with a known emission schedule at the as-of date's block reward, and a line per
    coin saying which reward, era and sources that is."""
    out, notes = [], []
    for coin in coins:
        scheduled = scheduled_reward(coin.tag, as_of)
        if scheduled is None:
            out.append(coin)
            continue
        if abs(scheduled.reward - coin.block_reward) > 1e-9 * max(1.0, coin.block_reward):
            what = f"{scheduled.describe()}; the coin data said {coin.block_reward:g}"
        else:
            what = scheduled.describe()
        out.append(coin.model_copy(update={"block_reward": scheduled.reward}))
        notes.append(
            Provenance(
                what=what, source=scheduled.schedule.sources, as_of=as_of.isoformat(), is_default=is_default
            )
        )
    return tuple(out), notes


def demand_from_section(
    section: DemandSection, tokens_per_request: int, source: str, as_of: str | None
) -> DemandInputs:
    """Requests a day per class: tokens are turned into requests of the request mix."""
    requests = dict(section.requests_per_day)
    for name, tokens in section.tokens_per_day.items():
        requests[name] = requests.get(name, 0.0) + tokens / max(1, tokens_per_request)
    fields: dict[str, Any] = {
        "classes": tuple(ClassDemand(name=n, requests_per_day=r) for n, r in requests.items()),
        "source": source,
        "as_of": as_of,
    }
    if section.load_profile is not None:
        fields["load_profile"] = tuple(section.load_profile)
    return DemandInputs(**fields)


def _demand(m: _Merged, tokens_per_request: int, given: DemandInputs | None) -> DemandInputs:
    if given is not None:
        return given
    user = m.user.demand if m.user is not None else None
    if user is not None and (user.requests_per_day or user.tokens_per_day):
        m.from_user["demand"].append("requests/tokens per day")
        return demand_from_section(
            user,
            tokens_per_request,
            f"{m.user_source}" + (f" ({user.source})" if user.source else ""),
            user.as_of or (m.user.as_of if m.user else None),
        )
    m.defaulted["demand"].append("requests/tokens per day, load profile")
    section = m.defaults.demand
    return demand_from_section(section, tokens_per_request, section.source or "defaults", section.as_of)


def _ai(m: _Merged, demand: DemandInputs | None = None) -> AiInputs:
    classes = dict(m.defaults.tokens.classes)
    if m.user is not None and m.user.tokens.classes:
        classes.update(m.user.tokens.classes)
        m.from_user["tokens"].append("classes")
    if set(m.defaults.tokens.classes) - set(m.user.tokens.classes if m.user else {}):
        m.defaulted["tokens"].append("classes")
    prices = tuple(
        ModelClassPrice(
            name=name, model=c.model, quant=c.quant, usd_per_m_input=c.input, usd_per_m_output=c.output
        )
        for name, c in classes.items()
    )
    in_tokens = m.scalar("tokens", "input_tokens_per_request")
    out_tokens = m.scalar("tokens", "output_tokens_per_request")
    ai = AiInputs(
        rent_usd_per_hour=m.table("rent", "usd_per_gpu_hour", by_gpu=True),
        rental_utilisation=m.scalar("rent", "rental_utilisation"),
        marketplace_fee=m.scalar("rent", "marketplace_fee"),
        token_prices=prices,
        max_utilisation=m.scalar("tokens", "max_utilisation"),
        input_tokens_per_request=in_tokens,
        output_tokens_per_request=out_tokens,
        parallel=m.scalar("tokens", "parallel"),
        context=m.scalar("tokens", "context"),
        max_parallel=m.scalar("tokens", "max_parallel"),
        demand=_demand(m, in_tokens + out_tokens, demand),
    )
    unknown = [c.name for c in ai.demand.classes if ai.price(c.name) is None]
    if unknown:
        names = [p.name for p in ai.token_prices]
        raise InputError(
            [
                Problem(
                    f"demand names price class {name!r}, which has no token prices",
                    source=ai.demand.source,
                    field=name,
                    expected="one of " + ", ".join(names),
                    suggestions=did_you_mean(name, names),
                )
                for name in unknown
            ]
        )
    return ai
