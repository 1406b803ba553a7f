"""Retrieval behaviour end to end through the service (SQLite, hashing embedder, real turn extractor)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fakes import EchoExtractor

from tenantry.contract import CreateMemory
from tenantry.contract import UserContextQuery
from tenantry.pipeline.base import DocumentInput
from tenantry.pipeline.base import Extractor
from tenantry.pipeline.base import MemoryDraft
from tenantry.pipeline.base import Segment
from tenantry.pipeline.embedders.hashing import HashingEmbedder
from tenantry.pipeline.extractors.composite import CompositeExtractor
from tenantry.pipeline.extractors.turns import TurnExtractor
from tenantry.pipeline.ingest import searchable_context
from tenantry.scope import Relationship
from tenantry.scope import user_chain
from tenantry.service import AsyncMemoryService
from tenantry.settings import Settings
from tenantry.store.sqlite import SQLiteStore

CHAT = [
    ("m1", "Bo", "Hey Ann, how was your weekend?"),
    ("m2", "Ann", "Great! I ran the Boston marathon yesterday."),
    ("m3", "Bo", "Wow, how long did it take you?"),
    ("m4", "Ann", "Four hours and ten minutes, a personal best."),
    ("m5", "Bo", "I adopted a puppy called Rex last week."),
    ("m6", "Ann", "Rex is a lovely name for a puppy."),
    ("m7", "Bo", "My sister visited Lisbon and loved the tiles."),
    ("m8", "Ann", "I want to visit Lisbon too, maybe next spring."),
    ("m9", "Bo", "We should plan a trip together."),
    ("m10", "Ann", "Deal. I will look at flights tonight."),
]

Make = Callable[..., Any]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Make]:
    made: list[AsyncMemoryService] = []

    async def create(extractor: Extractor | None = None) -> tuple[AsyncMemoryService, Any]:
        dsn = f"sqlite:///{tmp_path / f'r{len(made)}.db'}"
        store = SQLiteStore(dsn)
        await store.open()
        svc = AsyncMemoryService(
            Settings(dsn=dsn, embedder="hashing"), store, HashingEmbedder(), extractor or TurnExtractor()
        )
        made.append(svc)
        inst = await svc.create_instance(f"r{len(made)}", Relationship.B2B)
        doc = {"messages": [{"id": i, "speaker": s, "content": t} for i, s, t in CHAT]}
        await svc.api(inst).create_memory(
            CreateMemory(
                document=doc,
                document_type="human-chat-conversation",
                user_id="u1",
                customer_id="c1",
                document_id="s1",
                document_created_at="2023-05-08T13:56:00Z",
            )
        )
        await svc.workers.run_pending()
        return svc, inst

    yield create
    for svc in made:
        await svc.close(drain=False)


async def _fetch(svc: AsyncMemoryService, inst: Any, q: str, k: int = 5, mode: str = "fast") -> list[Any]:
    query = UserContextQuery(user_id="u1", customer_id="c1", search_query=[q], max_results=k, mode=mode, explain=True)
    resp = await svc.api(inst).fetch_user(query)
    return resp.items()


async def test_turn_memories_restate_speaker_and_resolved_date(make: Make) -> None:
    svc, inst = await make()
    chain = user_chain(inst.instance_id, inst.relationship, user_id="u1", customer_id="c1")
    from tenantry.store.base import SearchFilters

    rows, total = await svc.store.list_memories(chain, offset=0, limit=50, filters=SearchFilters())
    assert total == len(CHAT)
    m2 = next(r for r in rows if r.source_evidence == ["m2"])
    assert m2.content == "Ann said on 8 May 2023: Great! I ran the Boston marathon yesterday (on 7 May 2023)."
    assert m2.memory_type == "episode" and m2.subject == "Ann"
    assert m2.metadata["kind"] == "turn" and m2.metadata["turn"] == 1 and m2.metadata["dated"] is True
    assert "_embed_text" not in m2.metadata
    assert m2.event_date is not None and m2.event_date.day == 7


async def test_answer_turn_found_through_its_neighbours(make: Make) -> None:
    svc, inst = await make()
    items = await _fetch(svc, inst, "How long did Ann take to run the Boston marathon?", k=4)
    assert "m4" in {e for it in items for e in it.source_evidence}  # shares no content word with the question


async def test_smaller_k_is_a_prefix_in_both_modes(make: Make) -> None:
    svc, inst = await make()
    for mode in ("fast", "accurate"):
        for q in ("Who adopted a puppy?", "When did Ann run the marathon?", "Which city do they want to visit?"):
            big = [i.id for i in await _fetch(svc, inst, q, k=8, mode=mode)]
            small = [i.id for i in await _fetch(svc, inst, q, k=3, mode=mode)]
            assert small == big[:3], (mode, q)


async def test_scores_strictly_decrease_along_the_ranking(make: Make) -> None:
    svc, inst = await make()
    items = await _fetch(svc, inst, "puppy Rex", k=8)
    scores = [i.score for i in items]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False))


async def test_items_with_covered_evidence_are_dropped(make: Make) -> None:
    svc, inst = await make(CompositeExtractor([EchoExtractor(), TurnExtractor()]))
    items = await _fetch(svc, inst, "Lisbon trip", k=10)
    evidence = [tuple(i.source_evidence) for i in items]
    assert len(evidence) == len(set(evidence))  # an echo fact and its turn memory never both come back


async def test_speaker_asked_about_is_preferred(make: Make) -> None:
    svc, inst = await make()
    items = await _fetch(svc, inst, "What does Ann think about visiting Lisbon?", k=2)
    assert items[0].source_evidence == ["m8"]


async def test_accurate_passages_carry_neighbour_turns(make: Make) -> None:
    svc, inst = await make()
    fast = await _fetch(svc, inst, "Boston marathon", k=1)
    acc = await _fetch(svc, inst, "Boston marathon", k=1, mode="accurate")
    assert fast[0].source_evidence == ["m2"]
    assert acc[0].source_evidence[0] == "m2" and {"m1", "m3"} <= set(acc[0].source_evidence)
    assert acc[0].summary.count("\n") == 2 and acc[0].metadata["passage"] == ["m1", "m3"]


async def test_ablation_switch_is_read_when_the_engine_is_built(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_ABLATE", "passages")
    svc, inst = await make()
    acc = await _fetch(svc, inst, "Boston marathon", k=1, mode="accurate")
    assert acc[0].source_evidence == ["m2"]


async def test_memories_at_turns(make: Make) -> None:
    svc, inst = await make()
    chain = user_chain(inst.instance_id, inst.relationship, user_id="u1", customer_id="c1")
    found = await svc.store.memories_at_turns(chain, [("s1", 0), ("s1", 3), ("other", 1)])
    assert sorted(r.source_evidence[0] for r in found) == ["m1", "m4"]
    other = user_chain(inst.instance_id, inst.relationship, user_id="u2", customer_id="c1")
    assert await svc.store.memories_at_turns(other, [("s1", 0)]) == []


def test_restated_episodes_are_dropped_for_turn_memories() -> None:
    class Episodes:
        name = "episodes"

        def extract(self, document: DocumentInput) -> list[MemoryDraft]:
            return [
                MemoryDraft("episode", "Ann ran a marathon.", source_evidence=["a"]),
                MemoryDraft("fact", "Ann is a runner.", source_evidence=["a"]),
                MemoryDraft("episode", "Ann and Bo talked.", source_evidence=["a", "b"]),
            ]

    doc = DocumentInput(
        "d",
        "chat",
        [Segment("a", "I ran a marathon", speaker="Ann"), Segment("b", "I ran one in May", "Bo")],
        created_at=__import__("datetime").datetime(2023, 5, 8),
    )
    keep = CompositeExtractor([Episodes(), TurnExtractor()]).extract(doc)
    drop = CompositeExtractor([Episodes(), TurnExtractor()], restated_episodes="drop").extract(doc)
    assert len(keep) == 5
    assert [d.content for d in drop if d.metadata.get("kind") != "turn"] == ["Ann is a runner.", "Ann and Bo talked."]


def test_searchable_context_appends_neighbours_not_own_turns() -> None:
    segs = [Segment(f"t{i}", f"text {i}", speaker="A" if i % 2 else "B") for i in range(6)]
    drafts = [MemoryDraft("fact", "fact about 2 and 3", source_evidence=["t2", "t3"])]
    fts, emb = searchable_context(drafts, segs, window=1, lexical=True, vectors=False)
    assert fts[0] == "fact about 2 and 3 fact about 2 and 3 | A: text 1 B: text 4"
    assert emb[0] == "fact about 2 and 3" and drafts[0].metadata["turn"] == 2
    prose = [Segment("s1", "One."), Segment("s2", "Two.")]
    fts2, _ = searchable_context(
        [MemoryDraft("fact", "x", source_evidence=["s1"])], prose, window=2, lexical=True, vectors=False
    )
    assert fts2 == [None]
