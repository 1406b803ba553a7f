"""The queue property without HTTP: two worker processes (``AsyncMemoryService.workers.start``) share
one PostgreSQL queue; documents are submitted concurrently through both, then both start their workers on the full
queue; one process is SIGKILLed mid-run; every document is processed exactly once and nothing is lost (its leased
jobs are retried by the survivor after the lease). The HTTP variant with 5,000 documents, submitted while the workers
run, is ``test_serve_queue.py``.

``TENANTRY_TEST_WORKER_DOCS`` changes the document count (default 2000).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.store.helpers import unmatched_jobs

from tenantry.scope import Relationship
from tenantry.store.postgres import PostgresStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOCS = int(os.environ.get("TENANTRY_TEST_WORKER_DOCS", "2000"))


def _spawn(
    dsn: str, instance_id: str, first: int, count: int, ready: Path, go: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("queue_worker.py")),
                dsn,
                instance_id,
                str(first),
                str(count),
                str(ready),
                str(go),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


async def _counts(store: PostgresStore, instance_id: str) -> dict[str, int]:
    async with store._tx(instance_id) as conn:
        cur = await conn.execute("SELECT status, count(*) FROM ingestions GROUP BY status")
        return {r[0]: int(r[1]) for r in await cur.fetchall()}


async def test_two_processes_share_the_queue_and_a_killed_one_loses_nothing(pg_dsn: str, tmp_path: Path) -> None:
    store = PostgresStore(pg_dsn)
    await store.open()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        inst = await store.create_instance("queue", Relationship.B2B)
        half = DOCS // 2
        ready, go = [tmp_path / "a.ready", tmp_path / "b.ready"], tmp_path / "go"
        procs = [
            _spawn(pg_dsn, inst.instance_id, 0, half, ready[0], go, tmp_path / "a.log"),
            _spawn(pg_dsn, inst.instance_id, half, DOCS - half, ready[1], go, tmp_path / "b.log"),
        ]
        victim, survivor = procs
        deadline = time.monotonic() + 240
        killed_at: dict[str, int] = {}
        while True:
            await asyncio.sleep(0.02)
            for p, name in ((victim, "a"), (survivor, "b")):
                if p.poll() is not None and not (p is victim and killed_at):
                    pytest.fail(f"worker {name} exited early:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}")
            if not go.exists() and all(r.exists() for r in ready):
                go.touch()  # every document is queued: both processes start their workers now
            counts = await _counts(store, inst.instance_id)
            done = counts.get("completed", 0)
            if not killed_at and go.exists() and done >= DOCS // 4:
                victim.send_signal(signal.SIGKILL)  # mid-run: it holds leased jobs in the middle of processing
                victim.wait()
                killed_at = counts
            if killed_at and done == DOCS:
                break
            assert time.monotonic() < deadline, f"not done in time: {counts}"
        assert killed_at and killed_at.get("completed", 0) < DOCS, "the kill happened after the end: not mid-run"
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=60) == 0, (tmp_path / "b.log").read_text()[-3000:]
        async with store._tx(inst.instance_id) as conn:
            cur = await conn.execute("SELECT status, count(*), max(attempts) FROM ingestions GROUP BY status")
            by_status = {r[0]: (int(r[1]), int(r[2])) for r in await cur.fetchall()}
            cur = await conn.execute(
                "SELECT count(*), count(DISTINCT document_id), count(*) FILTER (WHERE content NOT LIKE 'Ticket %%') "
                "FROM memories"
            )
            total, distinct_docs, foreign = await cur.fetchone()  # type: ignore[misc]
            unmatched = await unmatched_jobs(conn)
            cur = await conn.execute("SELECT count(*) FROM ingestions WHERE attempts > 1")
            (retried,) = await cur.fetchone()  # type: ignore[misc]
        assert set(by_status) == {"completed"} and by_status["completed"][0] == DOCS, by_status
        assert (total, distinct_docs, foreign) == (DOCS, DOCS, 0)  # every document exactly once
        assert unmatched == 0  # each job's memory id is the one stored for its document
        assert retried >= 1  # the killed worker's leased jobs were taken over after the lease
        assert by_status["completed"][1] <= 2
        print(f"\n{DOCS} docs; killed with {killed_at}; {retried} jobs retried after the lease; {total} memories")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        await store.close()
