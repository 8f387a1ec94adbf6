"""Coin block rewards follow each chain's emission schedule at the as-of date (issue 16, item 7)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.econ.prices import load_inputs
from rigshift.econ.prices.emission import SCHEDULES, scheduled_reward

runner = CliRunner()


@pytest.mark.parametrize(
    ("tag", "day", "reward"),
    [
        ("ETC", date(2020, 1, 1), 4.0),  # era 2
        ("ETC", date(2023, 1, 1), 2.56),  # era 4 (block 15M: 2022-04-26)
        ("ETC", date(2025, 1, 1), 2.048),  # era 5
        ("ETC", date(2026, 11, 26), 1.6384),  # era 6, from block 25,000,001 (mid-2026)
        ("RVN", date(2021, 6, 1), 5000.0),
        ("RVN", date(2025, 6, 1), 2500.0),
        ("RVN", date(2026, 6, 1), 1250.0),  # second halving, block 4,200,000 (early 2026)
        ("ERG", date(2021, 1, 1), 75.0),
        ("ERG", date(2022, 1, 10), 66.0),  # the first miners' drop, block 655,200
        ("ERG", date(2023, 1, 1), 42.0),  # block ~917,280: 54 ERG, EIP-27 sends 12 to re-emission
        ("ERG", date(2026, 12, 7), 3.0),  # below 15 ERG: the miner keeps 3
    ],
)
def test_block_rewards_follow_the_schedule(tag: str, day: date, reward: float) -> None:
    got = scheduled_reward(tag, day)
    assert got is not None and got.reward == pytest.approx(reward)


def test_every_schedule_cites_public_pages_with_the_date_read() -> None:
    for schedule in SCHEDULES.values():
        assert "https://" in schedule.sources and "read 20" in schedule.sources


def test_the_shipped_coins_take_the_reward_of_the_as_of_date() -> None:
    """The snapshot froze ETC at 2.048; in 2026 the chain pays 1.6384 (ECIP-1017 era 6)."""
    coins = {c.tag: c for c in load_inputs(None, as_of=date(2026, 12, 7)).mining.coins}
    assert coins["ETC"].block_reward == pytest.approx(1.6384)
    assert coins["RVN"].block_reward == pytest.approx(1250.0)
    assert coins["ERG"].block_reward == pytest.approx(3.0)
    earlier = {c.tag: c for c in load_inputs(None, as_of=date(2025, 1, 1)).mining.coins}
    assert earlier["ETC"].block_reward == pytest.approx(2.048)
    assert earlier["ERG"].block_reward > coins["ERG"].block_reward


def test_econ_takes_an_as_of_date_and_prints_it() -> None:
    out = runner.invoke(app, ["econ", "--demo", "--no-sensitivity", "--as-of", "2026-12-07"])
    assert out.exit_code == 0, out.output
    assert "as of 2026-12-07" in out.output
    assert "ETC block reward 1.6384 at 2026-12-07" in out.output
    data = json.loads(
        runner.invoke(app, ["econ", "--demo", "--no-sensitivity", "--as-of", "2025-01-01", "--json"]).stdout
    )
    assert data["inputs"]["as_of"] == "2025-01-01"
    assert {c["tag"]: c["block_reward"] for c in data["inputs"]["mining"]["coins"]}["ETC"] == pytest.approx(
        2.048
    )


def test_a_bad_as_of_date_is_a_clear_error() -> None:
    out = runner.invoke(app, ["econ", "--demo", "--as-of", "2026-13-01"])
    assert out.exit_code == 2 and "--as-of" in out.output and "YYYY-MM-DD" in out.output
