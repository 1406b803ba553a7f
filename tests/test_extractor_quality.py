"""Quality of the rules extractor on a hand-labelled fixture of realistic chat turns and document sentences.

The fixture (``tests/fixtures/extraction_labelled.jsonl``) was written for this test: original sentences, each
labelled with the memories a careful human would record. Negatives (greetings, questions, chit-chat) expect
nothing. A draft matches an expected item when the type is the same, every ``contains`` word occurs in the
content (case-insensitive) and, when given, ``event_date`` is the same day. Matching is one-to-one.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tenantry.pipeline.base import MEMORY_TYPES
from tenantry.pipeline.base import DocumentInput
from tenantry.pipeline.base import MemoryDraft
from tenantry.pipeline.extractors.rules import RulesExtractor
from tenantry.pipeline.split import split_document

FIXTURE = Path(__file__).parent / "fixtures" / "extraction_labelled.jsonl"
ACCEPTANCE = {"fact": 0.7, "preference": 0.7}
# Statements the extractor missed before issue #12 (favourites, "I fly/use/drive/work with X", "I prefer X over Y",
# notes about "the user"), written before the patterns were tuned: on main fact recall 0.50 (precision 0.88),
# preference recall 0.57 (precision 0.80).
RECALL_FIXTURE = Path(__file__).parent / "fixtures" / "extraction_recall.jsonl"
RECALL_ACCEPTANCE = {"fact": 0.9, "preference": 0.9}


def _load(path: Path = FIXTURE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _document(row: dict[str, Any], index: int) -> DocumentInput:
    created = datetime.fromisoformat(row["created_at"])
    text = f"{row['speaker']}: {row['text']}" if row["speaker"] else row["text"]
    segments = split_document(text, row["document_type"], created_at=created)
    return DocumentInput(f"fixture-{index}", row["document_type"], segments, created)


def _matches(draft: MemoryDraft, item: dict[str, Any]) -> bool:
    if draft.memory_type != item["type"]:
        return False
    content = draft.content.lower()
    if not all(word.lower() in content for word in item["contains"]):
        return False
    if "event_date" in item:
        return draft.event_date is not None and draft.event_date.date().isoformat() == item["event_date"]
    return True


def _max_matching(expected: list[dict[str, Any]], drafts: list[MemoryDraft]) -> dict[int, int]:
    """One-to-one matching of expected items to drafts, as large as possible (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}  # draft index -> expected index

    def augment(i: int, seen: set[int]) -> bool:
        for k, draft in enumerate(drafts):
            if k in seen or not _matches(draft, expected[i]):
                continue
            seen.add(k)
            if k not in owner or augment(owner[k], seen):
                owner[k] = i
                return True
        return False

    for i in range(len(expected)):
        augment(i, set())
    return {i: k for k, i in owner.items()}


def _score(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, int]], list[str]]:
    extractor = RulesExtractor(strict=True)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"tp": 0, "drafts": 0, "expected": 0, "found": 0})
    errors: list[str] = []
    for i, row in enumerate(rows):
        drafts = extractor.extract(_document(row, i))
        expected = row["expected"]
        pairs = _max_matching(expected, drafts)
        used = set(pairs.values())
        for i_item, item in enumerate(expected):
            counts[item["type"]]["expected"] += 1
            if i_item in pairs:
                counts[item["type"]]["found"] += 1
            else:
                errors.append(f"MISS {item['type']:<14} {item['contains']} <- {row['text']!r}")
        for k, d in enumerate(drafts):
            counts[d.memory_type]["drafts"] += 1
            if k in used:
                counts[d.memory_type]["tp"] += 1
            else:
                errors.append(f"EXTRA {d.memory_type:<13} {d.content!r} <- {row['text']!r}")
    return counts, errors


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


@pytest.fixture(scope="module")
def scored() -> tuple[dict[str, dict[str, int]], list[str]]:
    counts, errors = _score(_load())
    print("\n\nrules extractor on tests/fixtures/extraction_labelled.jsonl")
    print(f"{'type':<15}{'expected':>9}{'drafts':>8}{'precision':>11}{'recall':>8}")
    for t in MEMORY_TYPES:
        c = counts[t]
        p, r = _ratio(c["tp"], c["drafts"]), _ratio(c["found"], c["expected"])
        print(f"{t:<15}{c['expected']:>9}{c['drafts']:>8}{p:>11.2f}{r:>8.2f}")
    print("\n".join(errors))
    return counts, errors


def test_fixture_is_a_fair_sample() -> None:
    rows = _load()
    assert len(rows) >= 60
    assert sum(1 for r in rows if not r["expected"]) >= 15, "needs negatives"
    assert {r["document_type"] for r in rows} >= {"human-chat-conversation", "ai-chat-conversation", "document"}


@pytest.mark.parametrize("memory_type", sorted(ACCEPTANCE))
def test_precision_and_recall(scored: tuple[dict[str, dict[str, int]], list[str]], memory_type: str) -> None:
    c = scored[0][memory_type]
    precision, recall = _ratio(c["tp"], c["drafts"]), _ratio(c["found"], c["expected"])
    assert precision >= ACCEPTANCE[memory_type], f"{memory_type} precision {precision:.2f}"
    assert recall >= ACCEPTANCE[memory_type], f"{memory_type} recall {recall:.2f}"


@pytest.mark.parametrize("memory_type", sorted(RECALL_ACCEPTANCE))
def test_precision_and_recall_on_statements_missed_before(memory_type: str) -> None:
    counts, errors = _score(_load(RECALL_FIXTURE))
    c = counts[memory_type]
    precision, recall = _ratio(c["tp"], c["drafts"]), _ratio(c["found"], c["expected"])
    assert precision >= RECALL_ACCEPTANCE[memory_type], "\n".join(errors)
    assert recall >= RECALL_ACCEPTANCE[memory_type], "\n".join(errors)


def test_temporal_event_dates_resolved() -> None:
    extractor = RulesExtractor(strict=True)
    wrong: list[str] = []
    for i, row in enumerate(_load()):
        drafts = extractor.extract(_document(row, i))
        for item in row["expected"]:
            if item["type"] != "temporal_event" or "event_date" not in item:
                continue
            dates = sorted(
                {d.event_date.date().isoformat() for d in drafts if d.memory_type == "temporal_event" and d.event_date}
            )
            if item["event_date"] not in dates:
                wrong.append(f"{row['text']!r}: expected {item['event_date']}, got {dates}")
    assert not wrong, "\n".join(wrong)


def test_speed() -> None:
    """Well over 1000 segments/s on one core (ingestion budget: 100 turns/s including the embedder)."""
    rows = _load()
    docs = [_document(row, i) for i, row in enumerate(rows)]
    extractor = RulesExtractor()
    extractor.extract(docs[0])
    n = 0
    start = time.perf_counter()
    for _ in range(5):
        for doc in docs:
            extractor.extract(doc)
            n += len(doc.segments)
    rate = n / (time.perf_counter() - start)
    print(f"\nrules extractor: {rate:,.0f} segments/s")
    assert rate > 1000


# ------------------------------------------------------------------------------------------------ behaviour


def _extract(document: Any, document_type: str = "human-chat-conversation", created: datetime | None = None):
    created = created or datetime(2023, 5, 8, 13, 56)
    segments = split_document(document, document_type, created_at=created)
    return RulesExtractor(strict=True).extract(DocumentInput("doc", document_type, segments, created))


def test_relative_date_and_speaker_are_resolved_in_content() -> None:
    drafts = _extract("Caroline: I went to a support group yesterday.")
    episode = next(d for d in drafts if d.memory_type == "episode")
    assert episode.content == "Caroline went to a support group on 7 May 2023."
    assert episode.event_date == datetime(2023, 5, 7)
    assert episode.source_evidence == ["t1"]
    assert episode.subject == "caroline"
    assert "caroline" in episode.entities
    assert {d.memory_type for d in drafts} == {"episode", "temporal_event"}


def test_message_timestamp_is_the_reference_and_aware_stays_aware() -> None:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    msgs = [
        {
            "id": "D1:1",
            "speaker": "Mel",
            "content": "I painted a lake sunrise yesterday.",
            "timestamp": "2023-05-08T10:00:00+00:00",
        }
    ]
    drafts = _extract(msgs, created=created)
    assert {d.event_date for d in drafts} == {datetime(2023, 5, 7, tzinfo=UTC)}
    assert all(d.source_evidence == ["D1:1"] for d in drafts)


def test_shared_photo_caption_becomes_an_episode() -> None:
    msgs = [{"id": "D2:4", "speaker": "Mel", "content": "Look what we made!", "caption": "a clay bowl with a dog face"}]
    (draft,) = _extract(msgs)
    assert (draft.memory_type, draft.content) == ("episode", "Mel shared a photo of a clay bowl with a dog face")


@pytest.mark.parametrize(
    "turn",
    [
        pytest.param("Assistant: Sure! Here are a few ideas you might like.", id="chit-chat"),
        pytest.param("Assistant: I'm so glad you enjoyed it! I love helping with recipes.", id="assistant-feelings"),
        pytest.param("Assistant: The Eiffel Tower is 330 metres tall.", id="world-knowledge"),
        pytest.param("User: Thanks!", id="thanks"),
        pytest.param("User: How are you today?", id="question"),
    ],
)
def test_nothing_from_chit_chat(turn: str) -> None:
    assert _extract(turn, "ai-chat-conversation") == []


def test_assistant_restating_a_user_fact() -> None:
    doc = "User: hi\nAssistant: Since you mentioned you work at Acme as a nurse, here are some shift tips."
    (draft,) = _extract(doc, "ai-chat-conversation")
    assert (draft.memory_type, draft.content, draft.attribute, draft.subject) == (
        "fact",
        "User works at Acme as a nurse",
        "works_at",
        "user",
    )


def test_contradiction_slots_match() -> None:
    drafts = _extract("Ana: I live in Boston.\nAna: Last month I moved to Denver.")
    facts = [d for d in drafts if d.memory_type == "fact"]
    assert [(d.subject, d.attribute) for d in facts] == [("ana", "lives_in"), ("ana", "lives_in")]
    assert facts[1].metadata["attributes"] == {"lives_in": "Denver"}


@pytest.mark.parametrize(
    ("turn", "category", "polarity"),
    [
        pytest.param("User: I love sushi.", "food", "positive", id="food"),
        pytest.param("User: I can't stand jazz.", "music", "negative", id="music"),
        pytest.param("User: Please reply in short bullet points.", "communication", "positive", id="request"),
        pytest.param("User: I always take the aisle seat.", "travel", "positive", id="habit"),
    ],
)
def test_preference_category_and_polarity(turn: str, category: str, polarity: str) -> None:
    (draft,) = _extract(turn, "ai-chat-conversation")
    assert (draft.memory_type, draft.category, draft.metadata["polarity"]) == ("preference", category, polarity)


def test_emotion_intensity_follows_intensifiers() -> None:
    (mild,) = _extract("User: I'm a bit worried about the move.", "ai-chat-conversation")
    (plain,) = _extract("User: I'm worried about the move.", "ai-chat-conversation")
    (strong,) = _extract("User: I'm really, really worried about the move!", "ai-chat-conversation")
    assert mild.category == plain.category == strong.category == "anxious"
    assert mild.confidence < plain.confidence < strong.confidence


def test_deadline_sets_valid_until() -> None:
    (draft,) = _extract("Your subscription expires on June 30, 2023.", "email")
    assert draft.memory_type == "temporal_event"
    assert draft.event_date == datetime(2023, 6, 30)
    assert draft.valid_until == datetime(2023, 6, 30, 23, 59, 59, 999999)


def test_deterministic() -> None:
    doc = "\n".join(f"{r['speaker']}: {r['text']}" for r in _load() if r["speaker"])
    assert _extract(doc) == _extract(doc)


def test_registered_by_name() -> None:
    from tenantry.pipeline.base import Extractor
    from tenantry.pipeline.registry import create_extractor

    extractor = create_extractor("rules")
    assert isinstance(extractor, Extractor) and extractor.name == "rules"
