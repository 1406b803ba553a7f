"""Compaction versions in the store, the same on SQLite and PostgreSQL: numbering, the one-in-progress lock,
abandoned runs, reads by version and status, instance isolation, erasure with the conversation."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from tests.store.helpers import U

from tenantry.scope import ReadChain
from tenantry.store.base import AsyncStore
from tenantry.store.base import CompactionRecord


def _rec(cid: str, compaction_id: str, at: datetime, instance: str = "inst_k") -> CompactionRecord:
    return CompactionRecord(instance, cid, compaction_id, "balanced", "manual_api", at)


async def test_compaction_versions(store: AsyncStore) -> None:
    now = datetime.now(UTC)
    stale = now - timedelta(minutes=10)
    await store.bind_conversation("inst_k", "c1", "acme", "alice")
    first = await store.begin_compaction(_rec("c1", "k1", now), stale_before=stale)
    assert first is not None and first.version == 1 and first.status == "in_progress"
    assert await store.begin_compaction(_rec("c1", "k2", now), stale_before=stale) is None  # one runs already
    assert await store.get_compaction("inst_k", "c1") is None  # nothing completed yet
    first.status, first.completed_at, first.message_count = "completed", now, 12
    first.original_tokens, first.compacted_tokens, first.compression_ratio = 1000, 400, 0.4
    first.validation_score, first.body = 0.9, {"sections": {"facts": [{"content": "x", "turn": 1}]}}
    await store.finish_compaction(first)
    done = await store.get_compaction("inst_k", "c1")
    assert done is not None and (done.version, done.message_count, done.compression_ratio) == (1, 12, 0.4)
    assert done.body == first.body and done.completed_at is not None and done.trigger == "manual_api"
    second = await store.begin_compaction(_rec("c1", "k3", now), stale_before=stale)
    assert second is not None and second.version == 2
    latest_any = await store.get_compaction("inst_k", "c1", completed=False)
    assert latest_any is not None and latest_any.compaction_id == "k3"
    assert (await store.get_compaction("inst_k", "c1", version=1)) is not None
    assert await store.get_compaction("inst_other", "c1", completed=False) is None  # another instance sees none
    # a run begun before stale_before was abandoned: the next begin fails it and goes ahead
    third = await store.begin_compaction(_rec("c1", "k4", now), stale_before=now + timedelta(seconds=1))
    assert third is not None and third.version == 3
    abandoned = await store.get_compaction("inst_k", "c1", version=2, completed=False)
    assert abandoned is not None and abandoned.status == "failed" and abandoned.error_message


async def test_compactions_go_with_their_conversation(store: AsyncStore) -> None:
    now = datetime.now(UTC)
    await store.bind_conversation("inst_k", "c2", "acme", "bob")
    assert await store.begin_compaction(_rec("c2", "k9", now), stale_before=now) is not None
    await store.delete_scope_data(ReadChain.subtree(U("inst_k", "acme", "bob")), conversation_id="c2")
    assert await store.get_compaction("inst_k", "c2", completed=False) is None
