"""``tenantry bench-postgres``: fetch latency and ingestion throughput on PostgreSQL, compared with SQLite.

What is measured (one run, one machine; figures are printed and optionally written as JSON):

* **Fetch** (``AsyncMemoryService.fetch_user``, fast mode, ``max_results=10``), one client, sequential, p50/p95/mean,
  at each size (default 100k and 1M memories) spread over ``customers`` × ``users`` plus a shared CLIENT scope.
  Every query text is distinct, so each fetch pays for its query embedding with the real MiniLM embedder; the
  fetch's own timings (embedding, search) are reported too. Then the same fetches with ``concurrency`` clients.
* **Ingestion**: ``ingest_docs`` generated 4-turn chats submitted through ``create_memory`` and processed by the
  service's workers (default extractor and MiniLM embedder): documents/s and memories/s.
* **SQLite** at ``sqlite_size`` with the same data, queries and documents (same run, same machine).
* **Large partition**: one CLIENT scope of ``partition_rows`` memories: the store's exact search vs. a partial
  HNSW index on that partition (``vector_ip_ops``, m=16, ef_construction=64) queried with
  ``hnsw.iterative_scan = relaxed_order``: latency, recall@10 against exact, index build time.

How the bulk data is made: ``pool`` distinct sentences are generated from templates (names × activities × objects
× times) and embedded once with MiniLM; each stored memory takes a random pool sentence as content and that
sentence's vector plus Gaussian noise (σ = 0.02 per dimension, then L2-normalised), so no two vectors are equal
while content and vector stay related. Rows are loaded on PostgreSQL with ``PostgresStore.bulk_insert_memories``
(binary COPY into a temp table, then one INSERT…SELECT under the RLS role), on SQLite through the store's normal
``enqueue`` → ``claim_jobs`` → ``complete_job`` path (one job per scope).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import CreateMemory
from ..contract import UserContextQuery
from ..models import ContextResponse
from ..pipeline.base import Embedder
from ..pipeline.base import Extractor
from ..scope import Relationship
from ..scope import Scope
from ..scope import ScopeLevel
from ..scope import client_chain
from ..service import AsyncMemoryService
from ..settings import Settings
from ..store.base import AsyncStore
from ..store.base import InstanceRecord
from ..store.base import JobRecord
from ..store.base import NewMemory
from ..store.base import ProcessedJob
from ..store.base import SearchFilters
from ..types import MemoryDraft
from ..types import MemoryType
from ..types import Vectors
from ..types import content_hash

__all__ = ["BenchConfig", "run_pg_bench"]

_NAMES = [
    "Alice",
    "Bruno",
    "Chen",
    "Dara",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jonas",
    "Kemi",
    "Lena",
    "Mateo",
    "Nina",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
]
_ACTS = [
    "prefers",
    "booked",
    "cancelled",
    "asked about",
    "complained about",
    "recommended",
    "ordered",
    "returned",
    "is learning about",
    "wants to try",
    "forgot",
    "paid for",
    "is allergic to",
    "shared a photo of",
    "reviewed",
]
_OBJECTS = [
    "a window seat",
    "oat milk lattes",
    "the quarterly report",
    "a flight to Berlin",
    "vegan pizza",
    "jazz records",
    "a standing desk",
    "the blue sneakers",
    "Python training",
    "a hotel in Lisbon",
    "green tea",
    "the gym membership",
    "a birthday cake",
    "noise-cancelling headphones",
    "the tax refund",
    "a used bicycle",
    "the sales dashboard",
    "spicy ramen",
    "a yoga class",
    "the new phone plan",
    "a camping trip",
    "the invoice from March",
    "sushi",
    "a Spanish course",
    "the printer toner",
    "a concert ticket",
    "dark chocolate",
    "the car insurance",
    "a rooftop restaurant",
    "the onboarding checklist",
    "a pottery workshop",
    "cold brew coffee",
]
_WHEN = [
    "last Monday",
    "yesterday",
    "this morning",
    "in May",
    "two weeks ago",
    "on Friday",
    "at the weekend",
    "after the meeting",
    "before the holidays",
    "last year",
    "every Tuesday",
    "during the trip",
    "tonight",
]
_TYPES: list[tuple[MemoryType, float]] = [
    ("fact", 0.6),
    ("preference", 0.2),
    ("episode", 0.1),
    ("emotion", 0.05),
    ("temporal_event", 0.05),
]


@dataclass(slots=True)
class BenchConfig:
    """Knobs of ``tenantry bench-postgres`` (see the CLI help)."""

    dsn: str
    sizes: list[int] = field(default_factory=lambda: [100_000, 1_000_000])
    customers: int = 1000
    users: int = 5
    client_rows: int = 1000
    fetches: int = 300
    concurrency: int = 8
    ingest_docs: int = 200
    sqlite_size: int = 100_000
    sqlite_path: str | None = None
    pool: int = 5000
    partition_rows: int = 100_000
    seed: int = 7


def _sentences(n: int, rng: random.Random) -> list[str]:
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault(f"{rng.choice(_NAMES)} {rng.choice(_ACTS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)}.", None)
    return list(out)


def _questions(n: int, rng: random.Random) -> list[str]:
    forms = [
        "What did {n} say about {o}?",
        "Does {n} like {o}?",
        "When did {n} mention {o}?",
        "Tell me about {n} and {o} {w}.",
        "Any notes on {o} from {n}?",
        "What happened with {o} {w}?",
    ]
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault(
            rng.choice(forms).format(n=rng.choice(_NAMES), o=rng.choice(_OBJECTS), w=rng.choice(_WHEN)), None
        )
    return list(out)


def _pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _summary(ms: Sequence[float]) -> dict[str, float]:
    return {
        "n": float(len(ms)),
        "p50_ms": round(_pct(ms, 0.50), 2),
        "p95_ms": round(_pct(ms, 0.95), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


class _Data:
    """The generated corpus: sentence pool + vectors, scopes, and a row generator."""

    def __init__(self, cfg: BenchConfig, embedder: Embedder, log: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.np_rng = np.random.default_rng(cfg.seed)
        self.sentences = _sentences(cfg.pool, self.rng)
        t = time.perf_counter()
        self.vectors = embedder.embed(self.sentences)
        self.embed_seconds = time.perf_counter() - t
        log(f"embedded a pool of {len(self.sentences)} sentences in {self.embed_seconds:.1f}s")
        self.type_names = [t for t, _ in _TYPES]
        self.type_weights = [w for _, w in _TYPES]

    def rows(
        self, instance_id: str, n: int, *, client: int = 0, only_client: bool = False
    ) -> list[tuple[Scope, NewMemory]]:
        cfg, rng = self.cfg, self.rng
        idx = self.np_rng.integers(0, len(self.sentences), size=n)
        noise = self.np_rng.normal(0.0, 0.02, size=(n, self.vectors.shape[1])).astype(np.float32)
        vecs = self.vectors[idx] + noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        out: list[tuple[Scope, NewMemory]] = []
        for i in range(n):
            if only_client or i < client:
                scope = Scope(instance_id, ScopeLevel.CLIENT)
            elif rng.random() < 0.15:
                scope = Scope(instance_id, ScopeLevel.CUSTOMER, f"cust{rng.randrange(cfg.customers):04d}")
            else:
                scope = Scope(
                    instance_id,
                    ScopeLevel.USER,
                    f"cust{rng.randrange(cfg.customers):04d}",
                    f"user{rng.randrange(cfg.users)}",
                )
            text = self.sentences[int(idx[i])]
            mtype = rng.choices(self.type_names, self.type_weights)[0]
            draft = MemoryDraft(mtype, text, confidence=0.6 + 0.4 * rng.random(), source_evidence=[f"b{i}"])
            out.append((scope, NewMemory(str(uuid.uuid4()), draft, vecs[i], content_hash(text))))
        return out


async def _load_sqlite(store: AsyncStore, rows: list[tuple[Scope, NewMemory]]) -> None:
    """Through the normal queue path: one job per scope, claimed and completed."""
    by_scope: dict[Scope, list[NewMemory]] = {}
    for scope, mem in rows:
        by_scope.setdefault(scope, []).append(mem)
    from datetime import UTC
    from datetime import datetime

    items = list(by_scope.items())
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        for scope, _ in chunk:
            job = JobRecord(
                str(uuid.uuid4()),
                scope.instance_id,
                scope,
                str(uuid.uuid4()),
                "memory",
                "queued",
                {"document": "bench"},
                0,
                datetime.now(UTC),
            )
            await store.enqueue(job, content_hash="bench")
        claimed = await store.claim_jobs("bench", limit=len(chunk), lease_seconds=600)
        mems = dict(chunk)
        for job in claimed:
            await store.complete_job(
                ProcessedJob(job.ingestion_id, job.claim, job.scope, job.document_id, None, mems[job.scope], [], [])
            )


async def _load(store: AsyncStore, inst: InstanceRecord, rows: list[tuple[Scope, NewMemory]]) -> float:
    t = time.perf_counter()
    bulk = getattr(store, "bulk_insert_memories", None)
    if bulk is not None:
        for start in range(0, len(rows), 50_000):
            await bulk(inst.instance_id, rows[start : start + 50_000])
        analyze = getattr(store, "analyze", None)
        if analyze is not None:
            await analyze()
    else:
        await _load_sqlite(store, rows)
    return time.perf_counter() - t


async def _fetch_bench(
    svc: AsyncMemoryService, inst: InstanceRecord, cfg: BenchConfig, questions: list[str], rng: random.Random
) -> dict[str, Any]:
    api = svc.api(inst)

    async def fetch(q: str) -> ContextResponse:
        c, u = f"cust{rng.randrange(cfg.customers):04d}", f"user{rng.randrange(cfg.users)}"
        return await api.fetch_user(UserContextQuery(user_id=u, customer_id=c, search_query=[q], max_results=10))

    for q in questions[:20]:  # warm-up (connections, caches, model)
        await fetch(q)
    wall: list[float] = []
    embed: list[float] = []
    search: list[float] = []
    items = 0
    for q in questions[20 : 20 + cfg.fetches]:
        t = time.perf_counter()
        resp = await fetch(q)
        wall.append((time.perf_counter() - t) * 1000)
        embed.append(resp.metadata.timing_ms.get("embed_ms", 0.0))
        search.append(resp.metadata.timing_ms.get("search_ms", 0.0))
        items += len(resp.items())
    conc_q = questions[20 + cfg.fetches : 20 + 2 * cfg.fetches]
    sem = asyncio.Semaphore(cfg.concurrency)
    conc: list[float] = []

    async def one(q: str) -> None:
        async with sem:
            t = time.perf_counter()
            await fetch(q)
            conc.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(q) for q in conc_q))
    elapsed = time.perf_counter() - t0
    return {
        "sequential": _summary(wall),
        "embed_ms_p50": round(_pct(embed, 0.5), 2),
        "search_ms_p50": round(_pct(search, 0.5), 2),
        "search_ms_p95": round(_pct(search, 0.95), 2),
        "items_per_fetch": round(items / max(1, len(wall)), 1),
        f"concurrent_{cfg.concurrency}": {**_summary(conc), "fetches_per_s": round(len(conc) / elapsed, 1)},
    }


def _chat(rng: random.Random, sentences: list[str]) -> str:
    a, b = rng.sample(sentences, 2)
    return (
        f"User: By the way, {a[0].lower()}{a[1:]}\nAssistant: Thanks, I will remember that.\n"
        f"User: Also {b[0].lower()}{b[1:]} I really love it.\nAssistant: Noted!"
    )


async def _ingest_bench(svc: AsyncMemoryService, cfg: BenchConfig, sentences: list[str]) -> dict[str, Any]:
    rng = random.Random(cfg.seed + 1)
    inst = await svc.create_instance(f"bench-ingest-{uuid.uuid4().hex[:6]}", Relationship.B2B)
    docs = [_chat(rng, sentences) for _ in range(cfg.ingest_docs)]
    api = svc.api(inst)
    await api.create_memory(CreateMemory(document=docs[0], customer_id="warm", user_id="up"))  # load the models
    await svc.workers.run_pending()
    t = time.perf_counter()
    ids = []
    for i, d in enumerate(docs):
        r = await api.create_memory(CreateMemory(document=d, customer_id=f"cust{i % 50:04d}", user_id=f"user{i % 5}"))
        ids.append(r.ingestion_id)
    submitted = time.perf_counter() - t
    svc.workers.start()
    while await svc.store.count_jobs() > 0:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t
    await svc.workers.stop()
    memories = 0
    for iid in ids:
        memories += (await api.ingestion_status(iid)).memories_created
    return {
        "documents": len(docs),
        "submit_docs_per_s": round(len(docs) / submitted, 1),
        "docs_per_s": round(len(docs) / elapsed, 2),
        "memories_per_s": round(memories / elapsed, 1),
        "memories": memories,
        "seconds": round(elapsed, 1),
    }


async def _partition_bench(
    store: Any, data: _Data, cfg: BenchConfig, queries: Vectors, log: Callable[[str], None]
) -> dict[str, Any]:
    inst = await store.create_instance(f"bench-part-{uuid.uuid4().hex[:6]}", Relationship.B2B)
    load = await _load(store, inst, data.rows(inst.instance_id, cfg.partition_rows, only_client=True))
    log(f"large partition: loaded {cfg.partition_rows} CLIENT rows in {load:.1f}s")
    chain = client_chain(inst.instance_id)
    exact_ms: list[float] = []
    truth: list[list[int]] = []
    for q in queries:
        t = time.perf_counter()
        res = await store.search_vector(chain, q, limit=10, filters=SearchFilters())
        exact_ms.append((time.perf_counter() - t) * 1000)
        truth.append([r for r, _ in res])
    build = await store.create_partition_index(Scope(inst.instance_id, ScopeLevel.CLIENT), dims=queries.shape[1])
    out: dict[str, Any] = {
        "rows": cfg.partition_rows,
        "exact": _summary(exact_ms),
        "hnsw_build_s": round(build, 1),
    }
    out["hnsw_index_used"] = await store.partition_plan_uses_index(chain.scopes[0], queries[0])
    for ef in (40, 100, 200, 400):
        ms: list[float] = []
        hits = 0
        for q, want in zip(queries, truth, strict=True):
            t = time.perf_counter()
            got = [r for r, _ in await store.search_partition_hnsw(chain.scopes[0], q, limit=10, ef_search=ef)]
            ms.append((time.perf_counter() - t) * 1000)
            hits += len(set(want) & set(got))
        out[f"hnsw_ef{ef}"] = {**_summary(ms), "recall_at_10": round(hits / (10 * len(queries)), 3)}
    return out


async def run_pg_bench(cfg: BenchConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark described in the module docstring; returns the figures."""
    from ..pipeline.embedders.minilm import MiniLMEmbedder
    from ..pipeline.registry import create_extractor
    from ..store.postgres import PostgresStore
    from ..store.sqlite import SQLiteStore

    embedder = MiniLMEmbedder()
    extractor: Extractor = create_extractor("rules")
    data = _Data(cfg, embedder, log)
    rng = random.Random(cfg.seed + 2)
    # Every phase gets its own questions: the service caches query embeddings, and each fetch must pay for one.
    per_phase = 20 + 2 * cfg.fetches
    all_questions = _questions(per_phase * (len(cfg.sizes) + 1) + 100, rng)
    phases = iter(all_questions[i * per_phase : (i + 1) * per_phase] for i in range(len(cfg.sizes) + 1))
    partition_queries = all_questions[-100:]
    used: dict[int, list[str]] = {}
    figures: dict[str, Any] = {"config": {k: getattr(cfg, k) for k in cfg.__slots__ if k != "dsn"}}
    figures["pool_embed_s"] = round(data.embed_seconds, 1)
    figures["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]  # other work on the machine

    async def service(store: AsyncStore, dsn: str) -> AsyncMemoryService:
        settings = Settings(dsn=dsn, embedder="minilm", extractor="rules", workers=2)
        return AsyncMemoryService(settings, store, embedder, extractor)

    # -- PostgreSQL ---------------------------------------------------------------------------------------------------
    pg = PostgresStore(cfg.dsn, max_size=12)
    await pg.open()
    svc = await service(pg, cfg.dsn)
    try:
        inst = await svc.create_instance(f"bench-{uuid.uuid4().hex[:6]}", Relationship.B2B)
        loaded = 0
        for size in sorted(cfg.sizes):
            rows = data.rows(inst.instance_id, size - loaded, client=cfg.client_rows if loaded == 0 else 0)
            seconds = await _load(pg, inst, rows)
            del rows
            log(f"postgres: loaded {size - loaded} memories in {seconds:.1f}s (total {size})")
            loaded = size
            used[size] = next(phases)
            res = await _fetch_bench(svc, inst, cfg, used[size], random.Random(cfg.seed + size))
            res["load_s"] = round(seconds, 1)
            figures[f"postgres_{size}"] = res
            log(f"postgres {size}: {res}")
        figures["postgres_ingest"] = await _ingest_bench(svc, cfg, data.sentences)
        log(f"postgres ingest: {figures['postgres_ingest']}")
        if cfg.partition_rows:
            figures["postgres_large_partition"] = await _partition_bench(
                pg, data, cfg, embedder.embed(partition_queries), log
            )
            log(f"postgres large partition: {figures['postgres_large_partition']}")
        figures["postgres_server"] = await pg.server_info()
    finally:
        await svc.close(drain=False)

    # -- SQLite -------------------------------------------------------------------------------------------------------
    if cfg.sqlite_size:
        path = Path(cfg.sqlite_path or f"/tmp/tenantry-bench-{uuid.uuid4().hex[:8]}.db")
        dsn = f"sqlite:///{path}"
        lite = SQLiteStore(dsn)
        await lite.open()
        svc = await service(lite, dsn)
        try:
            inst = await svc.create_instance("bench", Relationship.B2B)
            rows = data.rows(inst.instance_id, cfg.sqlite_size, client=cfg.client_rows)
            seconds = await _load(lite, inst, rows)
            del rows
            log(f"sqlite: loaded {cfg.sqlite_size} memories in {seconds:.1f}s")
            same = used.get(cfg.sqlite_size) or next(phases)  # a fresh service: same questions, same (user, query)
            res = await _fetch_bench(svc, inst, cfg, same, random.Random(cfg.seed + cfg.sqlite_size))
            res["load_s"] = round(seconds, 1)
            figures[f"sqlite_{cfg.sqlite_size}"] = res
            log(f"sqlite {cfg.sqlite_size}: {res}")
            figures["sqlite_ingest"] = await _ingest_bench(svc, cfg, data.sentences)
            log(f"sqlite ingest: {figures['sqlite_ingest']}")
        finally:
            await svc.close(drain=False)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return figures
