"""The console's decision over HTTP: `GET /admin/decision` is the farm decision every view prints
(issue 16), and its what-if is the same `decide` on the changed inputs, never a second formula."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from rigshift.cli.app import app
from rigshift.decision import compute

from .helpers import Plane, bearer

runner = CliRunner()


def get(plane: Plane, path: str, **params: object) -> httpx.Response:
    return httpx.get(plane.url + path, params=params, headers=bearer(plane.admin_key), timeout=120)  # type: ignore[arg-type]


def cli_decision(*args: str) -> dict[str, Any]:
    """`rigshift assess --json`'s `decision` on the plane's fleet (the demo farm at 60 GPUs)."""
    compute._CACHE.clear()  # recomputed by the CLI, not read back from the server's
    result = runner.invoke(app, ["assess", "--demo", "--scale", "60", "--no-measurements", "--json", *args])
    assert result.exit_code == 0, result.output
    decision: dict[str, Any] = json.loads(result.stdout)["decision"]
    return decision


def test_the_decision_is_the_overviews_and_the_clis(plane: Plane):
    body = get(plane, "/admin/decision").json()
    assert body["decision"] == get(plane, "/admin/overview").json()["decision"]
    assert body["decision"] == cli_decision()
    assert body["what_if"] == {
        "power_factor": 1.0,
        "token_factor": 1.0,
        "demand_factor": 1.0,
        "max_ttft_s": 2.0,
    }


def test_a_looser_service_level_is_the_clis_decision_at_that_level(plane: Plane):
    body = get(plane, "/admin/decision", max_ttft_s=6).json()
    assert body["decision"] == cli_decision("--max-ttft", "6")
    default = get(plane, "/admin/decision").json()["decision"]
    assert body["decision"]["inputs_digest"] != default["inputs_digest"]
    assert body["decision"]["funnel"]["viable"] >= default["funnel"]["viable"]


@pytest.mark.parametrize(
    ("power", "token", "demand"), [(2.0, 1.0, 1.0), (1.0, 2.0, 1.0), (0.5, 0.25, 1.0), (1.0, 1.0, 10.0)]
)
def test_price_and_demand_what_ifs_are_econs_sensitivity_cells(
    plane: Plane, power: float, token: float, demand: float
):
    """Scaled prices or demand give the money econ's own sensitivity sweep gives for that cell:
    the what-if scales the inputs as econ does and runs the one decision on them."""
    econ = get(plane, "/admin/econ").json()
    cell = next(
        c
        for c in (*econ["sensitivity"]["cells"], *econ["sensitivity"]["demand_cells"])
        if (c["power_factor"], c["token_factor"], c.get("demand_factor", 1.0)) == (power, token, demand)
    )
    body = get(plane, "/admin/decision", power_factor=power, token_factor=token, demand_factor=demand).json()
    money = body["decision"]["monthly_net_usd"]
    assert money["now"] == pytest.approx(cell["monthly_net_before_usd"], abs=0.01)
    assert money["after"] == pytest.approx(cell["monthly_net_usd"], abs=0.01)
    assert body["money"]["monthly_net_after_usd"] == money["after"]
    f = body["decision"]["funnel"]
    assert f["gpus"] >= f["capable"] >= f["hostable"] >= f["viable"] >= f["converted"] >= f["placed"]


def test_the_placement_rows_are_the_decisions_replicas(plane: Plane):
    body = get(plane, "/admin/decision", token_factor=2).json()
    rows, decision = body["placement"], body["decision"]
    placement = decision["placement"]
    assert len(rows) == (placement["replicas"] if placement else 0)
    placed = {g for r in rows for g in r["gpus"]}
    assert len(placed) <= decision["funnel"]["placed"] or not rows
    for row in rows:
        assert row["tokens_per_s"] > 0 and row["revenue_usd_day"] >= 0 and row["power_usd_day"] > 0
        assert row["net_usd_day"] == pytest.approx(row["revenue_usd_day"] - row["power_usd_day"], abs=1e-3)


def test_capex_and_sale_proceeds_are_apart(plane: Plane):
    money = get(plane, "/admin/decision").json()["money"]
    econ = get(plane, "/admin/econ").json()["plan"]
    assert money["capex_usd"] == econ["spend_usd"]
    assert money["sale_proceeds_usd"] == econ["sale_proceeds_usd"]
    assert money["capex_usd"] >= 0 and money["sale_proceeds_usd"] >= 0
    assert sum(money["now_by_use"].values()) == sum(money["after_by_use"].values()) == 60


@pytest.mark.parametrize(
    ("param", "value"),
    [("power_factor", -1), ("token_factor", 0), ("demand_factor", "lots"), ("max_ttft_s", 0)],
)
def test_a_bad_what_if_is_a_400_naming_the_parameter(plane: Plane, param: str, value: object):
    response = get(plane, "/admin/decision", **{param: value})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_a_tenant_cannot_read_the_decision(plane: Plane):
    _id, tenant = plane.key("tenant-d")
    response = httpx.get(plane.url + "/admin/decision", headers=bearer(tenant), timeout=30)
    assert response.status_code == 403
