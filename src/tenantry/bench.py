"""``tenantry bench``: create latency, ingestion throughput and fetch latency of the embedded engine.

Figures, not assertions. Everything runs in one process on the machine at hand, with the real embedder (MiniLM on
onnxruntime) for ingestion and for every fetch's query. How the large stores are filled (stated in the output):
memories are generated English sentences (templates × names × places × foods × jobs ...); each distinct sentence is
embedded by the real model once (a pool of at most 20,000 sentences, reused across tenants as real deployments
repeat themselves: "prefers email", "works night shifts"), then written through the store's direct-write path in
scope batches. Fetches are ``user.context.fetch`` calls through the public SDK with a distinct question each time
(so no cache helps), for a random (customer, user) of the instance.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from .pipeline.base import MemoryDraft
from .pipeline.ingest import content_hash
from .scope import Scope, ScopeLevel
from .sdk import Tenantry
from .store.base import NewMemory, ProcessedJob

__all__ = ["run_bench"]

NAMES = (
    "Alice Bruno Chen Dana Emeka Fatima Goran Hana Ivan Julia Kofi Lena Mateo Nadia Omar Priya Quinn Rosa Sven Tara"
).split()
PLACES = (
    "Berlin Lisbon Nairobi Osaka Toronto Lima Oslo Austin Dublin Seoul Prague Denver Cairo Perth Quito Malmo".split()
)
FOODS = "sushi ramen tacos falafel pasta curry dumplings paella pho burritos risotto kimchi pierogi shawarma".split()
JOBS = "nurse pilot teacher chef lawyer plumber designer accountant engineer farmer librarian dentist".split()
HOBBIES = "hiking chess pottery surfing painting cycling climbing baking gardening running knitting fishing".split()
THINGS = "invoice laptop contract router subscription refund warranty badge license ticket report budget".split()
TEMPLATES = [
    "{n} lives in {p} and works as a {j}.",
    "{n} prefers {f} for dinner on Fridays.",
    "{n} goes {h} every weekend near {p}.",
    "{n} asked about the {t} for the {p} office.",
    "The {t} policy for {p} customers changed last month.",
    "{n} dislikes {f} but loves {h}.",
    "{n} is allergic to peanuts and avoids {f}.",
    "{n} wants the monthly {t} sent by email.",
    "{n} moved from {p} to {p2} in 2021.",
    "Our {j} team in {p} handles every {t} request.",
]
QUESTIONS = [
    "Where does {n} live?",
    "What food does {n} like?",
    "What does {n} do on weekends?",
    "What is the {t} policy in {p}?",
    "Who handles {t} requests in {p}?",
    "Is {n} allergic to anything?",
    "How should we send the {t} to {n}?",
    "What job does {n} have?",
]


def _sentence(rng: random.Random, template: str) -> str:
    return template.format(
        n=rng.choice(NAMES),
        p=rng.choice(PLACES),
        p2=rng.choice(PLACES),
        j=rng.choice(JOBS),
        f=rng.choice(FOODS),
        h=rng.choice(HOBBIES),
        t=rng.choice(THINGS),
    )


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.array(values), q))


async def _prefill(sdk: Tenantry, total: int, customers: int, rng: random.Random, pool_size: int = 20_000) -> float:
    """Bring the instance to ``total`` memories (≈10% customer-scoped, ≈1% client, the rest over 10 users per
    customer). Returns seconds spent."""
    svc: Any = sdk.transport.service  # type: ignore[attr-defined]
    inst = sdk.transport.instance  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    pool = list(dict.fromkeys(_sentence(rng, rng.choice(TEMPLATES)) for _ in range(pool_size * 2)))[:pool_size]
    vectors = np.zeros((len(pool), svc.embedder.dimensions), dtype=np.float32)
    for i in tqdm(range(0, len(pool), 512), desc="embedding sentence pool", unit="batch"):
        vectors[i : i + 512] = await svc.embed(pool[i : i + 512])
    existing = getattr(sdk, "_bench_count", 0)
    by_scope: dict[Scope, list[int]] = {}
    for k in range(existing, total):
        c = k % customers
        r = rng.random()
        if r < 0.01:
            scope = Scope(inst.instance_id, ScopeLevel.CLIENT)
        elif r < 0.11:
            scope = Scope(inst.instance_id, ScopeLevel.CUSTOMER, f"cust{c:04d}")
        else:
            scope = Scope(inst.instance_id, ScopeLevel.USER, f"cust{c:04d}", f"user{rng.randrange(10)}")
        by_scope.setdefault(scope, []).append(rng.randrange(len(pool)))
    with tqdm(total=total - existing, desc=f"writing memories up to {total:,}", unit="mem") as bar:
        for scope, picks in by_scope.items():
            for start in range(0, len(picks), 500):
                chunk = picks[start : start + 500]
                new = [
                    NewMemory(
                        str(uuid.uuid4()),
                        MemoryDraft("fact", pool[p], confidence=0.8),
                        vectors[p],
                        content_hash(pool[p]),
                    )
                    for p in chunk
                ]
                await svc.store.complete_job(
                    ProcessedJob(f"bench-{uuid.uuid4()}", None, scope, f"bench-{uuid.uuid4()}", None, new, [], [])
                )
                bar.update(len(chunk))
    sdk._bench_count = total  # type: ignore[attr-defined]
    return time.perf_counter() - t0


async def _measure_fetch(sdk: Tenantry, customers: int, fetches: int, rng: random.Random) -> dict[str, float]:
    lat: list[float] = []
    embed_ms: list[float] = []
    for i in tqdm(range(fetches), desc="fetching", unit="q"):
        q = rng.choice(QUESTIONS).format(n=rng.choice(NAMES), p=rng.choice(PLACES), t=rng.choice(THINGS)) + f" #{i}"
        c = rng.randrange(customers)
        t0 = time.perf_counter()
        resp = await sdk.user.context.fetch(
            user_id=f"user{rng.randrange(10)}", customer_id=f"cust{c:04d}", search_query=[q], max_results=10
        )
        lat.append((time.perf_counter() - t0) * 1000)
        embed_ms.append(resp.metadata.timing_ms.get("embed_ms", 0.0))
    return {
        "p50_ms": _pct(lat, 50),
        "p95_ms": _pct(lat, 95),
        "p99_ms": _pct(lat, 99),
        "mean_ms": statistics.fmean(lat),
        "embed_p50_ms": _pct(embed_ms, 50),
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
            lines.append(f"{who}: {_sentence(rng, rng.choice(TEMPLATES)).replace(rng.choice(NAMES), 'I', 1)}")
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
        "create_p50_ms": _pct(create_ms, 50),
        "create_p95_ms": _pct(create_ms, 95),
        "documents": docs,
        "turns": turns,
        "seconds": elapsed,
        "turns_per_s": turns / elapsed,
    }


async def run_bench(
    *, sizes: list[int], customers: int = 100, fetches: int = 300, ingest_docs: int = 300, dsn: str | None = None
) -> dict[str, Any]:
    """Run the benchmark and print a table; returns the figures."""
    console = Console()
    tmp = None
    if dsn is None:
        tmp = tempfile.TemporaryDirectory(prefix="tenantry-bench-")
        dsn = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    rng = random.Random(7)
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "dsn": dsn.split("://")[0], "fetch": {}}
    sdk = Tenantry(dsn=dsn, instance_id="bench", workers=2)
    await sdk.initialize()
    try:
        figures["ingest"] = await _measure_ingest(sdk, ingest_docs, rng)
        for size in sorted(sizes):
            prefill_s = await _prefill(sdk, size, customers, rng)
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
