"""Power prices through time, per site: the price a site pays in each interval, in $/kWh.

Price CSVs (ERCOT's reports, a plain `timestamp,price` file) are parsed once, by
rigshift.econ.prices.power_series, into a `PriceSeries`; this module adds tariff files (YAML/JSON:
a flat price or a time-of-use table, expanded over a span) and the feeds' helpers (`concat`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rigshift.econ.prices.power_series import CSV_FORMATS, PriceSeries, parse_price_csv
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.readers.limits import read_text
from rigshift.readers.models import YamlDocument
from rigshift.suggest import did_you_mean

FORMATS = (*CSV_FORMATS, "tariff")


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
    tariff = fmt == "tariff" or (fmt == "auto" and path.suffix.lower() in (".yaml", ".yml", ".json"))
    text = read_text(path, "a tariff (YAML/JSON)" if tariff else "a price series CSV")
    if tariff:
        return tariff_series(parse_tariff(text, source), span, source)
    return parse_price_csv(text, source, fmt, settlement_point)


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


def parse_tariff(text: str, source: str) -> Tariff:
    document = YamlDocument(text, source, "a tariff (docs/energy.md)")
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
