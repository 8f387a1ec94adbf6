"""Starting the control plane: `rigshift server` (a Ray head or fixed backends) and `rigshift up`
(everything on this machine). The CLI parses flags and calls these; nothing here parses flags.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rigshift.decision.service import read_decision_files
from rigshift.errors import BackendError, InputError
from rigshift.server.db import default_db_url, normalise_url, open_engine
from rigshift.server.demo_models import demo_models, demo_specs
from rigshift.server.fleet_source import FleetSource
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.deployments import DeploymentLog
from rigshift.server.stores.keys import KeyStore

Say = Callable[[str], None]


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


def join_token(db: str | None) -> str:
    from rigshift.server.local import load_or_create_secret

    return load_or_create_secret(data_dir(db) / "join-token")


def demo_key(keys: KeyStore, workdir: Path, models: list[str]) -> str:
    """The demo key of `up --demo`: the one from the last start while it is still active, else a
    new one (the old one revoked). Before, every start added another never-expiring key."""
    from rigshift.server.local import write_secret

    path = workdir / "demo-key"
    if path.is_file():
        secret = path.read_text().strip()
        key = keys.authenticate(secret)
        if key is not None and key.name == "demo" and all(key.allows(m) for m in models):
            return secret
        if key is not None:
            keys.revoke(key.id, now=time.time())
    _key, secret = keys.create("demo", now=time.time(), allowed_models=models, rate_limit_rpm=600)
    write_secret(path, secret)
    return secret


def serve(
    *,
    host: str,
    port: int,
    db: str | None,
    backends: Sequence[str],
    token: str | None,
    ray_port: int,
    ray_temp_dir: str | None,
    use_ray: bool,
    public_url: str | None,
    public_metrics: bool,
    public_docs: bool,
    say: Say,
    fleet: Path | None = None,
    energy: Path | None = None,
    files: dict[str, str | int | None] | None = None,
    prices: Path | None = None,
    demand: Path | None = None,
    alerts: dict[str, float | None] | None = None,
) -> None:
    """`rigshift server`: the control plane in the foreground until stopped.

    `files`: Batch API file settings (`files_dir`, `files_max_per_key`, ...); `alerts`: the alert
    rules' settings (`alert_price_ceiling_usd_mwh`, ...); None values keep `ServerSettings`'
    defaults. `prices`, `demand`: what the farm decision reads (the CLI's `--prices`, `--demand`),
    read here so that a bad file stops the start."""
    import uvicorn

    from rigshift.server.app import create_app
    from rigshift.server.serving import bind_socket, uvicorn_config
    from rigshift.server.static_directory import StaticDirectory, parse_backend

    fleet_source = None
    if fleet is not None:
        if not fleet.is_file():
            raise InputError(
                f"fleet file not found: {fleet}", field="--fleet", expected="a fleet JSON/YAML file"
            )
        # A malformed fleet, prices or demand file stops the start here, with its own clear message.
        fleet_source = FleetSource.from_file(fleet, read_decision_files(prices, demand))
        fleet_source.fleet()
    elif prices is not None or demand is not None:
        raise InputError(
            "--prices and --demand are what the farm decision of --fleet reads",
            field="--fleet",
            expected="a fleet file with them (`rigshift server --fleet FLEET --prices P --demand D`)",
        )
    engine = open_engine(db)
    token = token or join_token(db)
    settings = ServerSettings(
        db_url=db,
        host=host,
        port=port,
        join_token=token,
        model_store_dir=str(data_dir(db) / "model-store"),
        public_metrics=public_metrics,
        public_docs=public_docs,
        **{name: value for name, value in {**(files or {}), **(alerts or {})}.items() if value is not None},  # type: ignore[arg-type]
    )
    plane = None
    if backends or not use_ray:
        directory: Any = StaticDirectory([parse_backend(spec, i) for i, spec in enumerate(backends)])
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
        say(f"Ray head at {plane.head.address} (token auth); agents join with the join token")
    energy_loop = None
    if energy is not None:
        from rigshift.energy.wiring import build_energy_loop, measured_site_kw
        from rigshift.server.stores.energy_events import EnergyEventStore

        manager = plane.manager if plane else None
        try:
            energy_loop, energy_fleet = build_energy_loop(
                energy,
                EnergyEventStore(engine),
                desired=(lambda: manager.desired) if manager else (lambda: ()),
                hold=manager.hold if manager else None,
                release=manager.release if manager else None,
            )
        except BaseException:
            if plane is not None:
                plane.close(stop_replicas=False)
            raise
    app = create_app(
        directory,
        settings,
        engine=engine,
        manager=plane.manager if plane else None,
        ray_address=plane.head.address if plane else None,
        fleet=fleet_source,
        energy_loop=energy_loop,
    )
    if energy_loop is not None:
        energy_loop.measured_kw = measured_site_kw(
            app.state.ctx.telemetry.hub.readings,
            energy_fleet,
            {n: s.pue for n, s in energy_loop.sites.items()},
        )
        energy_loop.start(interval_s=5.0)
        say(f"energy policy on for {', '.join(energy_loop.sites)}")
    try:
        # Everything that can fail on the operator's input is done: the port is ours, the fleet
        # and energy files are read. Only now the one-time admin key: a start that failed
        # before must not have used up the only time it is shown.
        listening = bind_socket(host, port)
        first_admin = ensure_admin_key(KeyStore(engine))
        say(f"rigshift control plane on http://{host}:{port}  (OpenAI base URL: http://{host}:{port}/v1)")
        say(f"console: http://{host}:{port}/  (log in with an API key)")
        if first_admin:
            say(f"admin key (shown once): {first_admin}")
        uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[listening])
    finally:
        if energy_loop is not None:
            energy_loop.close()
        if plane is not None:
            plane.close(stop_replicas=False)  # the replicas outlive this process by design


def up_demo(*, host: str, port: int, db: str | None, use_ray: bool, ready_timeout: float, say: Say) -> None:
    """`rigshift up --demo`: database, local Ray (loopback only), gateway, one CPU replica of the
    tiny model; until SIGTERM or Ctrl-C, then everything it started is stopped in order."""
    from rigshift.server.app import create_app
    from rigshift.server.serving import serve_in_thread

    engine = open_engine(db)
    workdir = data_dir(db)
    token = join_token(db)
    keys = KeyStore(engine)
    # History written every 10 s, not 30: the demo's charts fill while someone watches.
    settings = ServerSettings(db_url=db, host=host, port=port, join_token=token, history_flush_s=10.0)
    cleanup: list[Callable[[], None]] = []
    try:
        if use_ray:
            import ray as ray_module

            from rigshift.server.cluster import start_local_plane

            cleanup.append(ray_module.shutdown)  # the local cluster belongs to this process
            plane = start_local_plane(token, engine, workdir, threads=2)
            cleanup.append(lambda: plane.close(stop_replicas=True))
            specs = list(demo_specs())
            plane.manager.apply(specs)
            DeploymentLog(engine).save_desired(specs, time.time())
            directory: Any = plane.manager.directory()
            manager = plane.manager

            def wait_ready() -> bool:
                return manager.wait_ready(len(specs), timeout_s=ready_timeout)

            app = create_app(directory, settings, engine=engine, manager=manager, fleet=FleetSource.demo())
        else:
            from rigshift.server.local import SupervisedDirectory, start_demo_replica

            local = SupervisedDirectory()
            supervisors = []
            for spec in demo_specs():
                supervisor, endpoint = start_demo_replica(workdir, spec)
                cleanup.append(supervisor.stop)
                local.add(endpoint, supervisor_state(supervisor))
                supervisors.append(supervisor)

            def wait_ready() -> bool:
                deadline = time.monotonic() + ready_timeout
                return all(s.wait_ready(max(0.0, deadline - time.monotonic())) for s in supervisors)

            app = create_app(local, settings, engine=engine, fleet=FleetSource.demo())
        model, *others = demo_models()
        key = demo_key(keys, workdir, [model, *others])
        running = serve_in_thread(app, host=host, port=port)
        cleanup.append(running.stop)
        from rigshift.run.demo_agent import start_demo_agent

        agent = start_demo_agent(running.url, token, app.state.ctx.fleet.fleet())
        cleanup.append(agent.stop)  # before the server stops: its last posts still get an answer
        if not wait_ready():
            raise BackendError(
                f"the demo replica did not become ready within {ready_timeout:g} s (see {workdir}/logs)"
            )
        url = running.url
        first_admin = ensure_admin_key(keys)  # only once the start has succeeded (see `serve`)
        say(f"rigshift is up: {url}/v1  (model {model!r}; also {', '.join(map(repr, others))})")
        say(f"demo API key: {key}")
        say(
            f"demo agent: {len(agent.rigs)} rigs of the demo farm report telemetry every {agent.interval_s:g} s"
        )
        if first_admin:
            say(f"admin key (shown once): {first_admin}")
        say(
            f"console: {url}/  (log in with the admin key"
            + (
                ")"
                if first_admin
                else " shown at the first start, or make one: rigshift keys create NAME --admin)"
            )
        )
        say(
            f"try: curl {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
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


def supervisor_state(supervisor: Any) -> Callable[[], str]:
    return lambda: supervisor.status().state


def require_demo(demo: bool) -> None:
    if not demo:
        raise InputError(
            "`rigshift up` without --demo needs a deployment; try `rigshift up --demo` first",
            field="--demo",
            expected="--demo (tiny generated model on the CPU)",
        )
