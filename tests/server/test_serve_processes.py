"""``tenantry serve --processes 2``: two server processes share the port and the database; a document created
through one is ingested and readable through either (the queue and the vector cache are multi-process safe)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import SubprocessServer
from tests.server.helpers import admin_create_instance


def test_two_server_processes_share_port_and_database(tmp_path: Path) -> None:
    env = {
        "TENANTRY_DSN": f"sqlite:///{tmp_path / 'p2.db'}",
        "TENANTRY_EMBEDDER": "hashing",
        "TENANTRY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TENANTRY_HOME": str(tmp_path / "home"),
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


def _children(ppid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read()
            except OSError:
                continue
            if int(fields[1]) == ppid and b"spawn_main" in cmd:
                out.append(int(entry))
    return out


def _inodes(port: int, state: str) -> set[str]:
    """Socket inodes of loopback TCP sockets whose local port is ``port``, in ``state`` (01 established, 0A listen)."""
    inodes = set()
    with open("/proc/net/tcp") as fh:
        for line in fh.readlines()[1:]:
            cols = line.split()
            if cols[3] == state and int(cols[1].split(":")[1], 16) == port:
                inodes.add(cols[9])
    return inodes


def _sockets_of(pid: int) -> set[str]:
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                found.add(target[8:-1])
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_connections_opened_together_spread_over_the_processes(tmp_path: Path) -> None:
    """Keep-alive connections opened at the same moment (a client pool warming up) land on both processes: each
    process has its own SO_REUSEPORT socket. Then SIGINT stops the whole group gracefully (exit code 0)."""
    env = {"TENANTRY_DSN": f"sqlite:///{tmp_path / 'rp.db'}", "TENANTRY_EMBEDDER": "hashing"}
    server = SubprocessServer(env, tmp_path / "server.log", extra_args=["--processes", "2"]).start()
    assert server.proc is not None
    socks: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both processes started and listening (each has its own socket)
            children = _children(server.proc.pid)
            listening = _inodes(server.port, "0A")
            if len(children) == 2 and all(_sockets_of(pid) & listening for pid in children):
                break
            time.sleep(0.1)
        assert len(children) == 2 and all(_sockets_of(pid) & listening for pid in children)
        # 16 connections in one burst (as a client pool opens them): all wait in the accept queue together.
        socks = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(16)]
        for s in socks:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        for s in socks:
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        established = _inodes(server.port, "01")
        per_process = [len(_sockets_of(pid) & established) for pid in children]
        assert sum(per_process) == 16 and min(per_process) >= 1, per_process
    finally:
        for s in socks:
            s.close()
        assert server.stop() == 0, (tmp_path / "server.log").read_text()[-3000:]


def test_serve_uses_dsn_says_what_it_serves_and_checks_the_port_first(tmp_path: Path) -> None:
    """``serve --dsn``: the startup line names the database, instances, workers and embedder; a busy port is an error
    at once, before the database is opened (the model and the store start after the port is bound)."""
    db = tmp_path / "served.db"
    env = {"TENANTRY_EMBEDDER": "hashing", "TENANTRY_ADMIN_TOKEN": ADMIN_TOKEN, "TENANTRY_HOME": str(tmp_path / "h")}
    server = SubprocessServer(env, tmp_path / "serve.log", extra_args=["--dsn", f"sqlite:///{db}"]).start()
    try:
        admin_create_instance(server.url, "said", "b2b")
    finally:
        assert server.stop() == 0
    log = (tmp_path / "serve.log").read_text()
    assert f"database sqlite:///{db} open; loading the embedder hashing" in log  # said before the model loads
    assert f"sqlite:///{db}" in log and "instance(s)" in log and "ingestion worker(s); embedder hashing" in log
    assert db.exists()

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    other = tmp_path / "never.db"
    try:
        taken = SubprocessServer(env, tmp_path / "busy.log", extra_args=["--dsn", f"sqlite:///{other}"])
        args = [str(busy.getsockname()[1]) if a == str(taken.port) else a for a in taken.args]
        t0 = time.monotonic()
        done = subprocess.run(args, env=taken.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "cannot serve on 127.0.0.1" in done.stderr, done.stderr[-2000:]
        assert time.monotonic() - t0 < 30
        assert not other.exists()  # refused before the store opened its database
    finally:
        busy.close()
