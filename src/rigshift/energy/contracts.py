"""Per-site power contracts and programs: what a site pays for power beyond the hour's price.

Power file (`rigshift energy simulate --power FILE`, YAML or JSON)::

    voll_usd_per_mwh: 3000          # optional: the SLO replicas' price ceiling (default: revenue at risk)
    sites:
      tx-ercot:
        contract: {kind: fixed, usd_per_mwh: 32, mw: 0.4}    # or {kind: index} (the default)
        demand_response: {usd_per_event: 1500, usd_per_mwh_shed: 0}
        four_cp: {peaks: peaks-2024.csv, usd_per_kw_year: 55.0, timezone: America/Chicago}

- **index**: the site pays the hour's price for what it draws.
- **fixed**: the site buys `mw` at `usd_per_mwh` every hour (take or pay) and resells what it does
  not draw at the hour's price (a power credit); above `mw` it pays the hour's price. The cost of
  running one more kWh is then the hour's price either way (the credit it gives up), so the
  policy decides on the market price under both contracts.
- **demand_response**: what the site is paid for each event it honours in full (under its target
  in every interval), plus per MWh shed below the policy's own draw.
- **four_cp**: ERCOT's transmission charge is set by the site's mean draw in the four summer
  coincident peak intervals (June-September): `usd_per_kw_year` x that mean kW, prorated over the
  simulated span. `peaks`: a file of the peak intervals (one ISO 8601 start per line, or a CSV with
  a `timestamp` column). The policy cannot know them in advance: it applies `policy.peak_risk`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rigshift.errors import InputError, Problem
from rigshift.readers.limits import read_text
from rigshift.readers.models import read_model


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["index", "fixed"] = "index"
    usd_per_mwh: float = Field(default=0.0, description="the fixed price (kind: fixed)")
    mw: float = Field(default=0.0, ge=0, description="the power bought every hour (kind: fixed)")

    @model_validator(mode="after")
    def _fixed_needs_terms(self) -> Contract:
        if self.kind == "fixed" and self.mw <= 0:
            raise ValueError("a fixed-price contract needs mw > 0 (and usd_per_mwh)")
        return self


class DemandResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usd_per_event: float = Field(default=0.0, ge=0)
    usd_per_mwh_shed: float = Field(default=0.0, ge=0)


class FourCp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    peaks: Path
    usd_per_kw_year: float = Field(ge=0)
    timezone: str = "America/Chicago"


class SitePower(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contract: Contract = Contract()
    demand_response: DemandResponse = DemandResponse()
    four_cp: FourCp | None = None


class PowerTerms(BaseModel):
    """The power file: per-site contracts and programs, and the SLO replicas' ceiling."""

    model_config = ConfigDict(extra="forbid")
    voll_usd_per_mwh: float | None = Field(default=None, gt=0)
    sites: dict[str, SitePower] = Field(default_factory=dict)

    def site(self, name: str) -> SitePower:
        return self.sites.get(name, SitePower())


def read_power_terms(path: Path) -> PowerTerms:
    terms = read_model(PowerTerms, path, "a power contracts file (docs/energy.md)", empty={})
    # peak files are named relative to the power file
    sites = {}
    for name, site in terms.sites.items():
        if site.four_cp is not None and not site.four_cp.peaks.is_absolute():
            site = site.model_copy(
                update={
                    "four_cp": site.four_cp.model_copy(update={"peaks": path.parent / site.four_cp.peaks})
                }
            )
        sites[name] = site
    return terms.model_copy(update={"sites": sites})


def read_peaks(path: Path) -> np.ndarray:
    """The 4CP peak intervals (unix seconds, UTC starts) of a file: ISO 8601 per line or a CSV
    with a `timestamp` column; no offset = UTC."""
    text = read_text(path, "4CP peak intervals")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if lines and "timestamp" in lines[0]:
        values = [row["timestamp"] for row in csv.DictReader(io.StringIO("\n".join(lines)))]
        first = 2
    else:
        values, first = lines, 1
    out = []
    for n, value in enumerate(values):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                Problem(
                    f"not a time: {value!r}",
                    str(path),
                    location=f"line {n + first}",
                    expected="an ISO 8601 interval start, e.g. 2024-08-20T16:30:00-05:00",
                )
            ) from None
        out.append((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return np.array(sorted(out), dtype=np.int64)


def local_hours(starts: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(local hour, month, weekday Monday = 0) of each instant, by its UTC offset on that day."""
    zone = ZoneInfo(timezone)
    days = starts // 86400
    offsets = {}
    for day in np.unique(days):
        noon = datetime.fromtimestamp(int(day) * 86400 + 43200, UTC).astimezone(zone)
        offsets[int(day)] = int(noon.utcoffset().total_seconds())  # type: ignore[union-attr]
    local = starts + np.vectorize(offsets.__getitem__, otypes=[np.int64])(days)
    hour = (local % 86400) // 3600
    local_days = local // 86400
    weekday = (local_days + 3) % 7  # 1970-01-01 was a Thursday
    months = np.array([datetime.fromtimestamp(int(d) * 86400, UTC).month for d in local_days], dtype=np.int64)
    return hour, months, weekday


__all__ = [
    "Contract",
    "DemandResponse",
    "FourCp",
    "PowerTerms",
    "SitePower",
    "local_hours",
    "read_peaks",
    "read_power_terms",
]
