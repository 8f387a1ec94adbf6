"""The live ERCOT adapter against a mock transport (no network): pages, auth headers, DST rows."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from rigshift.energy.ercot_api import DAY_AHEAD, REAL_TIME, ErcotApi, b2c_token
from rigshift.errors import BackendError

RT_FIELDS = [
    {"name": n}
    for n in (
        "deliveryDate",
        "deliveryHour",
        "deliveryInterval",
        "settlementPoint",
        "settlementPointType",
        "settlementPointPrice",
        "DSTFlag",
    )
]


def rt_handler(seen: list[httpx.Request]):
    rows = [["2024-11-03", 2, i, "HB_NORTH", "HU", 10.0 + i, False] for i in range(1, 5)] + [
        ["2024-11-03", 2, i, "HB_NORTH", "HU", 20.0 + i, True] for i in range(1, 5)
    ]

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["page"])
        chunk = rows[(page - 1) * 4 : page * 4]
        return httpx.Response(
            200, json={"_meta": {"totalPages": 2, "currentPage": page}, "fields": RT_FIELDS, "data": chunk}
        )

    return handle


def test_real_time_pages_headers_and_repeated_hour() -> None:
    seen: list[httpx.Request] = []
    api = ErcotApi("sub-key", lambda: "tok", transport=httpx.MockTransport(rt_handler(seen)))
    series = api.real_time(date(2024, 11, 3), date(2024, 11, 3))
    assert len(seen) == 2
    assert seen[0].url.path.endswith(REAL_TIME)
    assert seen[0].headers["Ocp-Apim-Subscription-Key"] == "sub-key"
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert seen[0].url.params["settlementPoint"] == "HB_NORTH"
    # 8 quarter hours: 01:00-02:00 CDT then the repeated 01:00-02:00 CST, contiguous in UTC.
    assert len(series) == 8 and series.step_s == 900
    assert series.usd_per_kwh.tolist()[3:5] == pytest.approx([0.014, 0.021])


def test_day_ahead_and_errors() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith(DAY_AHEAD)
        fields = [
            {"name": n}
            for n in ("deliveryDate", "hourEnding", "settlementPoint", "settlementPointPrice", "DSTFlag")
        ]
        data = [["2024-07-01", f"{h:02d}:00", "HB_NORTH", 30.0 + h, False] for h in range(1, 25)]
        return httpx.Response(200, json={"_meta": {"totalPages": 1}, "fields": fields, "data": data})

    series = ErcotApi("k", lambda: "t", transport=httpx.MockTransport(handle)).day_ahead(
        date(2024, 7, 1), date(2024, 7, 1)
    )
    assert len(series) == 24 and series.kind == "day-ahead"
    refused = ErcotApi(
        "k", lambda: "t", transport=httpx.MockTransport(lambda r: httpx.Response(401, text="no"))
    )
    with pytest.raises(BackendError, match="HTTP 401"):
        refused.real_time(date(2024, 7, 1), date(2024, 7, 1))


def test_b2c_token_is_cached_until_it_expires() -> None:
    calls: list[httpx.Request] = []
    now = [1000.0]

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"id_token": f"t{len(calls)}"})

    token = b2c_token("me", "pw", httpx.MockTransport(handle), clock=lambda: now[0])
    assert token() == "t1" and token() == "t1"
    now[0] += 3600
    assert token() == "t2"
    assert b"grant_type=password" in calls[0].content
    bad = b2c_token(
        "me", "pw", httpx.MockTransport(lambda r: httpx.Response(200, json={"error": "invalid_grant"}))
    )
    with pytest.raises(BackendError, match="invalid_grant"):
        bad()


def test_live_prices_for_the_server_loop() -> None:
    from rigshift.energy.wiring import LivePrices

    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith(REAL_TIME):
            data = [
                ["2024-07-01", h, i, "HB_NORTH", "HU", 20.0 + h, False]
                for h in range(1, 25)
                for i in range(1, 5)
            ]
            return httpx.Response(200, json={"_meta": {"totalPages": 1}, "fields": RT_FIELDS, "data": data})
        fields = [
            {"name": n}
            for n in ("deliveryDate", "hourEnding", "settlementPoint", "settlementPointPrice", "DSTFlag")
        ]
        data = [["2024-07-01", f"{h:02d}:00", "HB_NORTH", 100.0 + h, False] for h in range(1, 25)]
        return httpx.Response(200, json={"_meta": {"totalPages": 1}, "fields": fields, "data": data})

    live = LivePrices(
        {"tx": ErcotApi("k", lambda: "t", transport=httpx.MockTransport(handle))}, refresh_s=300
    )
    noon = 1719853200.0  # 2024-07-01 12:00 CDT
    quote = live("tx", noon)
    assert quote is not None
    price, ahead = quote
    assert price == pytest.approx(0.033)  # HE13's real-time price, $/kWh
    # The day-ahead curve from the next quarter hour on: 12:15-13:00 is still HE13 (12:00-13:00).
    assert ahead[:4] == pytest.approx([0.113, 0.113, 0.113, 0.114])
    assert live("tx", noon + 60)[0] == price and len(calls) == 2  # cached until the refresh is due
    assert live("elsewhere", noon) is None
