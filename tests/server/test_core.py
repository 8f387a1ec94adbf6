"""Pure pieces: routing choice, SSE metering, rate limits, quota periods, metering arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigshift.errors import InputError
from rigshift.server.limits import QuotaTracker, RateLimiter, period_bounds, retry_after_header
from rigshift.server.metering import TokenPrices, energy_wh, revenue_per_gpu_day
from rigshift.server.replica_picker import Router
from rigshift.server.sse import StreamMeter
from rigshift.server.static_directory import StaticDirectory, parse_backend
from rigshift.server.when import parse_since

from .conftest import replica


def test_router_prefers_the_least_loaded_replica_per_slot():
    big, small = replica("big", "http://a", parallel=4), replica("small", "http://b", parallel=1)
    router = Router(StaticDirectory([big, small]), queue_factor=1.0)
    router.acquire("big")
    router.acquire("big")  # 2 of 4 slots busy = 0.5
    assert router.choose("tiny").replica == small  # 0 of 1 busy
    router.acquire("small")  # 1 of 1: saturated at queue factor 1
    assert router.choose("tiny").replica == big
    router.acquire("big")
    router.acquire("big")
    assert router.choose("tiny").outcome == "saturated"
    router.release("small")
    assert router.choose("tiny").replica == small


def test_router_outcomes_for_unknown_models_and_exhausted_retries():
    directory = StaticDirectory([replica("r1", "http://a")])
    router = Router(directory)
    assert router.choose("nope").outcome == "unknown_model"
    assert router.choose("tiny", exclude={"r1"}).outcome == "no_ready_replica"
    directory.report_failure("r1", "boom")
    assert router.choose("tiny").outcome == "no_ready_replica"


def test_router_rotates_ties():
    router = Router(StaticDirectory([replica("a", "http://a"), replica("b", "http://b")]))
    picks = {router.choose("tiny").replica.replica_id for _ in range(4)}  # type: ignore[union-attr]
    assert picks == {"a", "b"}


EVENTS = [
    b'data: {"choices":[{"delta":{"role":"assistant","content":"he"}}]}',
    b'data: {"choices":[{"delta":{"content":"llo"}}]}',
    b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}',
    b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}',
    b"data: [DONE]",
]


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30), st.booleans())
def test_stream_meter_passes_events_through_unchanged_whatever_the_chunking(cuts, strip):
    stream = b"".join(e + b"\n\n" for e in EVENTS)
    meter = StreamMeter(strip_usage_chunk=strip)
    out, pos = b"", 0
    for size in cuts:
        out += meter.feed(stream[pos : pos + size])
        pos += size
    out += meter.feed(stream[pos:]) + meter.flush()
    kept = EVENTS[:3] if strip else EVENTS[:4]
    assert out == b"".join(e + b"\n\n" for e in kept)
    assert meter.done_event == b"data: [DONE]\n\n"  # held back for the gateway to send after metering
    assert (meter.prompt_tokens, meter.completion_tokens) == (7, 3)
    assert meter.content_chunks == 2


def test_stream_meter_without_usage_counts_content_chunks():
    meter = StreamMeter(strip_usage_chunk=False)
    meter.feed(b"".join(e + b"\n\n" for e in EVENTS[:3]))
    assert meter.completion_tokens is None and meter.content_chunks == 2


def test_rate_limiter_token_bucket():
    limiter = RateLimiter()
    assert limiter.acquire("k", None, 0.0) == 0.0
    assert [limiter.acquire("k", 2, 0.0) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.acquire("k", 2, 0.0)
    assert wait == pytest.approx(30.0)
    assert limiter.acquire("k", 2, 29.0) > 0
    assert limiter.acquire("k", 2, 30.5) == 0.0
    assert limiter.acquire("other", 2, 0.0) == 0.0  # buckets are per key
    assert retry_after_header(0.2) == "1" and retry_after_header(29.01) == "30"


def test_quota_periods_are_utc_calendar_days_and_months():
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()
    day = period_bounds(now, "day")
    month = period_bounds(now, "month")
    assert day == (
        datetime(2026, 12, 31, tzinfo=UTC).timestamp(),
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    assert month == (
        datetime(2026, 12, 1, tzinfo=UTC).timestamp(),
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    quotas = QuotaTracker()
    quotas.seed("k", month[0], 90)
    quotas.seed("k", month[0], 0)  # a second seed does not forget what was counted
    assert not quotas.exceeded("k", month[0], 100)
    quotas.add("k", month[0], 10)
    assert quotas.exceeded("k", month[0], 100) and not quotas.exceeded("k", month[0], None)


def test_metering_arithmetic():
    assert energy_wh(300.0, 36.0, concurrent=3) == pytest.approx(1.0)
    assert energy_wh(None, 10.0, 1) == 0.0
    prices = TokenPrices(prompt_usd_per_mtok=0.1, completion_usd_per_mtok=0.4)
    assert prices.revenue_usd(1_000_000, 500_000) == pytest.approx(0.3)
    assert revenue_per_gpu_day(2.0, ["r/0", "r/1", "r/1", ""], window_s=2 * 86400) == pytest.approx(0.5)
    assert revenue_per_gpu_day(2.0, [], window_s=86400) is None


def test_parse_since_spans_and_dates():
    now = 1_000_000.0
    assert parse_since("24h", now) == now - 86400
    assert parse_since("90m", now) == now - 5400
    assert parse_since("2026-01-31", now) == datetime(2026, 1, 31, tzinfo=UTC).timestamp()
    with pytest.raises(InputError, match="expected a span"):
        parse_since("yesterday", now)


def test_parse_backend_flag():
    r = parse_backend("llama=http://127.0.0.1:8081,parallel=8,context=2048,watts=150", 0)
    assert (r.model, r.base_url, r.max_parallel, r.context, r.watts, r.state) == (
        "llama",
        "http://127.0.0.1:8081",
        8,
        2048,
        150.0,
        "ready",
    )
    with pytest.raises(InputError, match="expected MODEL=http"):
        parse_backend("llama:8081", 0)
    with pytest.raises(InputError, match="unknown backend option"):
        parse_backend("llama=http://x,slots=2", 0)
