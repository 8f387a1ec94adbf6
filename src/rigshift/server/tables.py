"""The control plane's tables (SQLAlchemy Core). Rows never leave the store modules.

The schema is created and evolved only by the Alembic migrations in `migrations/versions`; this
module is the same schema as Python objects for queries. A test checks the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from rigshift.measure.store import measurements
from rigshift.server.stores.adapters import adapters
from rigshift.storage.schema import metadata

__all__ = ["adapters", "measurements", "metadata"]  # these tables live with their stores

# An API key is stored as sha256(key) plus its public lookup id; the key itself is never stored.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),  # public part of the key: "rs-<id>-<secret>"
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False),  # hex sha256 of the whole key
    Column("admin", Boolean, nullable=False, default=False),
    Column("allowed_models", Text, nullable=False, default="*"),  # comma-separated, "*" = any
    Column("token_quota", Integer, nullable=True),  # tokens per period; NULL = unlimited
    Column("quota_period", String(16), nullable=False, default="month"),  # day | month
    Column("rate_limit_rpm", Integer, nullable=True),  # requests per minute; NULL = unlimited
    Column("created_at", Float, nullable=False),  # unix seconds
    Column("revoked_at", Float, nullable=True),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", String(32), primary_key=True),  # request id, also returned to the client
    Column("created_at", Float, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("endpoint", String(32), nullable=False),  # chat | completions | embeddings | responses
    Column("model", String(200), nullable=False),
    Column("replica_id", String(200), nullable=False),
    Column("rig", String(200), nullable=False),
    Column("gpus", Text, nullable=False, default=""),  # comma-separated GPU ids
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("energy_wh", Float, nullable=False),
    Column("status", Integer, nullable=False),  # HTTP status the client saw
    # Who counted the tokens: "backend" (its usage report), "counted" (the gateway, with the
    # backend's tokenizer and the events it passed on) or "estimated" (no tokenizer could answer).
    Column("tokens_source", String(16), nullable=False, server_default="backend"),
    Column("batch_id", String(40), nullable=True),  # set for Batch API lines: billed at the batch price
    Index("ix_usage_key_time", "key_id", "created_at"),
    Index("ix_usage_time", "created_at"),
)

# The reconciler's log: every start/stop/move with its reason.
actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("deployment", String(200), nullable=False),
    Column("replica_id", String(200), nullable=True),
    Column("action", String(32), nullable=False),  # start | stop | move | restart
    Column("reason", Text, nullable=False),
    Index("ix_actions_time", "created_at"),
)

telemetry_latest = Table(
    "telemetry_latest",
    metadata,
    Column("rig", String(200), primary_key=True),
    Column("gpu_index", Integer, primary_key=True),
    Column("uuid", String(200), nullable=True),
    Column("model", String(200), nullable=True),
    Column("reported_at", Float, nullable=False),
    Column("temperature_c", Float, nullable=True),
    Column("power_w", Float, nullable=True),
    Column("power_limit_w", Float, nullable=True),
    Column("utilization_pct", Float, nullable=True),
    Column("memory_used_gib", Float, nullable=True),
    Column("memory_total_gib", Float, nullable=True),
    Column("memory_used_by_others_gib", Float, nullable=True),
)

# The plan the reconciler converges to (data-plane ReplicaSpec JSON), re-applied at start-up.
desired_specs = Table(
    "desired_specs",
    metadata,
    Column("replica_id", String(200), primary_key=True),
    Column("spec_json", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# The Batch API: uploaded files (metadata only: the bytes live in the server's file directory,
# `file_blobs`; `content` holds bytes only in rows written before migration 0008, until the next
# start moves them to disk), batches, and one row per finished line: the line-level checkpoint
# that lets a paused or restarted batch resume without losing or repeating a line.
files = Table(
    "files",
    metadata,
    Column("id", String(40), primary_key=True),  # "file-<hex>"
    Column("key_id", String(32), nullable=False),  # owner; tenants only ever see their own
    Column("purpose", String(32), nullable=False),  # batch | batch_output
    Column("filename", String(255), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("content", LargeBinary, nullable=True),  # legacy rows only (see above)
    Column("sha256", String(64), nullable=True),  # of the bytes on disk, checked when read
    Index("ix_files_key_time", "key_id", "created_at"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(40), primary_key=True),  # "batch_<hex>"
    Column("key_id", String(32), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String(40), nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("errors_json", Text, nullable=True),
    Column("metadata_json", Text, nullable=True),
    Column("output_file_id", String(40), nullable=True),
    Column("error_file_id", String(40), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("in_progress_at", Float, nullable=True),
    Column("expires_at", Float, nullable=False),
    Column("finalizing_at", Float, nullable=True),
    Column("completed_at", Float, nullable=True),
    Column("failed_at", Float, nullable=True),
    Column("expired_at", Float, nullable=True),
    Column("cancelling_at", Float, nullable=True),
    Column("cancelled_at", Float, nullable=True),
    Index("ix_batches_key_time", "key_id", "created_at"),
    Index("ix_batches_status", "status"),
)

batch_results = Table(
    "batch_results",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("line_index", Integer, primary_key=True),
    Column("custom_id", String(512), nullable=False),
    Column("request_id", String(40), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the backend's JSON answer, or an OpenAI error object
    Column("ok", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Demand-response events (`rigshift energy event`, POST /admin/energy/events) and what each did.
energy_events = Table(
    "energy_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site", String(200), nullable=False),
    Column("start_at", Float, nullable=False),  # unix seconds
    Column("end_at", Float, nullable=False),
    Column("shed_kw", Float, nullable=True),  # asked: shed this much below the baseline …
    Column("target_kw", Float, nullable=True),  # … or stay at or under this draw
    Column("created_at", Float, nullable=False),
    Column("cancelled_at", Float, nullable=True),
    Column("baseline_kw", Float, nullable=True),  # the draw when the event began
    Column("max_kw_shed", Float, nullable=False, default=0.0),
    Column("kwh_avoided", Float, nullable=False, default=0.0),
    Column("under_target_after_s", Float, nullable=True),  # from start to the first reading under target
    Column("paused_json", Text, nullable=False, default="{}"),  # what was paused: batch, mining, replicas
    Index("ix_energy_events_site_time", "site", "start_at"),
)

# Alerts (server/alert_rules.py): one row per firing, from when a rule first held for a subject
# until it stopped holding (resolved_at), with who acknowledged it and when.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(32), primary_key=True),  # "al-<hex>"
    Column("rule", String(32), nullable=False),  # rig_lost | hot_gpu | error_rate | …
    Column("subject", String(200), nullable=False),  # the rig, GPU, replica, model or site
    Column("severity", String(16), nullable=False),  # warning | critical
    Column("message", Text, nullable=False),  # the latest evaluation's words
    Column("fired_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("resolved_at", Float, nullable=True),  # NULL: firing now
    Column("acked_at", Float, nullable=True),
    Column("acked_by", String(200), nullable=True),  # the admin key's name
    Index("ix_alerts_open", "resolved_at", "rule", "subject"),
    Index("ix_alerts_fired", "fired_at"),
)

# The operators' actions (drain, demand apply, bench, key revoke, energy events): who, when, what.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),  # the admin key's name, or "local CLI (user)"
    Column("actor_key_id", String(32), nullable=True),
    Column("action", String(32), nullable=False),  # rig.drain | demand.apply | key.revoke | …
    Column("target", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("outcome", String(16), nullable=False),  # ok | dry_run | started | failed
    Index("ix_audit_time", "at"),
)

# Rigs an operator drained: the gateway sends them no request, a plan starts no new replica there.
rig_drains = Table(
    "rig_drains",
    metadata,
    Column("rig", String(200), primary_key=True),
    Column("drained_at", Float, nullable=False),
    Column("drained_by", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)

# History (history_series.py): one row per series and subject, and its rolled-up points, each a
# bucket's count, sum, min and max at one resolution (60, 900 or 3600 s). Keyed for the one query
# a chart makes (one series, one resolution, a time range); SQLite keeps it without a rowid.
history_series = Table(
    "history_series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("subject", String(400), nullable=False),
    Index("ux_history_series_name_subject", "name", "subject", unique=True),
)

history_points = Table(
    "history_points",
    metadata,
    Column("series_id", Integer, primary_key=True, autoincrement=False),
    Column("resolution", Integer, primary_key=True, autoincrement=False),
    Column(
        "bucket", Integer, primary_key=True, autoincrement=False
    ),  # unix seconds, a multiple of resolution
    Column("n", Float, nullable=False),
    Column("total", Float, nullable=False),
    Column("lo", Float, nullable=False),
    Column("hi", Float, nullable=False),
    sqlite_with_rowid=False,
)

# The Responses API's stored responses (`store: true`, the default): what `GET /v1/responses/{id}`
# returns and what `previous_response_id` continues. Each belongs to the key that created it.
responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),  # "resp_<hex>"
    Column("key_id", String(32), nullable=False),  # owner; tenants only ever see their own
    Column("created_at", Float, nullable=False),
    Column("previous_response_id", String(64), nullable=True),
    Column("response_json", Text, nullable=False),  # the Response object as the client got it
    Column("input_json", Text, nullable=False),  # the conversation's input items up to this turn
    Index("ix_responses_key_time", "key_id", "created_at"),
)
