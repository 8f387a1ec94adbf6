"""Strict JSON at the gateway: what llama-server would choke on never reaches it (issue 13, High #1).

Python's `json.loads` accepts NaN, Infinity, 1e400 and lone surrogates; llama-server answers such
bodies with a 500. Each case here must be a 400 in OpenAI's error shape, with the backend never
called, and a body over the size limit must be refused for authenticated callers too.
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import replica

POISON = [
    pytest.param(b'{"model": "tiny", "messages": [], "temperature": NaN}', id="nan"),
    pytest.param(b'{"model": "tiny", "messages": [], "temperature": Infinity}', id="infinity"),
    pytest.param(b'{"model": "tiny", "messages": [], "temperature": -Infinity}', id="minus-infinity"),
    pytest.param(b'{"model": "tiny", "messages": [], "temperature": 1e400}', id="overflow-1e400"),
    pytest.param(b'{"model": "tiny", "messages": [], "seed": ' + b"9" * 400 + b"}", id="400-digit-int"),
    pytest.param(
        b'{"model": "tiny", "messages": [{"role": "user", "content": "\\ud800"}]}', id="lone-surrogate"
    ),
    pytest.param(
        b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "\\udfff": 1}',
        id="lone-surrogate-key",
    ),
    pytest.param(
        b'{"model": "tiny", "messages": [], "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        id="nesting-100k",
    ),
    pytest.param(b'{"model": "tiny", "messages": [], "x": ' + b"[" * 80 + b"]" * 80 + b"}", id="nesting-80"),
    pytest.param(
        b'{"model": "tiny", "messages": [], "stream": true, "stream_options": "yes"}',
        id="stream-options-string",
    ),
    pytest.param(
        b'{"model": "tiny", "messages": [], "stream": true, "stream_options": [1]}', id="stream-options-list"
    ),
    pytest.param(b'{"model": "tiny", "messages": [], "stream": "true"}', id="stream-string"),
    pytest.param(b'{"model": "tiny", "messages": [], "max_tokens": -1}', id="negative-max-tokens"),
    pytest.param(b'{"model": "tiny", "messages": [], "max_tokens": 1.5}', id="float-max-tokens"),
    pytest.param(b'{"model": "tiny", "messages": "hi"}', id="messages-string"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b'["model", "tiny"]', id="not-an-object"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", POISON)
def test_bodies_llama_server_would_500_on_are_400_before_any_backend(backends, gateway, body):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    response = httpx.post(
        gw.url + "/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {gw.key()}", "content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert set(error) == {"message", "type", "code", "param"}
    assert backend.state.requests == 0


def test_valid_surrogate_pairs_and_moderate_nesting_still_pass(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)])
    body = (
        b'{"model": "tiny", "messages": [{"role": "user", "content": "\\ud83d\\ude00 ok"}],'
        b' "temperature": 0.5, "seed": 18446744073709551615, "metadata": {"x": '
        + b"[" * 20
        + b"]" * 20
        + b"}}"
    )
    response = httpx.post(
        gw.url + "/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {gw.key()}", "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert backend.state.requests == 1


def test_a_body_over_the_limit_is_refused_for_authenticated_callers_too(backends, gateway):
    backend = backends()
    gw = gateway([replica("r1", backend.url)], max_body_bytes=64 * 1024)
    key = gw.key()
    big = b'{"model": "tiny", "messages": [{"role": "user", "content": "' + b"x" * 100_000 + b'"}]}'
    for headers in ({"authorization": f"Bearer {key}"}, {}):
        # Sized body (Content-Length) and chunked body (no length up front): both refused.
        for content in (big, iter([big[:50_000], big[50_000:]])):
            response = httpx.post(
                gw.url + "/v1/chat/completions",
                content=content,
                headers={**headers, "content-type": "application/json"},
            )
            if not headers and not isinstance(content, bytes):
                # Unauthenticated and no length up front: refused before the body is read at all.
                assert response.status_code == 401
                continue
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "request_too_large"
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    response = httpx.post(
        gw.url + "/admin/keys", content=b'{"name": "' + b"n" * 100_000 + b'"}', headers=admin
    )
    assert response.status_code == 413
    assert backend.state.requests == 0
    assert "n" * 1000 not in httpx.get(gw.url + "/admin/keys", headers=admin).text


def test_loads_strict_names_where_the_bad_value_is():
    from rigshift.server.errors import BadRequest
    from rigshift.server.strict_json import loads_strict

    cases = {
        b'{"a": [1, 1e400]}': "$.a[1]",
        b'{"a": {"b": "\\udc00"}}': "$.a.b",
        b'{"seed": -9223372036854775809}': "$.seed",
        b'{"x": "ok", "y": [[[[1]]]]}': None,
    }
    for raw, where in cases.items():
        if where is None:
            assert loads_strict(raw, max_depth=5) == {"x": "ok", "y": [[[[1]]]]}
            with pytest.raises(BadRequest, match="deeper than 4"):
                loads_strict(raw, max_depth=4)
            continue
        with pytest.raises(BadRequest) as error:
            loads_strict(raw)
        assert error.value.param == where and error.value.code == "invalid_json"
    assert loads_strict('{"e": "\\ud83d\\ude00", "big": 18446744073709551615}') == {
        "e": "😀",
        "big": 2**64 - 1,
    }
