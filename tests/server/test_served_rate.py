"""The gateway's meter of interactive demand, which the energy policy sizes replicas and batch from."""

from __future__ import annotations

import pytest

from rigshift.server.served_rate import ServedRate


def test_tokens_per_second_over_the_window_per_model() -> None:
    rate = ServedRate(window_s=10.0)
    rate.add("chat", 50, at=100.0)
    rate.add("chat", 30, at=105.0)
    rate.add("code", 7, at=105.0)
    rate.add("chat", 0, at=106.0)  # an aborted request served nothing
    assert rate.tokens_per_s("chat", now=106.0) == pytest.approx(8.0)
    assert rate.tokens_per_s("code", now=106.0) == pytest.approx(0.7)
    assert rate.tokens_per_s("chat", now=110.5) == pytest.approx(3.0)  # the first 50 left the window
    assert rate.tokens_per_s("chat", now=200.0) == 0.0
    assert rate.tokens_per_s("unknown", now=106.0) == 0.0
