"""llama-server's texts for requests a model cannot serve leave as clear 400s, not raw or 5xx."""

from __future__ import annotations

import json

from rigshift.server.errors import normalise_backend_error


def _error(response) -> dict:
    return json.loads(bytes(response.body))["error"]


def test_sampler_init_failure_names_the_constraint():
    raw = b'{"error":{"code":400,"message":"Failed to initialize samplers: std::exception","type":"invalid_request_error"}}'
    response = normalise_backend_error(400, raw)
    error = _error(response)
    assert response.status_code == 400 and error["code"] == "grammar_unsupported"
    assert error["param"] == "response_format"
    assert "output constraint" in error["message"] and "std::exception" in error["message"]


def test_a_backend_501_for_embeddings_is_the_clients_400_not_a_502():
    raw = b'{"error":{"code":501,"message":"This server does not support embeddings. Start it with `--embeddings`","type":"not_supported_error"}}'
    response = normalise_backend_error(501, raw)
    assert response.status_code == 400 and _error(response)["code"] == "model_capability_missing"


def test_other_backend_errors_are_unchanged():
    assert normalise_backend_error(500, b'{"error":{"message":"boom"}}').status_code == 502
    assert _error(normalise_backend_error(400, b'{"error":{"message":"bad"}}'))["message"] == "bad"
