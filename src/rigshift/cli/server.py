"""`rigshift server`, `rigshift up`, `rigshift keys …`, `rigshift usage`: the control plane's CLI.

Thin: `keys` and `usage` call a `ControlPlane` (`rigshift.client.control_plane`), the database
directly or, with `--server`, a running server's management API with an admin key: one code path
per command. `server` and `up` call `rigshift.server.launch`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from rigshift.cli.errors import handle_errors
from rigshift.cli.options import (
    AdminKeyOption,
    DbOption,
    DecisionDemandOption,
    PricesOption,
    ServerOption,
    transport,
)
from rigshift.tables import Col, fitted_table, output_console

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
_out = Console(highlight=False, soft_wrap=True)


def _plane(ctx: typer.Context, server: str | None, admin_key: str | None, db: str | None) -> Any:
    from rigshift.client.control_plane import control_plane

    return control_plane(server, admin_key, db, transport=transport(ctx))


def _print_keys(keys: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _out.print_json(json.dumps(keys))
        return
    # The id and name are what `keys revoke` takes: never cut. Then whether it is revoked and for what.
    columns = (
        Col("id"),
        Col("name"),
        Col("admin", drop=5),
        Col("models", wrap=True, drop=2),
        Col("quota", drop=3),
        Col("rpm", "right", drop=4),
        Col("created", drop=6),
        Col("revoked", drop=1),
    )
    rows = []
    for k in keys:
        quota = f"{k['token_quota']}/{k['quota_period']}" if k["token_quota"] is not None else "-"
        rows.append(
            (
                k["id"],
                k["name"],
                "yes" if k["admin"] else "",
                ", ".join(k["allowed_models"]),
                quota,
                str(k["rate_limit_rpm"] or "-"),
                _when(k["created_at"]),
                _when(k["revoked_at"]) if k["revoked_at"] else "",
            )
        )
    console = output_console()
    console.print(fitted_table(columns, rows, console.width))


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


@keys_app.command("create")
@handle_errors
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. a customer name")],
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Allowed model (repeat); default all")
    ] = None,
    quota: Annotated[
        int | None, typer.Option("--quota", help="Tokens (prompt + completion) per period")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="Quota period: day or month")] = "month",
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May use the management API")] = False,
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key and print it. It is shown only this once (only its hash is stored)."""
    from rigshift.server.schemas import KeyCreate, build

    request = build(
        KeyCreate,
        {
            "name": name,
            "allowed_models": model or ["*"],
            "token_quota": quota,
            "quota_period": period,
            "rate_limit_rpm": rpm,
            "admin": admin,
        },
    )
    data = _plane(ctx, server, admin_key, db).create_key(request)
    secret = data.pop("key")
    if as_json:
        _out.print_json(json.dumps({**data, "key": secret}))
    else:
        _out.print(f"created key {data['id']} ({data['name']}); store it now, it is not shown again:")
        _out.print(secret)


@keys_app.command("list")
@handle_errors
def keys_list(
    ctx: typer.Context,
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List keys (ids, names, limits; never the keys themselves)."""
    listed = _plane(ctx, server, admin_key, db).list_keys()
    _print_keys(listed, as_json)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Key id (from `keys list`) or name")],
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the revoked key as JSON")] = False,
) -> None:
    """Revoke a key: it gets 401 from then on (within a couple of seconds on a running server)."""
    data = _plane(ctx, server, admin_key, db).revoke_key(key)
    if as_json:
        _out.print_json(json.dumps(data))
    else:
        _out.print(f"revoked key {data['id']} ({data['name']})")


@handle_errors
def usage(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="Group by key, model or rig")] = "key",
    since: Annotated[str | None, typer.Option("--since", help="24h, 7d, or an ISO date/time (UTC)")] = None,
    price_prompt: Annotated[float | None, typer.Option(help="USD per million prompt tokens")] = None,
    price_completion: Annotated[float | None, typer.Option(help="USD per million completion tokens")] = None,
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Metered usage: requests, tokens, energy, revenue and revenue per GPU per day."""
    from rigshift.client.control_plane import UsageQuery

    query = UsageQuery(by, since, price_prompt, price_completion)
    rows = _plane(ctx, server, admin_key, db).usage(query)
    if as_json:
        _out.print_json(json.dumps(rows))
        return
    # The group (key, model or rig) is never cut; the token split and energy drop first.
    columns = (
        Col(by),
        Col("requests", "right"),
        Col("prompt tok", "right", drop=4),
        Col("completion tok", "right", drop=3),
        Col("energy Wh", "right", drop=5),
        Col("revenue $", "right"),
        Col("GPUs", "right", drop=2),
        Col("$/GPU/day", "right", drop=1),
    )
    cells = []
    for r in rows:
        per_day = r["revenue_per_gpu_day_usd"]
        cells.append(
            (
                r["group"],
                str(r["requests"]),
                str(r["prompt_tokens"]),
                str(r["completion_tokens"]),
                f"{r['energy_wh']:.3f}",
                f"{r['revenue_usd']:.6f}",
                str(r["gpus"]),
                f"{per_day:.4f}" if per_day is not None else "-",
            )
        )
    console = output_console()
    console.print(fitted_table(columns, cells, console.width))


def _files_limit(envvar: str, help: str) -> Any:
    """A Batch API file limit per API key: a positive whole number, also read from `envvar`."""
    return typer.Option(min=1, envvar=envvar, help=help)


@handle_errors
def server(
    host: Annotated[
        str, typer.Option(help="Address to bind; loopback unless you mean to expose it")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the API and gateway")] = 8000,
    db: DbOption = None,
    backend: Annotated[
        list[str] | None,
        typer.Option(
            "--backend",
            help="Serve an already running backend instead of a Ray cluster: "
            "MODEL=URL[,parallel=N][,context=N][,watts=W][,rig=NAME] (repeat)",
        ),
    ] = None,
    join_token: Annotated[
        str | None,
        typer.Option(
            "--join-token",
            envvar="RIGSHIFT_JOIN_TOKEN",
            help="Agents' token (default: generated, kept next to the DB)",
        ),
    ] = None,
    ray_port: Annotated[int, typer.Option(help="Port of the Ray head this server starts or reuses")] = 6380,
    ray_temp_dir: Annotated[
        str | None,
        typer.Option("--ray-temp-dir", help="Ray's session directory root (default /tmp/ray; keep it short)"),
    ] = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray/--no-ray",
            help="Start or reuse the Ray head and run the reconciler (default without --backend)",
        ),
    ] = True,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url", help="URL rigs use to reach this server's model store (default http://HOST:PORT)"
        ),
    ] = None,
    metrics: Annotated[
        bool, typer.Option("--metrics/--no-metrics", help="Serve Prometheus metrics at /metrics")
    ] = True,
    docs: Annotated[
        bool, typer.Option("--docs/--no-docs", help="Serve the API's docs at /docs and /openapi.json")
    ] = False,
    fleet: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            help="Fleet file (as `rigshift fleet` writes it) the console and /admin/assess|econ|plan report on",
        ),
    ] = None,
    energy: Annotated[
        Path | None,
        typer.Option(
            "--energy", help="Run the energy policy: prices per site, caps, events (docs/energy.md)"
        ),
    ] = None,
    prices: PricesOption = None,
    demand: DecisionDemandOption = None,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            envvar="RIGSHIFT_FILES_DIR",
            help="Where Batch API file bytes live (default: files/ beside a SQLite DB, else the data dir)",
        ),
    ] = None,
    files_max_per_key: Annotated[
        int | None,
        _files_limit("RIGSHIFT_FILES_MAX_PER_KEY", "Batch API files one API key may hold [default: 1000]"),
    ] = None,
    files_max_bytes_per_key: Annotated[
        int | None,
        _files_limit(
            "RIGSHIFT_FILES_MAX_BYTES_PER_KEY",
            "Bytes one API key's Batch API files may hold [default: 10 GiB]",
        ),
    ] = None,
    files_uploads_per_minute: Annotated[
        int | None,
        _files_limit(
            "RIGSHIFT_FILES_UPLOADS_PER_MINUTE", "File uploads one API key may start a minute [default: 30]"
        ),
    ] = None,
    alert_price_ceiling: Annotated[
        float | None,
        typer.Option(
            "--alert-price-ceiling",
            min=0,
            envvar="RIGSHIFT_ALERT_PRICE_CEILING",
            help="Alert when a site's power price (with --energy) is above this many $/MWh [default: no alert]",
        ),
    ] = None,
) -> None:
    """Run the control plane: management API, OpenAI-compatible gateway, telemetry, /metrics.

    Without --backend it starts (or reuses) the Ray head with token authentication, re-applies the
    stored deployment and keeps the replicas equal to it; replicas keep serving across restarts.
    """
    from rigshift.server.launch import serve

    serve(
        host=host,
        port=port,
        db=db,
        backends=backend or [],
        token=join_token,
        ray_port=ray_port,
        ray_temp_dir=ray_temp_dir,
        use_ray=ray,
        public_url=public_url,
        public_metrics=metrics,
        public_docs=docs,
        fleet=fleet,
        energy=energy,
        prices=prices,
        demand=demand,
        say=_out.print,
        files={
            "files_dir": str(files_dir) if files_dir else None,
            "files_max_per_key": files_max_per_key,
            "files_max_bytes_per_key": files_max_bytes_per_key,
            "files_uploads_per_minute": files_uploads_per_minute,
        },
        alerts={"alert_price_ceiling_usd_mwh": alert_price_ceiling},
    )


@handle_errors
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Generate a tiny model and serve it on the CPU")
    ] = False,
    port: Annotated[int, typer.Option(help="Gateway port")] = 8000,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    db: DbOption = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray/--no-ray", help="Run the replica on a local Ray cluster (default) or as a plain process"
        ),
    ] = True,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for the replica")] = 180.0,
) -> None:
    """Everything on this machine: database, local Ray, gateway, one replica. Ctrl-C stops it all."""
    from rigshift.extras import require

    require("server", "`rigshift up`")
    require("cluster", "`rigshift up`")
    from rigshift.server.launch import require_demo, up_demo

    require_demo(demo)
    up_demo(host=host, port=port, db=db, use_ray=ray, ready_timeout=ready_timeout, say=_out.print)


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("up")(up)
    app.command("usage")(usage)
    app.add_typer(keys_app, name="keys")
