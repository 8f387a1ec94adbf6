"""rigshift's control plane: OpenAI-compatible gateway, API keys, metering, telemetry, metrics."""

from rigshift.server.app import create_app
from rigshift.server.db import default_db_url, open_engine
from rigshift.server.settings import ServerSettings
from rigshift.server.stores.keys import ApiKey, KeyStore
from rigshift.server.stores.usage import UsageRecord, UsageStore

__all__ = [
    "ApiKey",
    "KeyStore",
    "ServerSettings",
    "UsageRecord",
    "UsageStore",
    "create_app",
    "default_db_url",
    "open_engine",
]
