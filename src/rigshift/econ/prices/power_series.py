"""Power price files as a regular series of UTC intervals ($/kWh): the one parser of them.

Econ reduces a series to its mean and duration curve (`read_power_series`); the energy policy
and its simulation read it interval by interval (rigshift.energy.prices adds tariffs). Formats:

- plain CSV: `timestamp,price` ($/kWh), `price_usd_kwh`, `price_usd_mwh` or `price_usd_per_mwh`
  (the shared ERCOT extracts); ISO 8601 timestamps, the start of each interval; a timestamp
  without an offset is read as UTC;
- ERCOT NP4-190-CD (day-ahead, hourly) and NP6-905-CD (real-time, 15-minute) as published;
- ERCOT's annual day-ahead workbook exported to CSV (NP4-180-ER, `Delivery Date, Hour Ending,
  Repeated Hour Flag, Settlement Point, Settlement Point Price`).

ERCOT prices are $/MWh; rigshift works in $/kWh. ERCOT publishes hour-ending local times (Central
Prevailing Time). On the fall-back day the repeated hour carries the DST flag "Y" (second
occurrence); on the spring-forward day HE03 is missing. Both are handled by building the local
time with `fold` and converting to UTC. A series must be regular (one price per interval): a gap
is an error, not a guess.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from rigshift.econ.inputs import PriceSeriesSummary
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.readers.limits import LIMITS, read_text
from rigshift.suggest import did_you_mean

ERCOT_TZ = ZoneInfo("America/Chicago")
DAM_COLUMNS = {"DeliveryDate", "HourEnding", "SettlementPoint", "SettlementPointPrice"}
RTM_COLUMNS = {
    "DeliveryDate",
    "DeliveryHour",
    "DeliveryInterval",
    "SettlementPointName",
    "SettlementPointPrice",
}
# ERCOT's annual day-ahead workbook (NP4-180-ER) as CSV: the shared 2024 file's columns.
ANNUAL_COLUMNS = {
    "Delivery Date",
    "Hour Ending",
    "Repeated Hour Flag",
    "Settlement Point",
    "Settlement Point Price",
}
CSV_FORMATS = ("auto", "ercot-dam", "ercot-rtm", "ercot-dam-annual", "plain")
PLAIN_COLUMNS = (("price_usd_per_mwh", 1e-3), ("price_usd_mwh", 1e-3), ("price_usd_kwh", 1.0), ("price", 1.0))
MAX_ROWS = 1_100_000  # one settlement point's 5-minute prices for ten years; ERCOT files hold fewer
MAX_ABS_PRICE = 1e6  # $/MWh; ERCOT's cap is 5,000 (negative prices are real)
Kind = Literal["day-ahead", "real-time", "tariff", "unknown"]


@dataclass(frozen=True)
class PriceSeries:
    """Regular intervals: `starts[i]` (unix seconds, UTC) costs `usd_per_kwh[i]` for `step_s`."""

    starts: np.ndarray  # int64, increasing, evenly spaced by step_s
    usd_per_kwh: np.ndarray  # float64
    step_s: int
    source: str
    kind: Kind = "unknown"
    settlement_point: str | None = None

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.usd_per_kwh):
            raise ValueError("starts and prices differ in length")

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def start(self) -> int:
        return int(self.starts[0])

    @property
    def end(self) -> int:
        """The end of the last interval."""
        return int(self.starts[-1]) + self.step_s

    def index_at(self, t: float) -> int | None:
        """The interval that holds instant `t`, or None outside the series."""
        if not len(self) or t < self.start or t >= self.end:
            return None
        return int((t - self.start) // self.step_s)

    def price_at(self, t: float) -> float | None:
        i = self.index_at(t)
        return None if i is None else float(self.usd_per_kwh[i])

    def window(self, t0: float, t1: float) -> PriceSeries:
        """The intervals that start in [t0, t1)."""
        mask = (self.starts >= t0) & (self.starts < t1)
        return PriceSeries(
            self.starts[mask],
            self.usd_per_kwh[mask],
            self.step_s,
            self.source,
            self.kind,
            self.settlement_point,
        )

    def resample(self, step_s: int) -> PriceSeries:
        """On a finer step each interval keeps its price (an hourly price holds for its four
        quarters); on a coarser step the mean of the intervals it covers."""
        if step_s == self.step_s or not len(self):
            return self
        if step_s < self.step_s:
            if self.step_s % step_s:
                raise InputError(f"cannot split {self.step_s} s intervals into {step_s} s", field="step")
            k = self.step_s // step_s
            starts = (self.starts[:, None] + np.arange(k, dtype=np.int64)[None, :] * step_s).ravel()
            return PriceSeries(
                starts, np.repeat(self.usd_per_kwh, k), step_s, self.source, self.kind, self.settlement_point
            )
        if step_s % self.step_s:
            raise InputError(f"cannot merge {self.step_s} s intervals into {step_s} s", field="step")
        k = step_s // self.step_s
        n = len(self) // k
        prices = self.usd_per_kwh[: n * k].reshape(n, k).mean(axis=1)
        return PriceSeries(
            self.starts[: n * k : k], prices, step_s, self.source, self.kind, self.settlement_point
        )

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "settlement_point": self.settlement_point,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "intervals": len(self),
            "step_minutes": self.step_s // 60,
            "mean_usd_mwh": round(float(self.usd_per_kwh.mean()) * 1000, 3) if len(self) else None,
            "min_usd_mwh": round(float(self.usd_per_kwh.min()) * 1000, 3) if len(self) else None,
            "max_usd_mwh": round(float(self.usd_per_kwh.max()) * 1000, 3) if len(self) else None,
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def read_power_series(
    path: Path, fmt: str = "auto", settlement_point: str | None = None
) -> PriceSeriesSummary:
    """A price CSV reduced to what econ prices with: its mean, range and duration curve."""
    return summarise(read_price_csv(path, fmt, settlement_point))


def read_price_csv(path: Path, fmt: str = "auto", settlement_point: str | None = None) -> PriceSeries:
    """A price CSV (within the readers' limits) as a regular series."""
    source = str(path)
    if fmt not in CSV_FORMATS:
        raise UnknownNameError(
            Problem(
                f"unknown series format {fmt!r}",
                source=source,
                field="format",
                suggestions=did_you_mean(fmt, CSV_FORMATS),
            )
        )
    return parse_price_csv(read_text(path, "a price series CSV"), source, fmt, settlement_point)


def parse_price_csv(
    text: str, source: str, fmt: str = "auto", settlement_point: str | None = None
) -> PriceSeries:
    """A price CSV's text as a regular series (`fmt` "auto": told by its columns)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))  # ERCOT's files may open with a BOM
    try:
        header = {h.strip() for h in (reader.fieldnames or [])}
        if len(header) > LIMITS.csv_columns:
            raise InputError(
                Problem(
                    f"{len(header):,} columns",
                    source=source,
                    location="line 1",
                    expected="a price series CSV",
                )
            )
        kind = _detect(header, source) if fmt == "auto" else fmt
        rows = list(itertools.islice(reader, MAX_ROWS + 1))
    except csv.Error as error:  # a NUL byte, a field over the csv module's limit
        raise InputError(
            Problem(f"not valid CSV: {error}", source=source, location=f"line {reader.line_num}")
        ) from None
    if len(rows) > MAX_ROWS:
        raise InputError(
            Problem(
                f"more than {MAX_ROWS:,} rows",
                source=source,
                expected=f"at most {MAX_ROWS:,} prices (ten years of 5-minute prices)",
            )
        )
    if kind == "plain":
        return _plain(rows, header, source)
    columns = {
        "ercot-dam": ("DeliveryDate", "HourEnding", "DSTFlag", "SettlementPoint", "SettlementPointPrice"),
        "ercot-dam-annual": (
            "Delivery Date",
            "Hour Ending",
            "Repeated Hour Flag",
            "Settlement Point",
            "Settlement Point Price",
        ),
        "ercot-rtm": (
            "DeliveryDate",
            "DeliveryHour",
            "DSTFlag",
            "SettlementPointName",
            "SettlementPointPrice",
        ),
    }[kind]
    return _ercot(rows, kind, columns, source, settlement_point)


def _detect(header: set[str], source: str) -> str:
    if header >= DAM_COLUMNS:
        return "ercot-dam"
    if header >= RTM_COLUMNS:
        return "ercot-rtm"
    if header >= ANNUAL_COLUMNS:
        return "ercot-dam-annual"
    if "timestamp" in header and ({c for c, _ in PLAIN_COLUMNS} & header):
        return "plain"
    raise InputError(
        Problem(
            f"unrecognised price series columns: {', '.join(sorted(header)) or '(none)'}",
            source=source,
            location="line 1",
            expected="ERCOT NP4-190-CD (DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag), "
            "NP6-905-CD (DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,"
            "SettlementPointPrice,DSTFlag), NP4-180-ER (Delivery Date,Hour Ending,Repeated Hour Flag,"
            "Settlement Point,Settlement Point Price) or timestamp,price (or price_usd_per_mwh)",
        )
    )


def _number(text: str | None, source: str, line: int, field: str) -> float:
    try:
        number = float((text or "").strip())
    except ValueError:
        raise InputError(
            Problem(
                f"not a number: {(text or '')[:40]!r}",
                source=source,
                location=f"line {line}",
                field=field,
                expected="a price",
            )
        ) from None
    if not math.isfinite(number) or abs(number) > MAX_ABS_PRICE:
        raise InputError(
            Problem(
                f"out of range: {(text or '')[:40]!r}",
                source=source,
                location=f"line {line}",
                field=field,
                expected=f"a finite price within ±{MAX_ABS_PRICE:g}",
            )
        )
    return number


def _plain(rows: list[dict[str, str]], header: set[str], source: str) -> PriceSeries:
    found = next(((c, s) for c, s in PLAIN_COLUMNS if c in header), None)
    if found is None or "timestamp" not in header:
        raise InputError(
            Problem(
                "no timestamp and price columns",
                source=source,
                location="line 1",
                expected="timestamp,price (or price_usd_kwh, price_usd_mwh, price_usd_per_mwh)",
            )
        )
    column, scale = found
    points: list[tuple[float, float]] = []
    point_names = {(r.get("settlement_point") or "").strip() for r in rows} - {""}
    for line, row in enumerate(rows, start=2):
        stamp = (row.get("timestamp") or "").strip()
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            raise InputError(
                Problem(
                    f"not a timestamp: {stamp!r}",
                    source,
                    f"line {line}",
                    "timestamp",
                    "ISO 8601, e.g. 2024-07-01T14:00-05:00",
                )
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        points.append((moment.timestamp(), _number(row.get(column), source, line, column) * scale))
    point = next(iter(point_names)) if len(point_names) == 1 else None
    return regular_series(points, source, "unknown", point, None)


def _ercot(
    rows: list[dict[str, str]], kind: str, columns: tuple[str, ...], source: str, point: str | None
) -> PriceSeries:
    date_col, hour_col, dst_col, point_col, price_col = columns
    points_in_file = sorted({(r.get(point_col) or "").strip() for r in rows})
    if point is None:
        if len(points_in_file) != 1:
            raise InputError(
                Problem(
                    f"the file holds {len(points_in_file)} settlement points; choose one",
                    source,
                    field="settlement_point",
                    expected="one of "
                    + ", ".join(points_in_file[:8])
                    + (" …" if len(points_in_file) > 8 else ""),
                )
            )
        point = points_in_file[0]
    if point not in points_in_file:
        raise UnknownNameError(
            Problem(
                f"settlement point {point!r} is not in the file",
                source,
                field="settlement_point",
                suggestions=did_you_mean(point, points_in_file),
            )
        )
    out: list[tuple[float, float]] = []
    days: dict[str, date] = {}
    for line, row in enumerate(rows, start=2):
        if (row.get(point_col) or "").strip() != point:
            continue
        day_text = (row.get(date_col) or "").strip()
        day = days.get(day_text)
        if day is None:
            try:
                day = days[day_text] = datetime.strptime(day_text, "%m/%d/%Y").date()
            except ValueError:
                raise InputError(
                    Problem(f"not a date: {day_text!r}", source, f"line {line}", date_col, "MM/DD/YYYY")
                ) from None
        hour_text = (row.get(hour_col) or "").strip()
        try:
            hour_ending = int(hour_text.split(":")[0])
            if not 1 <= hour_ending <= 24:
                raise ValueError
        except ValueError:
            raise InputError(
                Problem(
                    f"not an hour: {hour_text!r}", source, f"line {line}", hour_col, "1-24 or 01:00-24:00"
                )
            ) from None
        minute = 0
        if kind == "ercot-rtm":
            interval = int(_number(row.get("DeliveryInterval"), source, line, "DeliveryInterval"))
            minute = 15 * (interval - 1)
        repeated = (row.get(dst_col) or "N").strip().upper() == "Y"
        start = ercot_interval_start(day, hour_ending, minute, repeated)
        out.append((start, _number(row.get(price_col), source, line, price_col) / 1000.0))
    kind_name: Kind = "real-time" if kind == "ercot-rtm" else "day-ahead"
    return regular_series(out, source, kind_name, point, 900 if kind == "ercot-rtm" else 3600)


def ercot_interval_start(day: date, hour_ending: int, minute: int, repeated: bool) -> float:
    """The UTC start of an ERCOT interval given in hour-ending Central Prevailing Time."""
    # Aware + timedelta is wall-clock arithmetic in Python; the fold picks the repeated hour.
    wall = datetime(day.year, day.month, day.day, tzinfo=ERCOT_TZ) + timedelta(hours=hour_ending - 1)
    return wall.replace(minute=minute, fold=1 if repeated else 0).timestamp()


def regular_series(
    points: list[tuple[float, float]], source: str, kind: Kind, point: str | None, step: int | None
) -> PriceSeries:
    """Sort by instant, check the step, and return a regular series (a gap is an error, not a guess)."""
    if not points:
        raise InputError(Problem("the price file has no rows", source, expected="at least one price"))
    points.sort()
    starts = np.array([p[0] for p in points], dtype=np.int64)
    prices = np.array([p[1] for p in points], dtype=np.float64)
    steps = np.diff(starts)
    if step is None:
        step = int(np.median(steps)) if len(steps) else 3600
    if step <= 0 or (len(steps) and (steps <= 0).any()):
        dup = int(starts[1:][steps <= 0][0]) if len(steps) and (steps <= 0).any() else 0
        raise InputError(Problem(f"two prices for the same instant {_iso(dup)}", source, field="timestamp"))
    bad = np.nonzero(steps != step)[0]
    if len(bad):
        i = int(bad[0])
        raise InputError(
            Problem(
                f"the series is not regular: {_iso(int(starts[i]))} to {_iso(int(starts[i + 1]))} is "
                f"{int(steps[i]) // 60} min, the file's step is {step // 60} min",
                source,
                field="timestamp",
                expected="one price per interval, no gaps",
            )
        )
    return PriceSeries(starts, prices, step, source, kind, point)


def summarise(series: PriceSeries) -> PriceSeriesSummary:
    """What econ prices with: a flat (always-on) load pays the mean; mining reads the curve."""
    prices = series.usd_per_kwh.tolist()
    return PriceSeriesSummary(
        source=series.source,
        points=len(series),
        hours=len(series) * series.step_s / 3600,
        mean_usd_kwh=sum(prices) / len(prices),
        min_usd_kwh=min(prices),
        max_usd_kwh=max(prices),
        first=_iso(series.start),
        last=_iso(series.end - series.step_s),
        settlement_point=series.settlement_point,
        duration_curve=duration_curve(prices),
    )


def duration_curve(prices: list[float], buckets: int = 48) -> tuple[tuple[float, float], ...]:
    """The prices sorted into at most `buckets` equal-count groups: (mean price, share of hours).

    Kept small so a year of 15-minute prices travels in JSON; the shares weight the means so the
    curve's mean equals the series' mean.
    """
    ordered = sorted(prices)
    n = len(ordered)
    k = min(buckets, n)
    curve = []
    for i in range(k):
        chunk = ordered[i * n // k : (i + 1) * n // k]
        curve.append((sum(chunk) / len(chunk), len(chunk) / n))
    return tuple(curve)
