"""Console login: the session cookie, CSRF on changes, logout, revocation, tenant scoping."""

from __future__ import annotations

import httpx

from rigshift.server.stores.keys import KeyStore

from .helpers import Plane, bearer


def _key_names(plane: Plane) -> set[str]:
    return {k.name for k in KeyStore(plane.engine).list()}


def test_login_sets_an_httponly_samesite_strict_cookie_and_the_session_reads_admin_routes(plane: Plane):
    # Generous: the first /admin/overview computes the farm's overview, which timed out at httpx's
    # default 5 s on a loaded 2-core machine.
    client = httpx.Client(base_url=plane.url, timeout=60)
    response = client.post("/console/login", json={"key": plane.admin_key})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert plane.admin_key not in cookie  # the key itself never goes to the browser
    assert response.json()["admin"] is True and response.json()["csrf_token"]
    assert client.get("/admin/overview").status_code == 200
    assert client.get("/console/session").json()["name"] == "admin"


def test_wrong_key_gets_401_in_openai_shape_and_no_cookie(plane: Plane):
    response = httpx.post(plane.url + "/console/login", json={"key": "rs-000000000000_nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "set-cookie" not in response.headers
    empty = httpx.post(plane.url + "/console/login", json={})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "$.key"


def test_a_change_without_the_csrf_token_is_refused_and_stores_nothing(plane: Plane):
    client, csrf = plane.login(plane.admin_key)
    refused = client.post("/admin/keys", json={"name": "csrf-victim"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/admin/keys", json={"name": "csrf-victim"}, headers={"x-csrf-token": csrf + "x"})
    assert wrong.status_code == 403
    cross = client.post(
        "/admin/keys",
        json={"name": "csrf-victim"},
        headers={"x-csrf-token": csrf, "origin": "http://evil.example"},
    )
    assert cross.status_code == 403 and "cross-origin" in cross.json()["error"]["message"]
    assert "csrf-victim" not in _key_names(plane)
    made = client.post(
        "/admin/keys", json={"name": "csrf-ok"}, headers={"x-csrf-token": csrf, "origin": plane.url}
    )
    assert made.status_code == 201 and "csrf-ok" in _key_names(plane)


def test_bearer_keys_need_no_csrf_token(plane: Plane):
    response = httpx.post(
        plane.url + "/admin/keys", json={"name": "via-cli"}, headers=bearer(plane.admin_key)
    )
    assert response.status_code == 201


def test_cross_origin_login_is_refused(plane: Plane):
    response = httpx.post(
        plane.url + "/console/login", json={"key": plane.admin_key}, headers={"origin": "http://evil.example"}
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_logout_ends_the_session(plane: Plane):
    client, csrf = plane.login(plane.admin_key)
    assert client.post("/console/logout").status_code == 403  # logout is a change: CSRF applies
    assert client.get("/admin/overview").status_code == 200
    assert client.post("/console/logout", headers={"x-csrf-token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/admin/overview").status_code == 401


def test_a_stolen_cookie_is_useless_after_logout(plane: Plane):
    client, csrf = plane.login(plane.admin_key)
    stolen = dict(client.cookies)
    client.post("/console/logout", headers={"x-csrf-token": csrf})
    assert httpx.get(plane.url + "/admin/overview", cookies=stolen).status_code == 401


def test_revoking_a_key_ends_its_sessions_even_when_revoked_in_the_database(plane: Plane):
    key_id, secret = plane.key("short-lived", admin=True)
    client, _csrf = plane.login(secret)
    assert client.get("/admin/overview").status_code == 200
    KeyStore(plane.engine).revoke(key_id, now=0.0)  # `rigshift keys revoke` on the DB, not the API
    assert client.get("/admin/overview").status_code == 401


def test_a_tenant_session_sees_only_its_own_usage_and_no_admin_routes(plane: Plane):
    from rigshift.server.stores.usage import UsageRecord, UsageStore

    mine, mine_secret = plane.key("tenant-a")
    theirs, _ = plane.key("tenant-b")
    UsageStore(plane.engine).insert_many(
        [
            UsageRecord(
                f"u-{k}-{i}", 1e12, k, "chat", "tiny", "r0", "rig-x", ("rig-x/0",), 10, 5, 30.0, 0.1, 200
            )
            for k in (mine, theirs)
            for i in range(2)
        ]
    )
    client, _csrf = plane.login(mine_secret)
    assert client.get("/console/session").json()["admin"] is False
    for path in ("/admin/overview", "/admin/fleet", "/admin/keys", "/admin/econ", "/admin/usage"):
        assert client.get(path).status_code == 403, path
    report = client.get("/v1/usage/report", params={"since": "2000-01-01"}).json()
    assert report["scope"] == "own"
    assert [r["group"] for r in report["key"]] == [mine]
    assert [r["group"] for r in report["tenant"]] == ["tenant-a"]
    assert report["total"]["requests"] == 2
    admin_report = httpx.get(
        plane.url + "/v1/usage/report", params={"since": "2000-01-01"}, headers=bearer(plane.admin_key)
    ).json()
    assert {mine, theirs} <= {r["group"] for r in admin_report["key"]}
