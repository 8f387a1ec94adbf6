"""`rigshift server`, `rigshift up`, `rigshift keys …`, `rigshift usage`: the control plane's CLI.

`keys` and `usage` work on the database directly (no server needed) or, with `--server`, through
the management API with an admin key.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from rigshift.cli.errors import handle_errors
from rigshift.errors import BackendError, EnvironmentProblem, InputError
from rigshift.server.app import create_app
from rigshift.server.db import default_db_url, normalise_url, open_engine
from rigshift.server.deployments import DeploymentLog
from rigshift.server.keys import ApiKey, KeyStore
from rigshift.server.metering import TokenPrices, default_prices
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory, parse_backend
from rigshift.server.usage import UsageStore
from rigshift.server.when import parse_since

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
_out = Console(highlight=False, soft_wrap=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL or SQLite path (default: $RIGSHIFT_DB or ~/.local/share/rigshift/rigshift.db)",
    ),
]
ServerOption = Annotated[
    str | None, typer.Option("--server", help="Use a running control plane's API instead of the database")
]
AdminKeyOption = Annotated[
    str | None, typer.Option("--admin-key", envvar="RIGSHIFT_ADMIN_KEY", help="Admin key for --server")
]


def data_dir(db_url: str | None) -> Path:
    """Where secrets live: next to a SQLite file, else the XDG data dir."""
    url = normalise_url(db_url or default_db_url())
    if url.startswith("sqlite:///"):
        return Path(url.split("///", 1)[1]).parent
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "rigshift"


def ensure_admin_key(keys: KeyStore) -> str | None:
    """Create the first admin key if none is active; returns it (shown once) or None."""
    if any(k.admin and not k.revoked for k in keys.list()):
        return None
    _key, secret = keys.create("admin", now=time.time(), admin=True)
    return secret


def _api(
    server: str, admin_key: str | None, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    if not admin_key:
        raise InputError(
            "--server needs an admin key", field="--admin-key", expected="a key made with --admin"
        )
    try:
        response = httpx.request(
            method,
            server.rstrip("/") + path,
            json=body,
            headers={"authorization": f"Bearer {admin_key}"},
            timeout=30,
        )
    except httpx.HTTPError as error:
        raise BackendError(f"cannot reach {server}: {error}") from error
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise BackendError(f"{server}{path}: HTTP {response.status_code}: {message}")
    return response.json()


def _print_keys(keys: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _out.print_json(json.dumps(keys))
        return
    table = Table("id", "name", "admin", "models", "quota", "rpm", "created", "revoked")
    for k in keys:
        quota = f"{k['token_quota']}/{k['quota_period']}" if k["token_quota"] is not None else "-"
        table.add_row(
            k["id"],
            k["name"],
            "yes" if k["admin"] else "",
            ",".join(k["allowed_models"]),
            quota,
            str(k["rate_limit_rpm"] or "-"),
            _when(k["created_at"]),
            _when(k["revoked_at"]) if k["revoked_at"] else "",
        )
    _out.print(table)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _key_dict(key: ApiKey) -> dict[str, Any]:
    data = asdict(key)
    data.pop("extra", None)
    data["allowed_models"] = list(key.allowed_models)
    return data


@keys_app.command("create")
@handle_errors
def keys_create(
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
    if server:
        body = {
            "name": name,
            "allowed_models": model or ["*"],
            "token_quota": quota,
            "quota_period": period,
            "rate_limit_rpm": rpm,
            "admin": admin,
        }
        data = _api(server, admin_key, "POST", "/admin/keys", body)
        secret = data.pop("key")
    else:
        key, secret = KeyStore(open_engine(db)).create(
            name,
            now=time.time(),
            admin=admin,
            allowed_models=model or ["*"],
            token_quota=quota,
            quota_period=period,
            rate_limit_rpm=rpm,
        )
        data = _key_dict(key)
    if as_json:
        _out.print_json(json.dumps({**data, "key": secret}))
    else:
        _out.print(f"created key {data['id']} ({data['name']}); store it now, it is not shown again:")
        _out.print(secret)


@keys_app.command("list")
@handle_errors
def keys_list(
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List keys (ids, names, limits; never the keys themselves)."""
    if server:
        listed = _api(server, admin_key, "GET", "/admin/keys")["data"]
    else:
        listed = [_key_dict(k) for k in KeyStore(open_engine(db)).list()]
    _print_keys(listed, as_json)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id (from `keys list`) or name")],
    db: DbOption = None,
    server: ServerOption = None,
    admin_key: AdminKeyOption = None,
) -> None:
    """Revoke a key: it gets 401 from then on (within a couple of seconds on a running server)."""
    if server:
        data = _api(server, admin_key, "DELETE", f"/admin/keys/{key}")
    else:
        data = _key_dict(KeyStore(open_engine(db)).revoke(key, now=time.time()))
    _out.print(f"revoked key {data['id']} ({data['name']})")


@handle_errors
def usage(
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
    if server:
        query = f"/admin/usage?by={by}" + (f"&since={since}" if since else "")
        rows = _api(server, admin_key, "GET", query)["data"]
    else:
        defaults = default_prices()
        prices = TokenPrices(
            price_prompt if price_prompt is not None else defaults.prompt_usd_per_mtok,
            price_completion if price_completion is not None else defaults.completion_usd_per_mtok,
        )
        now = time.time()
        start = parse_since(since, now) if since else None
        rows = [asdict(r) for r in UsageStore(open_engine(db)).summarise(by, prices, since=start, now=now)]
    if as_json:
        _out.print_json(json.dumps(rows))
        return
    table = Table(
        by, "requests", "prompt tok", "completion tok", "energy Wh", "revenue $", "GPUs", "$/GPU/day"
    )
    for r in rows:
        per_day = r["revenue_per_gpu_day_usd"]
        table.add_row(
            r["group"],
            str(r["requests"]),
            str(r["prompt_tokens"]),
            str(r["completion_tokens"]),
            f"{r['energy_wh']:.3f}",
            f"{r['revenue_usd']:.6f}",
            str(r["gpus"]),
            f"{per_day:.4f}" if per_day is not None else "-",
        )
    _out.print(table)


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
    energy: Annotated[
        Path | None,
        typer.Option(
            "--energy", help="Run the energy policy: prices per site, caps, events (docs/energy.md)"
        ),
    ] = None,
) -> None:
    """Run the control plane: management API, OpenAI-compatible gateway, telemetry, /metrics.

    Without --backend it starts (or reuses) the Ray head with token authentication, re-applies the
    stored deployment and keeps the replicas equal to it; replicas keep serving across restarts.
    """
    import uvicorn

    engine = open_engine(db)
    token = join_token or _join_token(db)
    first_admin = ensure_admin_key(KeyStore(engine))
    store_dir = data_dir(db) / "model-store"
    settings = ServerSettings(
        db_url=db, host=host, port=port, join_token=token, model_store_dir=str(store_dir)
    )
    plane = None
    if backend or not ray:
        directory: Any = StaticDirectory([parse_backend(spec, i) for i, spec in enumerate(backend or [])])
    else:
        from rigshift.server.cluster import start_cluster_plane

        plane = start_cluster_plane(
            token,
            engine,
            data_dir(db),
            ray_port=ray_port,
            ray_temp_dir=ray_temp_dir,
            store_url=public_url or f"http://{host}:{port}",
            desired=DeploymentLog(engine).load_desired(),
        )
        directory = plane.manager.directory()
        _out.print(f"Ray head at {plane.head.address} (token auth); agents join with the join token")
    energy_loop = None
    if energy is not None:
        from rigshift.energy.wiring import build_energy_loop, measured_site_kw
        from rigshift.server.energy_events import EnergyEventStore

        manager = plane.manager if plane else None
        energy_loop, energy_fleet = build_energy_loop(
            energy,
            EnergyEventStore(engine),
            desired=(lambda: manager.desired) if manager else (lambda: ()),
            hold=manager.hold if manager else None,
            release=manager.release if manager else None,
        )
    app = create_app(
        directory,
        settings,
        engine=engine,
        manager=plane.manager if plane else None,
        ray_address=plane.head.address if plane else None,
        energy_loop=energy_loop,
    )
    if energy_loop is not None:
        energy_loop.measured_kw = measured_site_kw(
            app.state.telemetry.readings, energy_fleet, {n: s.pue for n, s in energy_loop.sites.items()}
        )
        energy_loop.start(interval_s=5.0)
        _out.print(f"energy policy on for {', '.join(energy_loop.sites)}")
    _out.print(f"rigshift control plane on http://{host}:{port}  (OpenAI base URL: http://{host}:{port}/v1)")
    if first_admin:
        _out.print(f"admin key (shown once): {first_admin}")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    except OSError as error:
        raise EnvironmentProblem(f"cannot listen on {host}:{port}: {error}") from error
    finally:
        if energy_loop is not None:
            energy_loop.close()
        if plane is not None:
            plane.close(stop_replicas=False)  # the replicas outlive this process by design


def _join_token(db: str | None) -> str:
    from rigshift.server.local import load_or_create_secret

    return load_or_create_secret(data_dir(db) / "join-token")


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
    from rigshift.server.serving import serve_in_thread

    if not demo:
        raise InputError(
            "`rigshift up` without --demo needs a deployment; try `rigshift up --demo` first",
            field="--demo",
            expected="--demo (tiny generated model on the CPU)",
        )
    engine = open_engine(db)
    workdir = data_dir(db)
    token = _join_token(db)
    keys = KeyStore(engine)
    first_admin = ensure_admin_key(keys)
    settings = ServerSettings(db_url=db, host=host, port=port, join_token=token)
    cleanup: list[Callable[[], None]] = []
    try:
        if ray:
            import ray as ray_module

            from rigshift.server.cluster import demo_specs, start_local_plane

            cleanup.append(ray_module.shutdown)  # the local cluster belongs to this process
            plane = start_local_plane(token, engine, workdir, threads=2)
            cleanup.append(lambda: plane.close(stop_replicas=True))
            specs = list(demo_specs())
            plane.manager.apply(specs)
            DeploymentLog(engine).save_desired(specs, time.time())
            directory: Any = plane.manager.directory()
            model = specs[0].model
            manager = plane.manager

            def wait_ready() -> bool:
                return manager.wait_ready(1, timeout_s=ready_timeout)

            app = create_app(directory, settings, engine=engine, manager=manager)
        else:
            from rigshift.server.local import SupervisedDirectory, start_demo_replica

            local = SupervisedDirectory()
            supervisor, endpoint = start_demo_replica(workdir)
            cleanup.append(supervisor.stop)
            local.add(endpoint, lambda: supervisor.status().state)
            model = endpoint.model

            def wait_ready() -> bool:
                return supervisor.wait_ready(ready_timeout)

            app = create_app(local, settings, engine=engine)
        _key, demo_key = keys.create("demo", now=time.time(), allowed_models=[model], rate_limit_rpm=600)
        running = serve_in_thread(app, host=host, port=port)
        cleanup.append(running.stop)
        if not wait_ready():
            raise BackendError(
                f"the demo replica did not become ready within {ready_timeout:g} s (see {workdir}/logs)"
            )
        url = running.url
        _out.print(f"rigshift is up: {url}/v1  (model {model!r})")
        _out.print(f"demo API key: {demo_key}")
        if first_admin:
            _out.print(f"admin key (shown once): {first_admin}")
        _out.print(
            f"try: curl {url}/v1/chat/completions -H 'Authorization: Bearer {demo_key}' "
            f'-H \'Content-Type: application/json\' -d \'{{"model": "{model}", '
            '"messages": [{"role": "user", "content": "hi"}]}\''
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    finally:
        for step in reversed(cleanup):
            with contextlib.suppress(Exception):  # shutting down: one failed step must not skip the rest
                step()


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("up")(up)
    app.command("usage")(usage)
    app.add_typer(keys_app, name="keys")
