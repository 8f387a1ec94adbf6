"""Live ERCOT prices from ERCOT's Public API (api.ercot.com/api/public-reports).

Two reports: NP6-905-CD `spp_node_zone_hub` (real-time settlement point prices, 15-minute) and
NP4-190-CD `dam_stlmnt_pnt_prices` (day-ahead, hourly; tomorrow's curve is published around
13:30 Central). Every request carries two credentials: the subscription key
(`Ocp-Apim-Subscription-Key`) and an id token from ERCOT's B2C login (`Authorization: Bearer`),
valid for an hour. The answer is JSON: `fields` (column names, in order), `data` (rows as lists)
and `_meta.totalPages`; pages are fetched until the last.

The HTTP transport is injectable (tests pass an `httpx.MockTransport`; no network in tests), and
so is the token: a callable that returns a current id token (`b2c_token` logs in with a username
and password; operators with their own token refresh pass theirs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx

from rigshift.econ.prices.power_series import PriceSeries, ercot_interval_start, regular_series
from rigshift.errors import BackendError, InputError, Problem

BASE_URL = "https://api.ercot.com/api/public-reports"
REAL_TIME = "/np6-905-cd/spp_node_zone_hub"
DAY_AHEAD = "/np4-190-cd/dam_stlmnt_pnt_prices"
TOKEN_URL = "https://ercotb2c.b2clogin.com/ercotb2c.onmicrosoft.com/B2C_1_PUBAPI-ROPC-FLOW/oauth2/v2.0/token"
CLIENT_ID = "fec253ea-0d06-4272-a5e6-b478baeecd70"  # ERCOT's public-API application id (their docs)
PAGE_SIZE = 10_000


def b2c_token(
    username: str,
    password: str,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[], str]:
    """A token source that logs in with ERCOT's resource-owner flow and renews after 50 minutes."""
    cached: dict[str, Any] = {}

    def token() -> str:
        if cached.get("until", 0.0) > clock():
            return str(cached["token"])
        with httpx.Client(transport=transport, timeout=20) as client:
            response = client.post(
                TOKEN_URL,
                data={
                    "grant_type": "password",
                    "username": username,
                    "password": password,
                    "response_type": "id_token",
                    "scope": f"openid {CLIENT_ID} offline_access",
                    "client_id": CLIENT_ID,
                },
            )
        body = _json(response, "ERCOT login")
        if "id_token" not in body:
            raise BackendError(
                f"ERCOT login refused: {body.get('error_description') or body.get('error') or body}"
            )
        cached.update(token=body["id_token"], until=clock() + 50 * 60)
        return str(body["id_token"])

    return token


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise BackendError(f"{what}: HTTP {response.status_code} {response.text[:200]}")
    try:
        body = response.json()
    except ValueError:
        raise BackendError(f"{what}: the answer is not JSON: {response.text[:200]!r}") from None
    if not isinstance(body, dict):
        raise BackendError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


@dataclass
class ErcotApi:
    """One settlement point's prices from the live API, as a `PriceSeries` in $/kWh."""

    subscription_key: str
    token: Callable[[], str]
    settlement_point: str = "HB_NORTH"
    transport: httpx.BaseTransport | None = None
    base_url: str = BASE_URL
    timeout_s: float = 30.0
    _client: httpx.Client | None = field(default=None, repr=False)

    def _rows(self, report: str, params: dict[str, str]) -> list[dict[str, Any]]:
        if self._client is None:
            self._client = httpx.Client(transport=self.transport, timeout=self.timeout_s)
        rows: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            try:
                response = self._client.get(
                    self.base_url + report,
                    params={
                        **params,
                        "settlementPoint": self.settlement_point,
                        "page": page,
                        "size": PAGE_SIZE,
                    },
                    headers={
                        "Ocp-Apim-Subscription-Key": self.subscription_key,
                        "Authorization": f"Bearer {self.token()}",
                    },
                )
            except httpx.HTTPError as error:
                raise BackendError(f"ERCOT API {report}: {error}") from None
            body = _json(response, f"ERCOT API {report}")
            names = [str(f.get("name")) for f in body.get("fields", [])]
            rows.extend(dict(zip(names, row, strict=False)) for row in body.get("data", []))
            pages = int((body.get("_meta") or {}).get("totalPages") or 1)
            page += 1
        return rows

    def real_time(self, day_from: date, day_to: date) -> PriceSeries:
        """15-minute real-time prices for the delivery days [day_from, day_to] (inclusive)."""
        rows = self._rows(
            REAL_TIME, {"deliveryDateFrom": day_from.isoformat(), "deliveryDateTo": day_to.isoformat()}
        )
        points = []
        for row in rows:
            day = _day(row.get("deliveryDate"))
            start = ercot_interval_start(
                day,
                int(row["deliveryHour"]),
                15 * (int(row["deliveryInterval"]) - 1),
                _flag(row.get("DSTFlag")),
            )
            points.append((start, float(row["settlementPointPrice"]) / 1000.0))
        return self._series(points, "real-time", 900)

    def day_ahead(self, day_from: date, day_to: date) -> PriceSeries:
        """Hourly day-ahead prices for the delivery days [day_from, day_to] (tomorrow once published)."""
        rows = self._rows(
            DAY_AHEAD, {"deliveryDateFrom": day_from.isoformat(), "deliveryDateTo": day_to.isoformat()}
        )
        points = []
        for row in rows:
            hour = int(str(row["hourEnding"]).split(":")[0])
            start = ercot_interval_start(_day(row.get("deliveryDate")), hour, 0, _flag(row.get("DSTFlag")))
            points.append((start, float(row["settlementPointPrice"]) / 1000.0))
        return self._series(points, "day-ahead", 3600)

    def _series(self, points: list[tuple[float, float]], kind: Any, step: int) -> PriceSeries:
        if not points:
            raise BackendError(f"ERCOT API: no {kind} prices for {self.settlement_point} in that range")
        return regular_series(points, f"ERCOT API {self.settlement_point}", kind, self.settlement_point, step)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _day(value: Any) -> date:
    text = str(value or "")
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    raise InputError(Problem(f"ERCOT API: not a delivery date: {text!r}", "ERCOT API", field="deliveryDate"))


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().upper() in ("Y", "TRUE")
