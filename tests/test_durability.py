"""A process killed with SIGKILL after ``create`` returned loses nothing: the next process finishes every job,
exactly once (acceptance: durable ingestion)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

N_DOCS = 40

WRITER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from tenantry import Settings, Tenantry

    async def main(variant: str, n: int) -> None:
        sdk = Tenantry(workers=0 if variant != "live" else 2, settings=Settings(worker_batch=4))
        await sdk.initialize()
        ids = []
        for i in range(n):
            r = await sdk.memories.create(
                f"User: I moved to city number {i} last year. My favourite colour is shade {i}.",
                customer_id=f"cust{i % 3}", user_id=f"user{i % 5}", document_id=f"doc-{i}",
            )
            ids.append(r.ingestion_id)
        svc = sdk.api.service  # the embedded engine (EmbeddedAPI)
        if variant == "claimed":  # a worker took the jobs and died holding them
            claimed = await svc.store.claim_jobs("doomed", limit=n, lease_seconds=1.0)
            assert len(claimed) == n
        print(json.dumps(ids), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    """
)

FINISHER = textwrap.dedent(
    """
    import asyncio, json, sys
    from tenantry import Settings, Tenantry
    from tenantry.scope import ReadChain
    from tenantry.store.base import SearchFilters

    async def main(ids):
        sdk = Tenantry(workers=2, settings=Settings(lease_seconds=1.0))
        await sdk.initialize()
        out = {}
        for ing in ids:
            st = await sdk.memories.wait_for_completion(ing, timeout_seconds=120)
            out[ing] = {"status": st.status, "memory_ids": st.memory_ids, "attempts": st.attempts}
        svc = sdk.api.service
        rows, total = await svc.store.list_memories(ReadChain.instance(sdk.instance_id), offset=0, limit=10000,
                                                     filters=SearchFilters(include_superseded=True))
        jobs = await svc.store.count_jobs(statuses=("queued", "processing", "completed", "failed"))
        print(json.dumps({"jobs": out, "memories": [r.memory_id for r in rows], "job_rows": jobs,
                          "contents": [r.content for r in rows]}))
        await sdk.shutdown()

    asyncio.run(main(json.loads(sys.argv[1])))
    """
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["TENANTRY_DSN"] = f"sqlite:///{tmp_path / 'durable.db'}"
    env["TENANTRY_EMBEDDER"] = "hashing"
    env["TENANTRY_HOME"] = str(tmp_path / "home")
    return env


def _write_and_die(env: dict[str, str], variant: str) -> list[str]:
    """Run the writer until it printed its ingestion ids, then SIGKILL it."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, variant, str(N_DOCS)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line, writer.stderr.read() if writer.stderr else "writer died"
        ids: list[str] = json.loads(line)
        if variant == "live":
            time.sleep(0.3)  # let the workers get some jobs in flight
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    return ids


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["queued", "claimed", "live", "claimed-thrice"])
def test_sigkill_after_create_loses_nothing(tmp_path: Path, variant: str) -> None:
    """``claimed-thrice``: three processes in a row take the jobs and are killed holding them (more deaths than
    ``max_attempts``): a lost worker is not a failed attempt, so every job still completes."""
    env = _env(tmp_path)
    ids = _write_and_die(env, "claimed" if variant == "claimed-thrice" else variant)
    # Every accepted create has its audit row although the process died at once (written with the create).
    with sqlite3.connect(tmp_path / "durable.db") as conn:
        audited = conn.execute("SELECT detail FROM audit_log WHERE action = 'memory.create'").fetchall()
    assert len(audited) == N_DOCS
    for _ in range(2 if variant == "claimed-thrice" else 0):
        time.sleep(1.2)  # the dead worker's lease runs out
        assert _write_and_die(env, "claimed") == ids  # the same documents: the same jobs, claimed again
    assert len(ids) == N_DOCS and len(set(ids)) == N_DOCS

    done = subprocess.run(
        [sys.executable, "-c", FINISHER, json.dumps(ids)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["job_rows"] == N_DOCS  # nothing duplicated in the queue
    statuses = {j["status"] for j in result["jobs"].values()}
    assert statuses == {"completed"}
    produced = [m for j in result["jobs"].values() for m in j["memory_ids"]]
    assert len(produced) == len(set(produced))  # no memory reported by two jobs
    assert set(produced) <= set(result["memories"])
    assert len(result["memories"]) == len(set(result["memories"]))
    for i in range(N_DOCS):  # every document's content made it in
        assert any(f"city number {i} " in c or f"city number {i}." in c for c in result["contents"]), i
    if variant.startswith("claimed"):  # claimed again after each dead worker's lease
        deaths = 3 if variant == "claimed-thrice" else 1
        assert all(j["attempts"] == deaths + 1 for j in result["jobs"].values())
