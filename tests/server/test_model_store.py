"""The model store: uploads with an admin key, downloads with the join token, no path tricks."""

from __future__ import annotations

import hashlib

import httpx

from rigshift.server.app import create_app
from rigshift.server.serving import serve_in_thread
from rigshift.server.settings import ServerSettings
from rigshift.server.static_directory import StaticDirectory

from .conftest import JOIN_TOKEN, Gateway


def test_upload_list_download(engine, tmp_path):
    settings = ServerSettings(join_token=JOIN_TOKEN, model_store_dir=str(tmp_path / "store"))
    server = serve_in_thread(create_app(StaticDirectory([]), settings, engine=engine))
    try:
        gw = Gateway(server, engine, StaticDirectory([]))
        admin = {"authorization": f"Bearer {gw.key('ops', admin=True)}"}
        agent = {"authorization": f"Bearer {JOIN_TOKEN}"}
        blob = bytes(range(256)) * 4096  # 1 MiB, sent in chunks
        url = server.url + "/admin/models/tiny.Q8_0.gguf"
        up = httpx.put(url, content=iter([blob[:300_000], blob[300_000:]]), headers=admin)
        assert up.status_code == 201
        assert up.json()["sha256"] == hashlib.sha256(blob).hexdigest()

        listed = httpx.get(server.url + "/admin/models", headers=admin).json()["data"]
        assert listed == [
            {"name": "tiny.Q8_0.gguf", "size_bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        ]

        down = httpx.get(server.url + "/internal/models/tiny.Q8_0.gguf", headers=agent)
        assert down.status_code == 200 and down.content == blob
        assert httpx.get(server.url + "/internal/models/tiny.Q8_0.gguf").status_code == 401
        assert httpx.get(server.url + "/internal/models/other.gguf", headers=agent).status_code == 404
        assert httpx.get(server.url + "/internal/models/..%2Fsecret", headers=agent).status_code in (400, 404)
        assert httpx.get(server.url + "/internal/models/.hidden", headers=agent).status_code == 400
        tenant = {"authorization": f"Bearer {gw.key('tenant')}"}
        assert httpx.put(server.url + "/admin/models/x.gguf", content=b"x", headers=tenant).status_code == 403
        assert not list((tmp_path / "store").glob("*.part"))
    finally:
        server.stop()
