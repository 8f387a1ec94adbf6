"""Control-plane settings: one object built at the entry point (flags, `RIGSHIFT_*` env) and passed down."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSettings:
    db_url: str | None = None  # None: `RIGSHIFT_DB` or ~/.local/share/rigshift/rigshift.db
    host: str = "127.0.0.1"  # loopback unless the operator opens it on purpose
    port: int = 8000
    join_token: str | None = None  # agents authenticate telemetry (and Ray) with it
    queue_factor: float = 2.0  # a replica takes max_parallel x this before it counts as saturated
    max_attempts: int = 3  # replicas tried per request when earlier ones fail before the first byte
    auth_cache_s: float = 2.0  # how stale a key's revocation may be (a revoke via the API is instant)
    connect_timeout_s: float = 2.0
    backend_timeout_s: float = 600.0  # a long generation is not a failure
    saturated_retry_after_s: float = 1.0
    health_probe_s: float = 1.0  # how often a replica out of rotation is probed (GET /health)
    telemetry_flush_s: float = 5.0  # latest telemetry is written to the DB at most this often
    telemetry_stale_s: float = 30.0  # a rig silent this long is reported as such in /metrics
    history_flush_s: float = 30.0  # the history's rolled-up points are written this often
    model_store_dir: str | None = None  # None: no model store (GET /internal/models answers 404)
    max_body_bytes: int = 8 * 1024 * 1024  # every request body but model uploads (413 above it)
    max_upload_bytes: int = 512 * 1024**3  # one model file uploaded to the store
    max_json_depth: int = 64  # nesting a request body may have (OpenAI bodies use a dozen at most)
    public_metrics: bool = True  # serve /metrics (Prometheus); off: no route at all
    public_docs: bool = False  # serve /docs and /openapi.json (the API's schema)
    batch_concurrency: int = 4  # Batch API lines in flight at once (each still needs a free slot)
    batch_poll_s: float = 1.0  # how often an idle batch runner looks for work
    # Batch API files (docs/server.md, "Files and batches"): bytes on disk, limits per API key.
    files_dir: str | None = None  # None: `files/` beside a SQLite database, else the XDG data dir's
    files_max_file_bytes: int = 100 * 1024 * 1024  # one upload (413 above it)
    files_max_per_key: int = 1000  # files one key may hold (its uploads; batch outputs not counted)
    files_max_bytes_per_key: int = 10 * 1024**3  # bytes one key's uploads may hold in all
    files_uploads_per_minute: int = 30  # uploads one key may start a minute (429 above it)
    # Alerts (docs/server.md, "Alerts"): how often the rules run, and where they fire.
    alerts_eval_s: float = 10.0
    alert_stale_after_s: float = 15.0  # telemetry_stale: three missed 5 s agent reports
    alert_error_rate: float = 0.05  # error_rate: failed / all requests of a model, last 5 min
    alert_min_requests: int = 20  # … over at least this many requests
    alert_slo_p95_latency_s: float = 30.0  # slo_breach: p95 latency of a model, last 5 min
    alert_price_ceiling_usd_mwh: float | None = None  # price_above_ceiling; None: off
