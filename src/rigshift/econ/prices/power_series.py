"""Power price series: ERCOT's published CSVs and a plain `timestamp,price` CSV.

ERCOT prices are $/MWh; rigshift works in $/kWh. A flat (always-on) load pays the series'
time-weighted mean; the series is assumed regular (one row per hour, per 15 minutes, or per
the plain file's own median step).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from datetime import datetime
from pathlib import Path

from rigshift.econ.inputs import PriceSeriesSummary
from rigshift.errors import InputError, Problem, UnknownNameError
from rigshift.readers.limits import LIMITS, read_text
from rigshift.suggest import did_you_mean

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
FORMATS = ("auto", "ercot-dam", "ercot-rtm", "ercot-dam-annual", "plain")
PLAIN_COLUMNS = (("price_usd_per_mwh", 1e-3), ("price_usd_mwh", 1e-3), ("price_usd_kwh", 1.0), ("price", 1.0))
MAX_ROWS = 1_100_000  # one settlement point's 5-minute prices for ten years; ERCOT files hold fewer
MAX_ABS_PRICE = 1e6  # $/MWh; ERCOT's cap is 5,000 (negative prices are real)


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


def read_power_series(
    path: Path, fmt: str = "auto", settlement_point: str | None = None
) -> PriceSeriesSummary:
    source = str(path)
    if fmt not in FORMATS:
        raise UnknownNameError(
            Problem(
                f"unknown series format {fmt!r}",
                source=source,
                field="format",
                suggestions=did_you_mean(fmt, FORMATS),
            )
        )
    text = read_text(path, "a price series CSV").removeprefix("\ufeff")  # ERCOT's files may open with a BOM
    reader = csv.DictReader(io.StringIO(text))
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
    if kind == "ercot-dam-annual":  # the same report with spaced column names
        rows = [
            {
                "DeliveryDate": r.get("Delivery Date", ""),
                "HourEnding": r.get("Hour Ending", ""),
                "SettlementPoint": r.get("Settlement Point", ""),
                "SettlementPointPrice": r.get("Settlement Point Price", ""),
            }
            for r in rows
        ]
        kind = "ercot-dam"
    if kind in ("ercot-dam", "ercot-rtm"):
        return _ercot(rows, kind, source, settlement_point)
    return _plain(rows, header, source)


def _ercot(rows: list[dict[str, str]], kind: str, source: str, point: str | None) -> PriceSeriesSummary:
    point_col = "SettlementPoint" if kind == "ercot-dam" else "SettlementPointName"
    points = sorted({(r.get(point_col) or "").strip() for r in rows})
    if point is None:
        if len(points) != 1:
            raise InputError(
                Problem(
                    f"the file holds {len(points)} settlement points; choose one",
                    source=source,
                    field="settlement_point",
                    expected="one of " + ", ".join(points[:8]) + (" …" if len(points) > 8 else ""),
                )
            )
        point = points[0]
    if point not in points:
        raise UnknownNameError(
            Problem(
                f"settlement point {point!r} is not in the file",
                source=source,
                field="settlement_point",
                suggestions=did_you_mean(point, points),
            )
        )
    prices, stamps = [], []
    for line, row in enumerate(rows, start=2):
        if (row.get(point_col) or "").strip() != point:
            continue
        prices.append(_number(row.get("SettlementPointPrice"), source, line, "SettlementPointPrice") / 1000.0)
        if kind == "ercot-dam":
            stamps.append(
                f"{(row.get('DeliveryDate') or '').strip()} HE {(row.get('HourEnding') or '').strip()}"
            )
        else:
            stamps.append(
                f"{(row.get('DeliveryDate') or '').strip()} H{(row.get('DeliveryHour') or '').strip()}"
                f" I{(row.get('DeliveryInterval') or '').strip()}"
            )
    step_h = 1.0 if kind == "ercot-dam" else 0.25
    return _summary(source, prices, stamps, step_h, point)


def _plain(rows: list[dict[str, str]], header: set[str], source: str) -> PriceSeriesSummary:
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
    prices, stamps, times = [], [], []
    for line, row in enumerate(rows, start=2):
        stamp = (row.get("timestamp") or "").strip()
        try:
            times.append(datetime.fromisoformat(stamp))
        except ValueError:
            raise InputError(
                Problem(
                    f"not a timestamp: {stamp!r}",
                    source=source,
                    location=f"line {line}",
                    field="timestamp",
                    expected="ISO 8601, e.g. 2026-07-01T14:00",
                )
            ) from None
        prices.append(_number(row.get(column), source, line, column) * scale)
        stamps.append(stamp)
    try:
        steps = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(times)]
    except TypeError:  # some stamps carry a UTC offset and some do not
        raise InputError(
            Problem(
                "timestamps mix times with and without a UTC offset",
                source=source,
                field="timestamp",
                expected="all with an offset, or none",
            )
        ) from None
    step_h = statistics.median(steps) if steps else 1.0
    if step_h <= 0:
        raise InputError(Problem("timestamps are not in increasing order", source=source, field="timestamp"))
    return _summary(source, prices, stamps, step_h, None)


def _summary(
    source: str, prices: list[float], stamps: list[str], step_h: float, point: str | None
) -> PriceSeriesSummary:
    if not prices:
        raise InputError(
            Problem("the price series has no rows", source=source, expected="at least one price")
        )
    return PriceSeriesSummary(
        source=source,
        points=len(prices),
        hours=len(prices) * step_h,
        mean_usd_kwh=sum(prices) / len(prices),
        min_usd_kwh=min(prices),
        max_usd_kwh=max(prices),
        first=stamps[0],
        last=stamps[-1],
        settlement_point=point,
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
