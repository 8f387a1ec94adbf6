"""Power prices through time, per site: the price a site pays in each interval, in $/kWh.

Econ reduces a price file to its mean (`rigshift.econ.prices.read_power_series`); the energy
policy needs the series itself, interval by interval. The same files are read here, with their
timestamps turned into UTC instants:

- plain CSV: `timestamp,price` ($/kWh), `price_usd_kwh`, `price_usd_mwh` or `price_usd_per_mwh`
  (the shared ERCOT extracts); ISO 8601 timestamps, the start of each interval; a timestamp
  without an offset is read as UTC;
- ERCOT NP4-190-CD (day-ahead, hourly) and NP6-905-CD (real-time, 15-minute) as published;
- ERCOT's annual day-ahead workbook exported to CSV (NP4-180-ER, `Delivery Date, Hour Ending,
  Repeated Hour Flag, Settlement Point, Settlement Point Price`);
- a tariff file (YAML/JSON): a flat price or a time-of-use table, expanded over a span.

ERCOT publishes hour-ending local times (Central Prevailing Time). On the fall-back day the
repeated hour carries the DST flag "Y" (second occurrence); on the spring-forward day HE03 is
missing. Both are handled by building the local time with `fold` and converting to UTC.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rigshift.econ.prices.power_series import ANNUAL_COLUMNS, DAM_COLUMNS, PLAIN_COLUMNS, RTM_COLUMNS
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.suggest import did_you_mean

ERCOT_TZ = ZoneInfo("America/Chicago")
PLAIN_PRICE_COLUMNS = PLAIN_COLUMNS
FORMATS = ("auto", "plain", "ercot-dam", "ercot-rtm", "ercot-dam-annual", "tariff")
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


# --- CSV files ---------------------------------------------------------------------------------


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
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(Problem(f"cannot read the price file: {error.strerror}", source)) from None
    if fmt == "tariff" or (fmt == "auto" and path.suffix.lower() in (".yaml", ".yml", ".json")):
        return tariff_series(parse_tariff(text, source), span, source)
    return parse_price_csv(text, source, fmt, settlement_point)


def parse_price_csv(
    text: str, source: str, fmt: str = "auto", settlement_point: str | None = None
) -> PriceSeries:
    reader = csv.DictReader(text.splitlines())
    header = {h.strip() for h in (reader.fieldnames or [])}
    kind = _detect(header, source) if fmt == "auto" else fmt
    rows = list(reader)
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
    if "timestamp" in header and {c for c, _ in PLAIN_PRICE_COLUMNS} & header:
        return "plain"
    raise InputError(
        Problem(
            f"unrecognised price columns: {', '.join(sorted(header)) or '(none)'}",
            source,
            location="line 1",
            expected="timestamp,price (or price_usd_kwh / price_usd_mwh / price_usd_per_mwh), ERCOT NP4-190-CD, "
            "NP6-905-CD or NP4-180-ER (Delivery Date,Hour Ending,Repeated Hour Flag,Settlement Point,"
            "Settlement Point Price)",
        )
    )


def _number(text: str | None, source: str, line: int, field: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise InputError(Problem(f"not a number: {text!r}", source, f"line {line}", field, "a price"))
    return value


def _plain(rows: list[dict[str, str]], header: set[str], source: str) -> PriceSeries:
    column, scale = next((c, s) for c, s in PLAIN_PRICE_COLUMNS if c in header)
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
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(Problem(f"not valid YAML/JSON: {error}", source)) from None
    if isinstance(data, dict) and "tariff" in data:
        data = data["tariff"]
    try:
        tariff = Tariff.model_validate(data)
        ZoneInfo(tariff.timezone)
    except ValidationError as error:
        first = error.errors()[0]
        where = "$." + ".".join(str(p) for p in first["loc"])
        raise InputError(Problem(first["msg"], source, location=where, field=str(first["loc"][-1]))) from None
    except (KeyError, ValueError):
        raise InputError(
            Problem(f"unknown time zone {data.get('timezone')!r}", source, field="timezone")
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


def flat_series(usd_per_kwh: float, start: float, end: float, step_s: int = 3600) -> PriceSeries:
    starts = np.arange(int(start), int(end), step_s, dtype=np.int64)
    return PriceSeries(
        starts, np.full(len(starts), usd_per_kwh), step_s, f"flat {usd_per_kwh} $/kWh", "tariff"
    )


def concat(series: Sequence[PriceSeries]) -> PriceSeries:
    """Join series of one step (the live feed's pages, or days); later duplicates win."""
    if not series:
        raise ValueError("nothing to join")
    step = series[0].step_s
    merged: dict[int, float] = {}
    for s in series:
        merged.update(zip(s.starts.tolist(), s.usd_per_kwh.tolist(), strict=True))
    points = [(float(t), p) for t, p in merged.items()]
    return regular_series(points, series[0].source, series[0].kind, series[0].settlement_point, step)
