"""The pure parts of billing: reservations, the template bound, fan-out merging, stream usage sums."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigshift.server.errors import BadRequest
from rigshift.server.fan_out import merge_replies, split_outputs
from rigshift.server.quota_budget import (
    RESERVATION_RETRY_S,
    completion_room,
    max_tokens_problem,
    plan_budget,
    quota_wait_s,
)
from rigshift.server.request_fields import check_request_fields
from rigshift.server.sse import StreamMeter
from rigshift.server.template_overhead import DEFAULT_BOUND_EXCESS, TemplateOverhead, chat_json_bytes


def test_a_request_without_max_tokens_reserves_its_context_not_the_quota_left():
    budget = plan_budget(remaining=100_000, prompt=60, room=4096 - 60, outputs=1, max_tokens=None)
    assert budget is not None and (budget.completion, budget.tokens) == (4036, 4096)


def test_the_completion_is_capped_to_the_quota_left_per_output():
    budget = plan_budget(remaining=100, prompt=20, room=4000, outputs=4, max_tokens=400)
    assert budget is not None and (budget.completion, budget.tokens) == (20, 100)
    assert plan_budget(remaining=23, prompt=20, room=4000, outputs=4, max_tokens=None) is None


@given(
    remaining=st.integers(0, 10**7),
    prompt=st.integers(0, 10**5),
    room=st.integers(1, 10**6),
    outputs=st.integers(1, 16),
    max_tokens=st.none() | st.integers(0, 10**6),
)
def test_a_budget_never_holds_more_than_is_left_nor_lets_more_be_generated(
    remaining, prompt, room, outputs, max_tokens
):
    budget = plan_budget(
        remaining=remaining, prompt=prompt, room=room, outputs=outputs, max_tokens=max_tokens
    )
    if budget is None:
        assert remaining - prompt < outputs
        return
    assert budget.tokens <= remaining
    assert budget.completion <= room and (max_tokens is None or budget.completion <= max_tokens)
    assert budget.tokens == prompt + budget.completion * outputs


def test_the_room_is_the_context_less_an_exact_single_prompt():
    assert completion_room(512, 56, 1) == 456
    assert completion_room(512, None, 1) == 512  # only bounded: the backend stops at the context
    assert completion_room(512, 56, 2) == 512


def test_a_refusal_waits_for_reservations_or_for_the_period():
    assert quota_wait_s(quota=100, used=10, need=50, period_left_s=86_400) == RESERVATION_RETRY_S
    assert quota_wait_s(quota=100, used=90, need=50, period_left_s=86_400) == 86_400
    assert quota_wait_s(quota=100, used=10, need=50, period_left_s=0.5) == 0.5


def test_max_tokens_beyond_the_context_is_named():
    assert max_tokens_problem(None, 512) is None and max_tokens_problem(512, 512) is None
    problem = max_tokens_problem(2**62, 512)
    assert problem is not None and str(2**62) in problem and "512" in problem


def test_the_template_bound_covers_what_was_measured_for_any_message_count():
    template = TemplateOverhead()
    one = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert template.upper_bound("m", one) == chat_json_bytes(one) + DEFAULT_BOUND_EXCESS + 2
    template.observe("m", one, 56)  # the tiny model's templated "hi"
    assert template.upper_bound("m", one) >= 56
    assert template.estimate("m", one) == 56
    three = {"model": "m", "messages": one["messages"] * 3}
    assert template.upper_bound("m", three) >= 56 + 2 * 30  # ChatML markers: ~30 tokens a message
    assert template.upper_bound("other", one) == chat_json_bytes(one) + DEFAULT_BOUND_EXCESS + 2


def test_outputs_are_split_prompt_by_prompt_and_merged_in_openai_order():
    body = {"model": "m", "prompt": ["a", "b"], "n": 2, "max_tokens": 5}
    parts = split_outputs(body, "completions", 2)
    assert [p["prompt"] for p in parts] == ["a", "a", "b", "b"] and all("n" not in p for p in parts)
    replies = [
        {"choices": [{"index": 0, "text": t}], "usage": {"prompt_tokens": p, "completion_tokens": 5}}
        for t, p in (("a1", 2), ("a2", 2), ("b1", 7), ("b2", 7))
    ]
    merged = merge_replies(replies, 2)
    assert [(c["index"], c["text"]) for c in merged["choices"]] == [
        (0, "a1"),
        (1, "a2"),
        (2, "b1"),
        (3, "b2"),
    ]
    assert merged["usage"] == {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}
    del replies[1]["usage"]
    assert "usage" not in merge_replies(replies, 2)  # not metered: the gateway counts instead


def test_the_stream_meter_sums_every_outputs_usage_and_counts_each_prompt_once():
    meter = StreamMeter(strip_usage_chunk=False, n=3, outputs=3)
    usage_only = {
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": 56, "completion_tokens": 8},
    }
    out = b"".join(meter.feed(b"data: " + json.dumps(usage_only).encode() + b"\n\n") for _ in range(3))
    assert out == b""  # held back: one merged usage chunk instead of three
    assert (meter.prompt_tokens, meter.completion_tokens) == (56, 24)
    merged = meter.merged_usage_event()
    assert merged is not None and json.loads(merged[6:])["usage"]["completion_tokens"] == 24


def test_a_multi_output_stream_cut_before_every_usage_is_not_billed_from_the_first():
    meter = StreamMeter(strip_usage_chunk=True, n=3, outputs=3)
    for i in range(20):
        chunk = {"choices": [{"index": i % 3, "delta": {"content": "w"}, "finish_reason": None}]}
        meter.feed(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    usage_only = {"choices": [], "usage": {"prompt_tokens": 56, "completion_tokens": 8}}
    meter.feed(b"data: " + json.dumps(usage_only).encode() + b"\n\n")
    assert not meter.usage_complete  # the gateway counts the prompt itself instead of 56 / 3
    assert meter.completion_billed() == 20  # every content event passed on, not the one output's 8


@pytest.mark.parametrize(
    ("endpoint", "body", "fragment"),
    [
        ("chat", {"n_predict": 5}, "use 'max_tokens'"),
        ("chat", {"max_token": 5}, "did you mean 'max_tokens'"),
        ("chat", {"top_logprobs": 21}, "from 0 to 20"),
        ("completions", {"logprobs": 6}, "from 0 to 5"),
        ("embeddings", {"ignore_eos": True}, "Unrecognized request argument supplied: ignore_eos"),
        (
            "chat",
            {"stream_options": {"continuous_usage_stats": True}},
            "stream_options.continuous_usage_stats",
        ),
    ],
)
def test_fields_the_gateway_does_not_forward_are_refused(endpoint, body, fragment):
    with pytest.raises(BadRequest) as refused:
        check_request_fields({"model": "m", **body}, endpoint)
    assert fragment in refused.value.message
