"""Runs an :class:`~tenantry.pipeline.base.Embedder` off the event loop, on dedicated threads.

Queries and ingestion embed on separate threads, so a fetch never waits behind a large ingestion batch. Concurrent
query callers are served together: while one batch runs on the query thread, the next requests queue and go in the
following batch (one model call for many fetches under load). Repeated identical single queries hit a small cache.

While queries are being served (one in the last ``read_active_seconds``, default 2 s), ingestion batches embed with the
embedder's ``embed_serial`` when it has one: no intra-op threads, less CPU per text, so the reads keep the cores.
On an idle server ingestion uses the embedder's parallel path, which finishes a large batch sooner.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .pipeline.base import Embedder
from .pipeline.base import Vectors

__all__ = ["EmbeddingRunner"]


class EmbeddingRunner:
    def __init__(self, embedder: Embedder, *, cache_size: int = 2048, read_active_seconds: float = 2.0) -> None:
        self.embedder = embedder
        self._query_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantry-embed-q")
        self._ingest_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tenantry-embed-i")
        self._pending: list[tuple[list[str], asyncio.Future[Vectors]]] = []
        self._busy = False
        self._cache: dict[tuple[str, str], Vectors] = {}
        self._cache_size = cache_size
        self._read_active = read_active_seconds
        self._last_query = float("-inf")  # time.monotonic() of the last query embedding asked for

    def _empty(self) -> Vectors:
        return np.zeros((0, self.embedder.dimensions), dtype=np.float32)

    async def documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return self._empty()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._ingest_executor, self._document_embedder(), list(texts))

    def _document_embedder(self) -> Callable[[Sequence[str]], Vectors]:
        serial: Callable[[Sequence[str]], Vectors] | None = getattr(self.embedder, "embed_serial", None)
        if serial is not None and time.monotonic() - self._last_query < self._read_active:
            return serial
        return self.embedder.embed

    async def queries(self, texts: Sequence[str], *, partition: str) -> Vectors:
        """Embed query ``texts`` of one tenant (``partition``: its instance id). Requests of every tenant share the
        model calls, but not the cache (a cached answer is faster, so a shared cache would tell one tenant what
        another just asked) nor each other's failures (a batch that fails is retried request by request)."""
        if not texts:
            return self._empty()
        self._last_query = time.monotonic()
        key = (partition, texts[0]) if len(texts) == 1 else None
        if key is not None and key in self._cache:
            return self._cache[key]
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Vectors] = loop.create_future()
        self._pending.append((list(texts), fut))
        if not self._busy:
            self._busy = True
            loop.create_task(self._drain())
        out = await fut
        if key is not None and len(texts[0]) < 512:
            if len(self._cache) > self._cache_size:
                self._cache.clear()
            self._cache[key] = out
        return out

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                unique = list(dict.fromkeys(t for texts, _ in batch for t in texts))
                try:
                    vectors = await loop.run_in_executor(self._query_executor, self.embedder.embed, unique)
                except Exception:
                    if len(batch) == 1:
                        raise
                    # One request's input broke the shared call: each request is embedded alone, so only the
                    # request whose input fails sees the error.
                    for texts, fut in batch:
                        await self._alone(texts, fut)
                    continue
                where = {t: i for i, t in enumerate(unique)}
                for texts, fut in batch:
                    if not fut.done():
                        fut.set_result(vectors[[where[t] for t in texts]])
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
        finally:
            self._busy = False

    async def _alone(self, texts: list[str], fut: asyncio.Future[Vectors]) -> None:
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(self._query_executor, self.embedder.embed, texts)
        except Exception as exc:
            if not fut.done():
                fut.set_exception(exc)
        else:
            if not fut.done():
                fut.set_result(vectors)

    def close(self) -> None:
        self._query_executor.shutdown(wait=False)
        self._ingest_executor.shutdown(wait=False)
