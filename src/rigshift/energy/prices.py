"""Power prices through time, per site: the price a site pays in each interval, in $/kWh.

Price CSVs (ERCOT's reports, a plain `timestamp,price` file) are parsed once, by
rigshift.econ.prices.power_series, into a `PriceSeries`; this module adds tariff files (YAML/JSON:
a flat price or a time-of-use table, expanded over a span) and listed series (YAML/JSON under
`series:`: a start, a step and one price per interval, the compact form of a year of prices that
examples/prices/ ships).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rigshift.econ.prices.power_series import CSV_FORMATS, MAX_ABS_PRICE, PriceSeries, parse_price_csv
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.readers.limits import read_text
from rigshift.readers.models import YamlDocument
from rigshift.suggest import did_you_mean

FORMATS = (*CSV_FORMATS, "tariff", "series")
# The bundled year (examples/prices/README.md; the package holds it as a link to that file):
# what `energy simulate --demo` replays when no --prices is given.
DEMO_PRICES = Path(__file__).parent / "data" / "ercot_hb_north_dam_2024.yaml"
DEMO_PRICES_NAME = "ERCOT day-ahead 2024, HB_NORTH (bundled: examples/prices/ercot_hb_north_dam_2024.yaml)"


def read_price_series(
    path: Path,
    fmt: str = "auto",
    settlement_point: str | None = None,
    span: tuple[float, float] | None = None,
) -> PriceSeries:
    """Any price file rigshift knows, as a regular series of UTC intervals.

    A tariff file (YAML/JSON) needs `span` (unix start, end) unless it names its own.
    """
    source = str(path)
    if fmt not in FORMATS:
        raise UnknownNameError(
            Problem(
                f"unknown price format {fmt!r}",
                source,
                field="format",
                suggestions=did_you_mean(fmt, FORMATS),
            )
        )
    document = fmt in ("tariff", "series") or (
        fmt == "auto" and path.suffix.lower() in (".yaml", ".yml", ".json")
    )
    text = read_text(path, "a tariff or a listed series (YAML/JSON)" if document else "a price series CSV")
    if not document:
        return parse_price_csv(text, source, fmt, settlement_point)
    parsed = YamlDocument(text, source, "a tariff or a listed price series (docs/energy.md)")
    listed = fmt == "series" or (fmt == "auto" and isinstance(parsed.data, dict) and "series" in parsed.data)
    if listed:
        return listed_series(parsed, source, settlement_point)
    return tariff_series(parse_tariff(parsed, source), span, source)


# --- listed series ------------------------------------------------------------------------------

Price = Annotated[float, Field(ge=-MAX_ABS_PRICE, le=MAX_ABS_PRICE, allow_inf_nan=False)]


class ListedSeries(BaseModel):
    """One price per interval from `start`, `step_minutes` apart: a year of hourly prices in ~60 KB."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="where the prices were published (a public URL)")
    settlement_point: str | None = None
    market: Literal["day-ahead", "real-time"]
    start: datetime = Field(description="the first interval's start, with its UTC offset")
    step_minutes: Literal[5, 15, 60]
    usd_per_mwh: list[Price] = Field(min_length=1)


def listed_series(document: YamlDocument, source: str, settlement_point: str | None = None) -> PriceSeries:
    data = document.data
    if not isinstance(data, dict) or "series" not in data:
        raise InputError(
            Problem("no `series:` mapping", source, expected="series: {start, step_minutes, ...}")
        )
    listed = document.validate(ListedSeries, data["series"], at=("series",))
    if listed.start.tzinfo is None:
        raise InputError(
            Problem(
                "start has no UTC offset",
                source,
                field="series.start",
                expected="e.g. 2024-01-01T00:00:00-06:00",
            )
        )
    if settlement_point is not None and settlement_point != listed.settlement_point:
        raise InputError(
            Problem(
                f"no settlement point {settlement_point!r}",
                source,
                field="--settlement-point",
                expected=f"{listed.settlement_point} (the only one in this file)",
            )
        )
    step = listed.step_minutes * 60
    first = int(listed.start.timestamp())
    starts = first + step * np.arange(len(listed.usd_per_mwh), dtype=np.int64)
    prices = np.asarray(listed.usd_per_mwh, dtype=float) / 1000
    label = f"{source} ({listed.source})"
    return PriceSeries(starts, prices, step, label, listed.market, listed.settlement_point)


def listed_series_yaml(series: PriceSeries, published_at: str, heading: str, per_line: int = 24) -> str:
    """`series` as a listed-series document (what examples/prices/ ships), `per_line` prices a line."""
    if series.kind not in ("day-ahead", "real-time"):
        raise ValueError(f"a listed series is day-ahead or real-time, not {series.kind}")
    start = datetime.fromtimestamp(series.start, UTC).isoformat()
    values = [f"{round(p * 1000, 2):g}" for p in series.usd_per_kwh.tolist()]
    rows = [", ".join(values[i : i + per_line]) for i in range(0, len(values), per_line)]
    body = ",\n    ".join(rows)
    comments = "".join(f"# {line}\n" for line in heading.splitlines())
    return (
        f"{comments}series:\n"
        f"  source: {published_at}\n"
        f"  settlement_point: {series.settlement_point}\n"
        f"  market: {series.kind}\n"
        f"  start: {start}\n"
        f"  step_minutes: {series.step_s // 60}\n"
        f"  usd_per_mwh: [\n    {body}]\n"
    )


# --- tariffs --------------------------------------------------------------------------------------


class TouPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    usd_per_kwh: float
    hours: tuple[int, int] = (0, 24)  # local [start, end) hours
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday = 0
    months: tuple[int, ...] = tuple(range(1, 13))


class Tariff(BaseModel):
    """A contract price: flat (`usd_per_kwh` only) or time of use (`periods`, first match wins)."""

    model_config = ConfigDict(extra="forbid")
    name: str = "tariff"
    usd_per_kwh: float = Field(description="the price outside every period (the whole price when flat)")
    timezone: str = "UTC"
    periods: tuple[TouPeriod, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    step_minutes: int = Field(default=60, ge=5, le=60)
    source: str | None = None

    def price_at(self, moment: datetime) -> float:
        local = moment.astimezone(ZoneInfo(self.timezone))
        for period in self.periods:
            lo, hi = period.hours
            if local.month in period.months and local.weekday() in period.weekdays and lo <= local.hour < hi:
                return period.usd_per_kwh
        return self.usd_per_kwh


def parse_tariff(text: str | YamlDocument, source: str) -> Tariff:
    document = (
        text if isinstance(text, YamlDocument) else YamlDocument(text, source, "a tariff (docs/energy.md)")
    )
    data, at = document.data, tuple[str, ...]()
    if isinstance(data, dict) and "tariff" in data:
        data, at = data["tariff"], ("tariff",)
    tariff = document.validate(Tariff, data, at=at)
    try:
        ZoneInfo(tariff.timezone)
    except (KeyError, ValueError):
        raise InputError(
            Problem(f"unknown time zone {tariff.timezone!r}", source, field="timezone")
        ) from None
    return tariff


def tariff_series(tariff: Tariff, span: tuple[float, float] | None, source: str) -> PriceSeries:
    """The tariff expanded interval by interval over `span` (or the tariff's own start/end)."""
    if span is None:
        if tariff.start is None or tariff.end is None:
            raise InputError(
                Problem(
                    "a tariff needs a span", source, field="start/end", expected="start: and end: in the file"
                )
            )
        span = (_aware(tariff.start).timestamp(), _aware(tariff.end).timestamp())
    step = tariff.step_minutes * 60
    starts = np.arange(int(span[0]) // step * step, int(span[1]), step, dtype=np.int64)
    if not tariff.periods:
        prices = np.full(len(starts), tariff.usd_per_kwh)
    else:
        prices = np.array([tariff.price_at(datetime.fromtimestamp(int(t), UTC)) for t in starts])
    return PriceSeries(starts, prices, step, tariff.source or source, "tariff", None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
