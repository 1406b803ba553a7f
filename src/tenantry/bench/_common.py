"""What the benchmarks share: generated English (memories and questions), percentiles, the embedded SDK built from
explicit settings, and the direct-write prefill of a store."""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..pipeline.base import MemoryDraft
from ..scope import Scope
from ..scope import ScopeLevel
from ..sdk import Tenantry
from ..service import AsyncMemoryService
from ..service import LocalAPI
from ..settings import Settings
from ..store.base import InstanceRecord
from ..store.base import NewMemory
from ..store.base import ProcessedJob
from ..types import content_hash

__all__ = [
    "NAMES",
    "TEMPLATES",
    "embedded_sdk",
    "engine_of",
    "evaluation_sdk",
    "wait_all",
    "pct",
    "percentile",
    "prefill",
    "progress_bar",
    "question",
    "sentence",
]

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


def sentence(rng: random.Random) -> str:
    """A generated memory-like sentence (a random template filled with random words)."""
    return rng.choice(TEMPLATES).format(
        n=rng.choice(NAMES),
        p=rng.choice(PLACES),
        p2=rng.choice(PLACES),
        j=rng.choice(JOBS),
        f=rng.choice(FOODS),
        h=rng.choice(HOBBIES),
        t=rng.choice(THINGS),
    )


def question(rng: random.Random) -> str:
    """A generated question about the generated sentences."""
    return rng.choice(QUESTIONS).format(n=rng.choice(NAMES), p=rng.choice(PLACES), t=rng.choice(THINGS))


def pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100, linear interpolation); NaN when there are no values."""
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of sorted ``values`` (linear interpolation); 0 when there are none."""
    if not values:
        return 0.0
    pos = (len(values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def progress_bar(total: int, desc: str, enabled: bool, *, unit: str) -> Any:
    """A tqdm bar that leaves no line behind (off when not ``enabled``)."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)


@asynccontextmanager
async def evaluation_sdk(
    name: str, *, dsn: str | None, workers: int, extractor: str, embedder: str, ablate: frozenset[str] = frozenset()
) -> AsyncIterator[Tenantry]:
    """An initialised embedded SDK on a b2b instance ``name``, over ``dsn`` or a fresh temporary SQLite database, with
    a temporary home; closed (its queue drained) on exit. What the arguments do not name comes from ``TENANTRY_*``
    as usual (e.g. the model cache)."""
    with tempfile.TemporaryDirectory(prefix=f"tenantry-{name}-") as tmp:
        settings = Settings(
            dsn=dsn or f"sqlite:///{Path(tmp) / f'{name}.db'}",
            home=Path(tmp) / "home",
            workers=workers,
            extractor=extractor,
            embedder=embedder,
            ablate=ablate,
        )
        sdk = embedded_sdk(settings, name, relationship="b2b")
        await sdk.initialize()
        try:
            yield sdk
        finally:
            await sdk.shutdown()


async def wait_all(sdk: Tenantry, jobs: Sequence[str], desc: str, *, progress: bool, poll: float) -> None:
    """Wait until every ingestion of ``jobs`` completed, with a progress bar; a job that did not complete raises."""
    bar = progress_bar(len(jobs), desc, progress, unit="doc")
    try:
        for ing in jobs:
            st = await sdk.memories.wait_for_completion(ing, timeout_seconds=3600, poll_interval_seconds=poll)
            if st.status != "completed":
                raise RuntimeError(f"ingestion {ing} ended {st.status}: {st.error_message}")
            bar.update(1)
    finally:
        bar.close()


def embedded_sdk(settings: Settings, instance: str, *, relationship: str = "b2b") -> Tenantry:
    """The embedded SDK on ``instance`` with every field of ``settings`` passed explicitly."""
    return Tenantry(relationship=relationship, settings=settings.model_copy(update={"instance": instance}))


def engine_of(sdk: Tenantry) -> tuple[AsyncMemoryService, InstanceRecord]:
    """The engine and the instance behind an initialised embedded SDK (benchmarks write through the store)."""
    api = sdk.api
    if not isinstance(api, LocalAPI):
        raise TypeError("benchmarks that prefill need the embedded SDK")
    return api.service, api.instance


async def prefill(
    sdk: Tenantry, start: int, total: int, customers: int, rng: random.Random, pool_size: int = 20_000
) -> float:
    """Bring the instance from ``start`` to ``total`` memories (≈10% customer-scoped, ≈1% client, the rest over 10
    users per customer), written through the store's direct-write path in scope batches. Returns seconds spent.

    The memories are drawn from a pool of ``pool_size`` distinct generated sentences, each embedded once by the
    instance's embedder (real deployments repeat themselves: "prefers email", "works night shifts").
    """
    svc, inst = engine_of(sdk)
    t0 = time.perf_counter()
    pool = list(dict.fromkeys(sentence(rng) for _ in range(pool_size * 2)))[:pool_size]
    vectors = np.zeros((len(pool), svc.embedder.dimensions), dtype=np.float32)
    for i in tqdm(range(0, len(pool), 512), desc="embedding sentence pool", unit="batch"):
        vectors[i : i + 512] = await svc.embed_documents(pool[i : i + 512])
    by_scope: dict[Scope, list[int]] = {}
    for k in range(start, total):
        c = k % customers
        r = rng.random()
        if r < 0.01:
            scope = Scope(inst.instance_id, ScopeLevel.CLIENT)
        elif r < 0.11:
            scope = Scope(inst.instance_id, ScopeLevel.CUSTOMER, f"cust{c:04d}")
        else:
            scope = Scope(inst.instance_id, ScopeLevel.USER, f"cust{c:04d}", f"user{rng.randrange(10)}")
        by_scope.setdefault(scope, []).append(rng.randrange(len(pool)))
    with tqdm(total=total - start, desc=f"writing memories up to {total:,}", unit="mem") as bar:
        for scope, picks in by_scope.items():
            for first in range(0, len(picks), 500):
                chunk = picks[first : first + 500]
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
    return time.perf_counter() - t0
