"""rigshift's control plane: OpenAI-compatible gateway, API keys, metering, telemetry, metrics."""
