"""One reading of links, token counts and spellings everywhere (issue 10, item 8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigshift.econ.prices.bundle import parse_prices_text
from rigshift.fleet.sources.common import parse_pcie
from rigshift.plan.demand import parse_demand
from rigshift.units import british_keys, parse_link, parse_tokens, usd_per_hour


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("gen1x1", (1, 1)),
        ("Gen3 x16", (3, 16)),
        ("PCIe 3.0 x16", (3, 16)),
        ("pcie gen4 x8", (4, 8)),
        ("3x4", (3, 4)),
        ("x1", (None, 1)),
        ("X16", (None, 16)),
        ("2×1", (2, 1)),
    ],
)
def test_every_spelling_of_a_link_reads_the_same(text: str, link: tuple[int | None, int]) -> None:
    assert parse_link(text) == link


@pytest.mark.parametrize("text", ["x3", "gen9x1", "pcie", "", "16", "gen3 x32"])
def test_nonsense_links_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_link(text)


def test_inventories_read_the_cli_spellings_but_need_a_generation() -> None:
    assert (parse_pcie("PCIe 3.0 x16").gen, parse_pcie("PCIe 3.0 x16").width) == (3, 16)
    with pytest.raises(ValueError):
        parse_pcie("x1")


@pytest.mark.parametrize(
    ("text", "tokens"), [("8192", 8192), ("8k", 8192), ("32K", 32768), ("1.5k", 1536), (4096, 4096)]
)
def test_token_counts(text: object, tokens: int) -> None:
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("text", ["8q", "1.1", "k", "", True, 1.5, "0.3k"])
def test_bad_token_counts_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_tokens(text)


@given(st.integers(1, 1024))
def test_k_means_1024(n: int) -> None:
    assert parse_tokens(f"{n}k") == n * 1024


def test_a_demand_takes_context_8k() -> None:
    demand = parse_demand(
        "deployments:\n  - name: a\n    model: llama-3.1-8b\n    context: 8k\n    replicas: 1\n"
    )
    assert demand.deployments[0].context == 8192


def test_utilization_and_utilisation_read_the_same() -> None:
    # econ's busy ceiling (`tokens.max_utilisation`; the old `utilisation` key was renamed)
    uk = parse_prices_text("tokens:\n  max_utilisation: 0.25\n", "uk.yaml")
    us = parse_prices_text("tokens:\n  max_utilization: 0.25\n", "us.yaml")
    assert uk == us and uk.tokens is not None and uk.tokens.max_utilisation == 0.25
    rent = parse_prices_text("rent:\n  rental_utilization: 0.4\n", "us.yaml")
    assert rent.rent is not None and rent.rent.rental_utilisation == 0.4


def test_both_spellings_at_once_are_left_for_the_validator() -> None:
    assert british_keys({"utilization": 1, "utilisation": 2}) == {"utilization": 1, "utilisation": 2}


def test_a_million_tokens_an_hour_at_a_dollar_a_million_is_a_dollar_an_hour() -> None:
    from rigshift.plan.demand import Value
    from rigshift.units import usd_per_hour

    assert usd_per_hour(1e6 / 3600, 1.0) == pytest.approx(1.0)
    assert Value(usd_per_mtok=0.5).usd_per_h(1e6 / 3600) == pytest.approx(0.5)
    assert Value(priority=3.0).per_replica(1000.0) == 3.0 and Value(priority=3.0).usd_per_h(1000.0) == 0.0
    assert Value(priority=3.0).per_token_s(300.0) == pytest.approx(0.01)


def test_metering_econ_and_the_planner_price_tokens_alike() -> None:
    """One revenue formula (issue 19: it was written at six sites): a request billed by the
    gateway, the same request priced by econ, and the planner's hourly value agree."""
    from rigshift.econ.demand import usd_per_request
    from rigshift.econ.prices import load_inputs
    from rigshift.server.metering import TokenPrices

    ai = load_inputs().ai
    price = ai.token_prices[0]
    billed = TokenPrices(price.usd_per_m_input, price.usd_per_m_output).revenue_usd(
        ai.input_tokens_per_request, ai.output_tokens_per_request
    )
    assert usd_per_request(price, ai) == pytest.approx(billed)
    assert billed == pytest.approx(
        usd_per_hour(ai.input_tokens_per_request / 3600, price.usd_per_m_input)
        + usd_per_hour(ai.output_tokens_per_request / 3600, price.usd_per_m_output)
    )
