"""A worker process for tests/store/test_multiprocess_queue.py (run as a script, not collected by pytest).

Usage: ``python queue_worker.py DSN INSTANCE_ID FIRST COUNT READY_FILE GO_FILE``: submits documents
FIRST..FIRST+COUNT-1 through the instance's contract (``svc.api(inst).create_memory``), touches READY_FILE, waits for
GO_FILE to exist, then runs ingestion workers (``svc.workers.start()``) on the shared database until SIGTERM (then
drains and exits). The test starts the workers of both processes together on the full queue, so that the process it
kills is in the middle of the work (batched ingestion can otherwise keep up with the submissions and finish before
the kill).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.store.helpers import EMBEDDER
from tests.store.helpers import SentenceExtractor

from tenantry.contract import CreateMemory
from tenantry.service import AsyncMemoryService
from tenantry.settings import Settings
from tenantry.store import open_store

WORDS = ["amber", "basil", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "kelp"]


def document(n: int) -> str:
    return f"Ticket {n} mentions {WORDS[n % len(WORDS)]} and {WORDS[(n * 7) % len(WORDS)]} code {n * 31 % 997}."


async def main(dsn: str, instance_id: str, first: int, count: int, ready: Path, go: Path) -> None:
    settings = Settings(
        dsn=dsn,
        embedder="hashing",
        extractor="rules",
        workers=2,
        worker_batch=16,
        lease_seconds=3.0,
        poll_interval=0.02,
    )
    store = open_store(dsn)
    await store.open()
    svc = AsyncMemoryService(settings, store, EMBEDDER, SentenceExtractor())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    api = svc.api(await svc.instance(instance_id))
    for n in range(first, first + count):
        await api.create_memory(
            CreateMemory(
                document=document(n),
                document_type="note",
                customer_id=f"c{n % 10}",
                user_id=f"u{n % 7}",
                document_id=f"doc-{n}",
            )
        )
    ready.touch()
    while not go.exists():
        await asyncio.sleep(0.01)
    svc.workers.start()
    await stop.wait()
    await svc.close(drain=True, timeout=30)


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]), Path(sys.argv[6]))
    )
