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
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

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
    Column("endpoint", String(32), nullable=False),  # chat | completions | embeddings
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

# llama-bench results, one row per (card, test): `rigshift bench` and `rigshift bench import`
# write them, the estimator's calibration reads them (rigshift.measure).
measurements = Table(
    "measurements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("measured_at", Float, nullable=False),
    Column("card_key", String(200), nullable=False),  # GPU catalog key, or "host-cpu"
    Column("card_name", String(300), nullable=False),  # as the runtime reported it
    Column("vram_gib", Float, nullable=True),
    Column("card_uuid", String(200), nullable=True),
    Column("rig", String(200), nullable=True),
    Column("driver", String(200), nullable=True),
    Column("runtime", String(32), nullable=False),
    Column("runtime_build", String(100), nullable=True),
    Column("power_limit_w", Float, nullable=True),
    Column("pcie_link", String(32), nullable=True),
    Column("model_key", String(200), nullable=False),
    Column("quant", String(32), nullable=False),
    Column("n_prompt", Integer, nullable=False),
    Column("n_gen", Integer, nullable=False),
    Column("n_depth", Integer, nullable=False),
    Column("n_gpu_layers", Integer, nullable=True),
    Column("n_threads", Integer, nullable=True),
    Column("tokens_per_s", Float, nullable=False),
    Column("stddev_tokens_per_s", Float, nullable=False),
    Column("gpu_memory_used_gib", Float, nullable=True),
    Column("source", Text, nullable=False),  # "bench", "import FILE:LINE", "agent RIG"
    Index("ix_measurements_card", "card_key", "runtime"),
)
