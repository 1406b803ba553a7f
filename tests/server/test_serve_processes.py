"""``memstrata serve --processes 2``: two server processes share the port and the database; a document created
through one is ingested and readable through either (the queue and the vector cache are multi-process safe)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from tests.server.helpers import ADMIN_TOKEN, SubprocessServer, admin_create_instance


def test_two_server_processes_share_port_and_database(tmp_path: Path) -> None:
    env = {
        "MEMSTRATA_DSN": f"sqlite:///{tmp_path / 'p2.db'}",
        "MEMSTRATA_EMBEDDER": "hashing",
        "MEMSTRATA_ADMIN_TOKEN": ADMIN_TOKEN,
        "MEMSTRATA_HOME": str(tmp_path / "home"),
    }
    server = SubprocessServer(env, tmp_path / "server.log", extra_args=["--processes", "2"]).start()
    try:
        made = admin_create_instance(server.url, "multi", "b2b")
        headers = {"Authorization": f"Bearer {made['key']['api_key']}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            ids = []
            for i in range(6):  # new connections each time: requests spread over both processes
                r = httpx.post(
                    f"{server.url}/api/v1/memories/create",
                    headers=headers,
                    json={"document": f"User: my locker number is {i}41.", "customer_id": "acme", "user_id": "u1"},
                    timeout=30,
                )
                assert r.status_code == 200, r.text
                ids.append(r.json()["ingestion_id"])
            deadline = time.monotonic() + 60
            pending = set(ids)
            while pending and time.monotonic() < deadline:
                for ing in list(pending):
                    st = http.get(f"/api/v1/memories/status/{ing}").json()
                    if st["status"] == "completed":
                        pending.discard(ing)
                    else:
                        assert st["status"] in ("queued", "processing"), st
                time.sleep(0.1)
            assert not pending
            body = {"user_id": "u1", "customer_id": "acme", "search_query": ["locker number"], "max_results": 20}
            ctx = http.post("/v1/context/user/fetch", json=body).json()["context"]
            texts = " ".join(i.get("content") or i.get("summary") or "" for v in ctx.values() for i in v)
            for i in range(6):
                assert f"{i}41" in texts
    finally:
        assert server.stop() is not None
