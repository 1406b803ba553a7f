"""Acceptance 2 (``tenantry serve`` variant): two HTTP server processes on one PostgreSQL database; 5,000 documents
are submitted concurrently through both (``/api/v1/memories/batch``); one server is SIGKILLed mid-run (after every
document was accepted, while it holds leased jobs); every document is processed exactly once, nothing is lost.

``TENANTRY_TEST_QUEUE_DOCS`` changes the document count (default 5000).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.store.helpers import unmatched_jobs

from tenantry.store.postgres import PostgresStore

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCS = int(os.environ.get("TENANTRY_TEST_QUEUE_DOCS", "5000"))
WORDS = ["amber", "basil", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "kelp"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(dsn: str, port: int, home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")},
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "TENANTRY_DSN": dsn,
        "TENANTRY_HOME": str(home),
        "TENANTRY_EMBEDDER": "hashing",
        "TENANTRY_EXTRACTOR": "rules",
        "TENANTRY_WORKERS": "2",
        "TENANTRY_LEASE_SECONDS": "3",
        "TENANTRY_POLL_INTERVAL": "0.02",
        "TENANTRY_RATE_LIMIT_PER_SECOND": "0",
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tenantry.cli", "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


async def _wait_healthy(client: Any, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()[-3000:]}")
        try:
            if (await client.get(f"{url}/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        await asyncio.sleep(0.2)


def _document(n: int) -> str:
    # The default (rules) extractor makes a unique fact of the second clause, so every document yields a memory.
    tea, lab = WORDS[n % len(WORDS)], WORDS[(n * 7) % len(WORDS)].title()
    return f"I love {tea} tea and I work at {lab} Labs as ticket {n} owner."


async def test_two_servers_share_the_queue_and_a_killed_one_loses_nothing(pg_dsn: str, tmp_path: Path) -> None:
    from tenantry.service.admin import Admin

    store = PostgresStore(pg_dsn)
    await store.open()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        inst, key = await Admin(store).create_instance_with_key("queue", "b2b")
        ports = [_port(), _port()]
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        procs = [_serve(pg_dsn, p, tmp_path / f"home{i}", logs[i]) for i, p in enumerate(ports)]
        headers = {"Authorization": f"Bearer {key.api_key}"}
        async with httpx.AsyncClient(timeout=60, headers=headers) as client:
            for url, proc, log in zip(urls, procs, logs, strict=True):
                await _wait_healthy(client, url, proc, log)
            # Batches of 50, alternating between the two servers, 4 requests in flight: accepting is much faster
            # than processing, so a backlog builds and the kill below lands while jobs are leased.
            sem = asyncio.Semaphore(4)
            accepted: dict[int, str] = {}

            async def submit(first: int) -> None:
                nums = range(first, min(first + 50, DOCS))
                body = {
                    "documents": [
                        {
                            "document": _document(n),
                            "document_type": "note",
                            "customer_id": f"c{n % 10}",
                            "user_id": f"u{n % 7}",
                            "document_id": f"doc-{n}",
                        }
                        for n in nums
                    ]
                }
                async with sem:
                    r = await client.post(f"{urls[(first // 50) % 2]}/api/v1/memories/batch", json=body)
                assert r.status_code == 200, r.text
                for n, item in zip(nums, r.json()["results"], strict=True):
                    assert item["status"] == "queued", item
                    accepted[n] = item["ingestion_id"]

            await asyncio.gather(*(submit(first) for first in range(0, DOCS, 50)))
        assert len(accepted) == DOCS and len(set(accepted.values())) == DOCS
        victim, survivor = procs
        deadline = time.monotonic() + 300
        killed_at: dict[str, int] = {}
        while True:
            async with store._tx(inst.instance_id) as conn:
                cur = await conn.execute("SELECT status, count(*) FROM ingestions GROUP BY status")
                counts = {r[0]: int(r[1]) for r in await cur.fetchall()}
            done = counts.get("completed", 0) + counts.get("partial_success", 0)
            if not killed_at and done >= DOCS // 4:
                victim.send_signal(signal.SIGKILL)  # mid-run: it holds leased jobs
                victim.wait()
                killed_at = counts
            if killed_at and done == DOCS:
                break
            if survivor.poll() is not None:
                pytest.fail(f"survivor exited: {logs[1].read_text()[-3000:]}")
            assert time.monotonic() < deadline, f"not done in time: {counts}"
            await asyncio.sleep(0.2)
        assert killed_at.get("completed", 0) < DOCS, "the kill happened after the end: not mid-run"
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=60)
        async with store._tx(inst.instance_id) as conn:
            cur = await conn.execute("SELECT status, count(*), max(attempts) FROM ingestions GROUP BY status")
            by_status = {r[0]: (int(r[1]), int(r[2])) for r in await cur.fetchall()}
            # exactly once: each document's stored memories are exactly the memory ids its (single) job recorded
            mismatched = await unmatched_jobs(conn)
            cur = await conn.execute("SELECT count(*), count(DISTINCT document_id) FROM memories")
            total, docs_with_memories = await cur.fetchone()  # type: ignore[misc]
            cur = await conn.execute("SELECT count(*) FROM ingestions WHERE attempts > 1")
            (retried,) = await cur.fetchone()  # type: ignore[misc]
        assert sum(n for n, _ in by_status.values()) == DOCS and set(by_status) <= {"completed", "partial_success"}
        assert mismatched == 0 and docs_with_memories == DOCS and total >= DOCS
        assert retried >= 1 and max(a for _, a in by_status.values()) <= 2
        print(f"\n{DOCS} docs; killed with {killed_at}; {retried} jobs retried after the lease; {total} memories")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        await store.close()
