"""``tenantry bench``: create latency, ingestion throughput and fetch latency of the embedded engine.

Figures, not assertions. Everything runs in one process on the machine at hand, with the real embedder (MiniLM on
onnxruntime) for ingestion and for every fetch's query. How the large stores are filled (stated in the output):
memories are generated English sentences (templates × names × places × foods × jobs ...); each distinct sentence is
embedded by the real model once (a pool of at most 20,000 sentences, reused across tenants as real deployments
repeat themselves: "prefers email", "works night shifts"), then written through the store's direct-write path in
scope batches (``_common.prefill``). Fetches are ``user.context.fetch`` calls through the public SDK with a distinct
question each time (so no cache helps), for a random (customer, user) of the instance.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from ..sdk import Tenantry
from ..settings import Settings
from ._common import NAMES
from ._common import embedded_sdk
from ._common import pct
from ._common import prefill
from ._common import question
from ._common import sentence

__all__ = ["run_bench"]


async def _measure_fetch(sdk: Tenantry, customers: int, fetches: int, rng: random.Random) -> dict[str, float]:
    lat: list[float] = []
    embed_ms: list[float] = []
    for i in tqdm(range(fetches), desc="fetching", unit="q"):
        q = question(rng) + f" #{i}"
        c = rng.randrange(customers)
        t0 = time.perf_counter()
        resp = await sdk.user.context.fetch(
            user_id=f"user{rng.randrange(10)}", customer_id=f"cust{c:04d}", search_query=[q], max_results=10
        )
        lat.append((time.perf_counter() - t0) * 1000)
        embed_ms.append(resp.metadata.timing_ms.get("embed_ms", 0.0))
    return {
        "p50_ms": pct(lat, 50),
        "p95_ms": pct(lat, 95),
        "p99_ms": pct(lat, 99),
        "mean_ms": statistics.fmean(lat),
        "embed_p50_ms": pct(embed_ms, 50),
    }


async def _measure_ingest(sdk: Tenantry, docs: int, rng: random.Random) -> dict[str, float]:
    create_ms: list[float] = []
    ids: list[str] = []
    turns = 0
    t0 = time.perf_counter()
    for d in tqdm(range(docs), desc="create (chat documents)", unit="doc"):
        n_turns = rng.randint(2, 6)
        lines = []
        for t in range(n_turns):
            who = "User" if t % 2 == 0 else "Assistant"
            lines.append(f"{who}: {sentence(rng).replace(rng.choice(NAMES), 'I', 1)}")
        turns += n_turns
        c0 = time.perf_counter()
        r = await sdk.memories.create(
            "\n".join(lines), customer_id=f"ing{d % 20:02d}", user_id=f"u{d % 7}", document_id=f"ingest-{d}"
        )
        create_ms.append((time.perf_counter() - c0) * 1000)
        ids.append(r.ingestion_id)
    for ing in tqdm(ids, desc="waiting for ingestion", unit="doc"):
        st = await sdk.memories.wait_for_completion(ing, timeout_seconds=600, poll_interval_seconds=0.02)
        if st.status != "completed":
            raise RuntimeError(f"ingestion {ing} ended {st.status}: {st.error_message}")
    elapsed = time.perf_counter() - t0
    return {
        "create_p50_ms": pct(create_ms, 50),
        "create_p95_ms": pct(create_ms, 95),
        "documents": docs,
        "turns": turns,
        "seconds": elapsed,
        "turns_per_s": turns / elapsed,
    }


async def run_bench(
    *,
    sizes: list[int],
    customers: int = 100,
    fetches: int = 300,
    ingest_docs: int = 300,
    dsn: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Run the benchmark and print a table; returns the figures.

    ``settings`` (default: ``Settings()``) configure the engine; the database is ``dsn`` (default: a temporary
    SQLite file) and 2 ingestion workers run.
    """
    console = Console()
    tmp = None
    if dsn is None:
        tmp = tempfile.TemporaryDirectory(prefix="tenantry-bench-")
        dsn = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    rng = random.Random(7)
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "dsn": dsn.split("://")[0], "fetch": {}}
    sdk = embedded_sdk((settings or Settings()).model_copy(update={"dsn": dsn, "workers": 2}), "bench")
    await sdk.initialize()
    try:
        figures["ingest"] = await _measure_ingest(sdk, ingest_docs, rng)
        filled = 0
        for size in sorted(sizes):
            prefill_s = await prefill(sdk, filled, size, customers, rng)
            filled = size
            figures["fetch"][str(size)] = {**await _measure_fetch(sdk, customers, fetches, rng), "prefill_s": prefill_s}
    finally:
        await sdk.shutdown()
        if tmp is not None:
            tmp.cleanup()

    ing = figures["ingest"]
    t = Table(title=f"tenantry bench ({figures['dsn']}, {os.cpu_count()} cores)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("create latency p50 / p95", f"{ing['create_p50_ms']:.2f} / {ing['create_p95_ms']:.2f} ms")
    t.add_row(
        "ingestion throughput (extract + embed + store)",
        f"{ing['turns_per_s']:.0f} turns/s ({ing['turns']} turns in {ing['documents']} docs, {ing['seconds']:.1f} s)",
    )
    for size, f in figures["fetch"].items():
        t.add_row(
            f"fetch @ {int(size):,} memories / {customers} customers p50 / p95 / p99",
            f"{f['p50_ms']:.2f} / {f['p95_ms']:.2f} / {f['p99_ms']:.2f} ms"
            f" (query embed p50 {f['embed_p50_ms']:.2f} ms)",
        )
    console.print(t)
    return figures


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(run_bench(sizes=[10_000, 100_000]))
