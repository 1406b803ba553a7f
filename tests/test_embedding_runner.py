"""The embedding runner: ingestion embeds serially (no intra-op threads) while queries are being served."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from tenantry._embedding import EmbeddingRunner
from tenantry.pipeline.base import Vectors
from tenantry.pipeline.embedders.hashing import HashingEmbedder


class RecordingEmbedder(HashingEmbedder):
    """The hashing embedder, with a serial path, recording which path each call took."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append("parallel")
        return super().embed(texts)

    def embed_serial(self, texts: Sequence[str]) -> Vectors:
        self.calls.append("serial")
        return super().embed(texts)


async def test_ingestion_embeds_serially_while_queries_are_served() -> None:
    emb = RecordingEmbedder()
    runner = EmbeddingRunner(emb, read_active_seconds=0.3)
    try:
        idle = await runner.documents(["a turn", "another turn"])
        assert emb.calls == ["parallel"]  # no reads yet: the parallel path finishes a batch sooner
        await runner.queries(["what did they say?"], partition="inst_t")
        busy = await runner.documents(["a turn", "another turn"])
        assert emb.calls == ["parallel", "parallel", "serial"]  # (the query itself went through embed)
        np.testing.assert_array_equal(idle, busy)
        await asyncio.sleep(0.4)  # no query for longer than read_active_seconds: idle again
        await runner.documents(["a third turn"])
        assert emb.calls[-1] == "parallel"
    finally:
        runner.close()


async def test_embedders_without_a_serial_path_are_used_as_they_are() -> None:
    emb = HashingEmbedder()
    runner = EmbeddingRunner(emb)
    try:
        await runner.queries(["what did they say?"], partition="inst_t")
        out = await runner.documents(["a turn"])
        np.testing.assert_array_equal(out, emb.embed(["a turn"]))
    finally:
        runner.close()
