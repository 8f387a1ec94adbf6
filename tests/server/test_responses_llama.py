"""`/v1/responses` through the gateway in front of the real llama.cpp server (CPU, the tiny
generated model), driven by the official `openai` client: both stream modes and
`previous_response_id`, billed from llama-server's own token counts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from rigshift.run.backends import find_llama_server
from rigshift.run.tiny_gguf import expected_text, write_tiny_gguf
from rigshift.server.serving import free_port
from rigshift.server.stores.usage import UsageStore
from waiting import wait_until

from . import test_llama_integration as llama_integration
from .conftest import replica

pytestmark = llama_integration.pytestmark  # slow; skipped without llama-server
MODEL = llama_integration.MODEL


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def llama_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = find_llama_server()
    assert binary is not None
    model = write_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf")
    port = free_port()
    argv = [str(binary), "--model", str(model), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--parallel", "2", "--ctx-size", "1024", "--alias", MODEL, "--threads", "1", "--no-webui"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url) or process.poll() is not None, "llama-server to start", timeout_s=60)
        assert process.poll() is None, "llama-server exited at start"
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_responses_on_the_real_backend_with_the_openai_client(llama_url, gateway):
    gw = gateway([replica("r1", llama_url, model=MODEL, context=512)])
    client = gw.client(gw.key())

    first = client.responses.create(model=MODEL, input="hi", max_output_tokens=32)
    assert first.status == "completed"
    assert first.output_text.strip() == expected_text(max_tokens=32)
    assert first.usage is not None and first.usage.input_tokens > 0 and first.usage.output_tokens > 0

    events = list(
        client.responses.create(model=MODEL, input="hi", max_output_tokens=32, stream=True, store=False)
    )
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed.strip() == expected_text(max_tokens=32) == events[-1].response.output_text.strip()
    streamed_usage = events[-1].response.usage
    assert streamed_usage is not None and streamed_usage.output_tokens == first.usage.output_tokens

    second = client.responses.create(
        model=MODEL, input="and again", previous_response_id=first.id, max_output_tokens=8
    )
    assert second.status in ("completed", "incomplete") and second.output_text.strip()
    assert second.usage is not None
    # The earlier turn (its input and its output) was part of the prompt this time.
    assert second.usage.input_tokens > first.usage.input_tokens + first.usage.output_tokens
    assert len(client.responses.input_items.list(second.id).data) == 3

    records = [r for r in UsageStore(gw.engine).records() if r.endpoint == "responses"]
    billed = sorted((r.prompt_tokens, r.completion_tokens) for r in records)
    reported = sorted((u.input_tokens, u.output_tokens) for u in (first.usage, streamed_usage, second.usage))
    assert billed == reported and all(r.tokens_source == "backend" for r in records)


def test_the_typed_stream_reaches_the_end_on_the_real_backend_when_the_limit_cuts_it(llama_url, gateway):
    gw = gateway([replica("r1", llama_url, model=MODEL, context=512)])
    client = gw.client(gw.key())
    events = list(client.responses.create(model=MODEL, input="hi", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"
