"""The management API reads bodies through strict schemas (issue 13's reproductions).

Before: `"admin": "false"` created an admin key, `"rate_limit_rpm": 1e400` stored inf and made
listing keys a 500 forever, `"allowed_models": "fake"` was stored as f,a,k,e, and a deployment
with `parallel: 0` was accepted with 202. Each must now be a 400 in OpenAI's shape, with nothing
stored.
"""

from __future__ import annotations

import json

import httpx
import pytest

from rigshift.errors import InputError
from rigshift.run.spec import ModelSource, ReplicaSpec, to_dict
from rigshift.server.app import create_app
from rigshift.server.schemas import KeyCreate, build
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory
from rigshift.server.stores.deployments import DeploymentLog
from rigshift.server.stores.keys import KeyStore

from .conftest import JOIN_TOKEN, Gateway, replica


def _error(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["message"]
    return error


BAD_KEY_BODIES = [
    pytest.param(b'{"name": "x", "admin": "false"}', id="admin-string-false"),
    pytest.param(b'{"name": "x", "admin": 0}', id="admin-zero"),
    pytest.param(b'{"name": "x", "rate_limit_rpm": 1e400}', id="rpm-1e400"),
    pytest.param(b'{"name": "x", "rate_limit_rpm": NaN}', id="rpm-nan"),
    pytest.param(b'{"name": "x", "rate_limit_rpm": 1.5}', id="rpm-float"),
    pytest.param(b'{"name": "x", "allowed_models": "fake"}', id="models-string"),
    pytest.param(b'{"name": "x", "allowed_models": ["a,b"]}', id="model-with-comma"),
    pytest.param(b'{"name": "x", "allowed_models": []}', id="models-empty"),
    pytest.param(b'{"name": "x", "token_quota": "100"}', id="quota-string"),
    pytest.param(b'{"name": "x", "token_quota": -1}', id="quota-negative"),
    pytest.param(b'{"name": "x", "token_quota": 1e30}', id="quota-huge"),
    pytest.param(b'{"name": "x", "quota_period": "week"}', id="period-week"),
    pytest.param(b'{"name": "x", "rate_limit_rmp": 5}', id="misspelt-field"),
    pytest.param(b'{"name": "\\ud800"}', id="name-lone-surrogate"),
    pytest.param(b'{"name": "   "}', id="name-blank"),
    pytest.param(b"null", id="null"),
    pytest.param(b"[]", id="list"),
    pytest.param(b'{"name": ', id="bad-json"),
    pytest.param(b'{"name": "x"' + b' , "a": [' * 200 + b"]" * 200 + b"}", id="deep"),
]


@pytest.mark.parametrize("body", BAD_KEY_BODIES)
def test_bad_key_bodies_are_400_and_store_nothing(backends, gateway, body):
    gw = gateway([replica("r1", backends().url)])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}", "content-type": "application/json"}
    before = KeyStore(gw.engine).list()
    error = _error(httpx.post(gw.url + "/admin/keys", content=body, headers=admin))
    assert error["type"] == "invalid_request_error"
    assert KeyStore(gw.engine).list() == before
    # Listing and revoking still work afterwards (they used to be 500s forever after `1e400`).
    assert httpx.get(gw.url + "/admin/keys", headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("data", "where", "words"),
    [
        ({"name": "a\nb"}, "$.name", "control"),  # a validator's ValueError: no "Value error, " prefix
        ({"name": "x", "rate_limit_rmp": 5}, "$.rate_limit_rmp", "did you mean: rate_limit_rpm?"),
        ({"name": "x", "quota_period": "week"}, "$.quota_period", "(expected day or month)"),
        ({"name": "x", "token_quota": -1, "rate_limit_rpm": 0}, "$.token_quota", "(and 1 more)"),
    ],
)
def test_http_validation_errors_read_as_the_shared_formatter_words_them(
    backends, gateway, data, where, words
):
    """Regression (issue 19, item 5): the HTTP handler had its own pydantic formatter. The body's
    problem now reads as the CLI's local control plane (`schemas.build`) words the same body."""
    gw = gateway([replica("r1", backends().url)])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    error = _error(httpx.post(gw.url + "/admin/keys", json=data, headers=admin))
    with pytest.raises(InputError) as local:
        build(KeyCreate, data)
    first = local.value.problems[0]
    assert error["param"] == where == first.location
    assert error["message"].startswith(f"{where}: {first.message}")
    assert words in error["message"] and "Value error" not in error["message"]


def test_a_good_key_body_is_stored_as_written(backends, gateway):
    gw = gateway([replica("r1", backends().url)])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    body = {
        "name": "carol",
        "admin": False,
        "allowed_models": ["tiny", "org/model:q4"],
        "token_quota": 1000,
        "quota_period": "day",
        "rate_limit_rpm": 60,
    }
    created = httpx.post(gw.url + "/admin/keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()
    assert {k: data[k] for k in body} == body and data["key"].startswith("rs-")
    stored = KeyStore(gw.engine).get(data["id"])
    assert stored is not None and stored.allowed_models == ("tiny", "org/model:q4") and not stored.admin


def test_query_parameters_are_checked(backends, gateway):
    gw = gateway([replica("r1", backends().url)])
    admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
    tenant = {"authorization": f"Bearer {gw.key('t')}"}
    assert _error(httpx.get(gw.url + "/admin/usage?since=" + "9" * 400, headers=admin))["param"] == "since"
    _error(httpx.get(gw.url + "/v1/usage?since=" + "9" * 30 + "d", headers=tenant))
    _error(httpx.get(gw.url + "/v1/usage?since=99999999999d", headers=tenant))
    _error(httpx.get(gw.url + "/admin/usage?by=gpu", headers=admin))
    _error(httpx.get(gw.url + "/admin/actions?limit=1e400", headers=admin))
    _error(httpx.get(gw.url + "/admin/actions?limit=0", headers=admin))
    assert httpx.get(gw.url + "/admin/usage?since=24h", headers=admin).status_code == 200


def test_unknown_routes_and_methods_answer_in_openai_shape(backends, gateway):
    gw = gateway([replica("r1", backends().url)])
    assert _error(httpx.get(gw.url + "/v2/nothing"), 404)["code"] == "not_found"
    assert _error(httpx.delete(gw.url + "/admin/keys"), 405)["code"] == "method_not_allowed"


SPEC = to_dict(ReplicaSpec("tiny-0", "tiny", "tiny", ModelSource("demo", "hi"), "rig-a"))


class _Manager:
    def __init__(self) -> None:
        self.desired: list[ReplicaSpec] = []

    def apply(self, specs: list[ReplicaSpec]) -> None:
        self.desired = list(specs)


@pytest.mark.parametrize(
    "change",
    [
        {"parallel": 0},
        {"runtime": "bogus"},
        {"context": -5},
        {"context": 1e400},
        {"parallel": "4"},
        {"embeddings": "false"},
        {"watts": -1},
        {"gpu_indices": [-1]},
        {"replica_id": "x\ny"},
        {"model": "a,b"},
        {"source": {"kind": "ftp", "uri": "x"}},
        {"surprise": 1},
    ],
)
def test_bad_deployments_are_400_and_change_nothing(engine, change):
    manager = _Manager()
    app = create_app(
        StaticDirectory([]), ServerSettings(join_token=JOIN_TOKEN), engine=engine, manager=manager
    )  # type: ignore[arg-type]
    server = serve_in_thread(app)
    try:
        gw = Gateway(server, engine, StaticDirectory([]))
        admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
        good = httpx.put(server.url + "/admin/deployments", content=json.dumps([SPEC]), headers=admin)
        assert good.status_code == 202
        bad = httpx.put(
            server.url + "/admin/deployments", content=json.dumps([{**SPEC, **change}]), headers=admin
        )
        _error(bad)
        assert [s.replica_id for s in manager.desired] == ["tiny-0"] and manager.desired[0].parallel == 1
        assert DeploymentLog(engine).load_desired() == manager.desired
    finally:
        server.stop()


def test_the_join_token_is_compared_in_full(gateway):
    gw = gateway([])
    url = gw.url + "/internal/cluster"
    assert httpx.get(url, headers={"authorization": f"Bearer {JOIN_TOKEN}"}).status_code == 200
    for header in (
        f"xxxxxxx{JOIN_TOKEN}",  # any 7-character prefix used to pass
        f"Basic  {JOIN_TOKEN}",
        f"Bearer {JOIN_TOKEN[:-1]}",
        f"Bearer {JOIN_TOKEN}x",
        "Bearer x",
        JOIN_TOKEN,
    ):
        assert httpx.get(url, headers={"authorization": header}).status_code == 401, header


def test_model_store_names_and_empty_uploads_are_refused(engine, tmp_path):
    settings = ServerSettings(join_token=JOIN_TOKEN, model_store_dir=str(tmp_path / "store"))
    server = serve_in_thread(create_app(StaticDirectory([]), settings, engine=engine))
    try:
        gw = Gateway(server, engine, StaticDirectory([]))
        admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
        _error(httpx.put(server.url + "/admin/models/tiny.gguf%0A", content=b"GGUF", headers=admin))
        _error(httpx.put(server.url + "/admin/models/empty.gguf", content=b"", headers=admin))
        assert httpx.get(server.url + "/admin/models", headers=admin).json()["data"] == []
        assert not list((tmp_path / "store").glob("*"))
    finally:
        server.stop()
