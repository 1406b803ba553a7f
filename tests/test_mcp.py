"""``tenantry mcp`` driven by the ``mcp`` client library over both transports: a user-bound server over stdio and
an unbound one over Streamable HTTP (with its bearer token): add → status → recall → delete, and a bound server
refusing another scope passed in tool arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance
from tests.server.helpers import free_port

mcp = pytest.importorskip("mcp")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _env(db: Path, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "SYNAP_"))}
    return {
        **inherited,
        "PYTHONPATH": str(REPO / "src"),
        "TENANTRY_DSN": f"sqlite:///{db}",
        "TENANTRY_EMBEDDER": "hashing",
        "TENANTRY_HOME": str(db.parent),
        **extra,
    }


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content or json.loads(result.content[0].text)
    return data


async def _add_recall_delete(client: Client, **ids: str) -> None:
    added = _data(await client.call_tool("add_memory", {"content": "I am allergic to peanuts.", "wait": False, **ids}))
    for _ in range(300):
        status = _data(await client.call_tool("ingestion_status", {"ingestion_id": added["ingestion_id"]}))
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "completed" and status["memory_ids"]
    hits = _data(await client.call_tool("search_memories", {"query": "what food allergy", **ids}))["results"]
    assert hits and "peanut" in hits[0]["content"]
    gone = _data(await client.call_tool("delete_memory", {"memory_id": hits[0]["id"], **ids}))
    assert gone["memory_id"] == hits[0]["id"]
    missing = await client.call_tool("get_memory", {"memory_id": hits[0]["id"], **ids})
    assert missing.is_error and "memory_not_found" in missing.content[0].text


async def test_stdio_user_bound_server(tmp_path: Path) -> None:
    db = tmp_path / "mcp.db"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tenantry.cli", "mcp", "--customer-id", "acme", "--user-id", "alice", "--create"],
        env=_env(db),
    )
    async with Client(params) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {
            "add_memory",
            "ingestion_status",
            "search_memories",
            "get_memory",
            "list_memories",
            "delete_memory",
        }
        assert tools["search_memories"].input_schema["required"] == ["query"]
        assert "customer_id" in tools["search_memories"].input_schema["properties"]
        await _add_recall_delete(client)  # no ids: the binding's
        # Whatever the model passes, a bound server does not leave its scope.
        for other in ({"customer_id": "globex"}, {"user_id": "bob"}, {"customer_id": "globex", "user_id": "alice"}):
            refused = await client.call_tool("search_memories", {"query": "peanuts", **other})
            assert refused.is_error and "bound to user 'alice' of customer 'acme'" in refused.content[0].text
            refused = await client.call_tool("add_memory", {"content": "I like tea", **other})
            assert refused.is_error
        same = await client.call_tool("list_memories", {"customer_id": "acme", "user_id": "alice"})
        assert not same.is_error
        kept = await client.call_tool("add_memory", {"content": "I like green tea."})  # no ids: the binding's
        assert not kept.is_error
    # Nothing was written outside alice@acme (a memory deleted by id took its source document with it).
    env = _env(db)
    out = subprocess.run(
        [sys.executable, "-m", "tenantry.cli", "export"], env=env, capture_output=True, text=True, check=True
    )
    scopes = {(r["scope"]["customer_id"], r["scope"]["user_id"]) for r in map(json.loads, out.stdout.splitlines()[1:])}
    assert scopes == {("acme", "alice")}


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "mcp.log").open("wb")
    args = [sys.executable, "-m", "tenantry.cli", "mcp", "--transport", "http", "--port", str(port), "--create"]
    proc = subprocess.Popen(args, env=_env(tmp_path / "h.db", TENANTRY_MCP_TOKEN="s3cret"), stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(300):
            assert proc.poll() is None, (tmp_path / "mcp.log").read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


async def test_streamable_http_server(http_server: str) -> None:
    assert httpx.post(http_server, json={}).status_code == 401  # no token, no tools
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": "Bearer s3cret"}, timeout=30)
    async with http, Client(streamable_http_client(http_server, http_client=http)) as client:  # type: ignore[arg-type]
        await _add_recall_delete(client, customer_id="acme", user_id="alice")
        # An unbound server takes the ids given: bob of acme does not see alice's memories.
        _data(
            await client.call_tool(
                "add_memory", {"content": "I live in Oslo.", "customer_id": "acme", "user_id": "alice"}
            )
        )
        theirs = _data(
            await client.call_tool(
                "search_memories", {"query": "where do I live", "customer_id": "acme", "user_id": "bob"}
            )
        )
        assert not any("Oslo" in r["content"] for r in theirs["results"])
        mine = _data(
            await client.call_tool(
                "search_memories", {"query": "where do I live", "customer_id": "acme", "user_id": "alice"}
            )
        )
        assert any("Oslo" in r["content"] for r in mine["results"])


def test_http_on_a_busy_port_fails_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        started = time.monotonic()
        res = subprocess.run(
            [sys.executable, "-m", "tenantry.cli", "mcp", "--transport", "http", "--port", str(port)],
            env=_env(tmp_path / "p.db"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 1 and "cannot listen on" in res.stderr
    assert time.monotonic() - started < 10


async def test_customer_bound_server_in_front_of_a_remote_server(remote_server: ThreadServer, tmp_path: Path) -> None:
    """``tenantry mcp --url --api-key --customer-id acme``: the tools go through the server's API; the model may name
    acme's users, never another customer."""
    key = admin_create_instance(remote_server.url, "mcp-remote", "b2b")["key"]["api_key"]
    args = ["-m", "tenantry.cli", "mcp", "--url", remote_server.url, "--api-key", key, "--customer-id", "acme"]
    params = StdioServerParameters(command=sys.executable, args=args, env=_env(tmp_path / "unused.db"))
    async with Client(params) as client:
        await _add_recall_delete(client, user_id="alice")  # a user of the bound customer
        _data(await client.call_tool("add_memory", {"content": "Acme's office is in Lyon.", "wait": True}))
        refused = await client.call_tool("search_memories", {"query": "office", "customer_id": "globex"})
        assert refused.is_error and "bound to customer 'acme'" in refused.content[0].text
        listed = _data(await client.call_tool("list_memories", {}))
        assert any("Lyon" in m["content"] for m in listed["memories"])
    assert not (tmp_path / "unused.db").exists()  # nothing local: every call went to the server
    headers = {"Authorization": f"Bearer {key}"}
    body = {"customer_id": "acme", "search_query": ["office"], "max_results": 5}
    served = httpx.post(f"{remote_server.url}/v1/context/customer/fetch", json=body, headers=headers, timeout=30)
    assert "Lyon" in json.dumps(served.json()["context"])
