"""Splitting documents into segments (tenantry.pipeline.split), plus robustness properties of the pipeline front."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tenantry.pipeline.base import DocumentInput
from tenantry.pipeline.extractors.rules import RulesExtractor
from tenantry.pipeline.split import normalize_text
from tenantry.pipeline.split import role_for_label
from tenantry.pipeline.split import split_document
from tenantry.pipeline.split import split_sentences

CREATED = datetime(2023, 5, 8, 13, 56)


def texts(document: Any, document_type: str = "document") -> list[str]:
    return [s.text for s in split_document(document, document_type, created_at=CREATED)]


# ------------------------------------------------------------------------------------------------ sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("I moved. Then I slept!", ["I moved.", "Then I slept!"], id="basic"),
        pytest.param("Dr. Smith is here. He is nice.", ["Dr. Smith is here.", "He is nice."], id="title"),
        pytest.param("Fruit, e.g. Apples, is good. Yes.", ["Fruit, e.g. Apples, is good.", "Yes."], id="eg"),
        pytest.param("It costs 3.5 dollars. Fine.", ["It costs 3.5 dollars.", "Fine."], id="decimal"),
        pytest.param("She moved to the U.S. in 2019. Nice.", ["She moved to the U.S. in 2019.", "Nice."], id="us"),
        pytest.param("J. Smith called. Ok.", ["J. Smith called.", "Ok."], id="initial"),
        pytest.param("See No. 5 below. Done.", ["See No. 5 below.", "Done."], id="number-abbreviation"),
        pytest.param("I said no. Then I left.", ["I said no.", "Then I left."], id="no-is-a-word"),
        pytest.param("Apples, pears, etc. Then more.", ["Apples, pears, etc.", "Then more."], id="etc-at-end"),
        pytest.param("Really? Yes!! Ok...", ["Really?", "Yes!!", "Ok..."], id="punctuation-runs"),
        pytest.param('He said "stop." Then left.', ['He said "stop."', "Then left."], id="closing-quote"),
        pytest.param("line one\nline two", ["line one", "line two"], id="newlines"),
        pytest.param("i went home. then i slept", ["i went home.", "then i slept"], id="lowercase-chat"),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# ------------------------------------------------------------------------------------------------ chat text


def test_chat_turns_with_continuation_lines() -> None:
    doc = "Caroline: Hey Mel! I went to a support group yesterday.\nIt was great.\nMelanie: Oh wow!\nUser: hi"
    segs = split_document(doc, "human-chat-conversation", created_at=CREATED)
    assert [(s.id, s.speaker, s.role, s.text) for s in segs] == [
        ("t1", "Caroline", None, "Hey Mel! I went to a support group yesterday. It was great."),
        ("t2", "Melanie", None, "Oh wow!"),
        ("t3", "User", "user", "hi"),
    ]


@pytest.mark.parametrize(
    ("label", "role"),
    [
        pytest.param("User", "user", id="user"),
        pytest.param("Human", "user", id="human"),
        pytest.param("Customer", "user", id="customer"),
        pytest.param("Assistant", "assistant", id="assistant"),
        pytest.param("AI", "assistant", id="ai"),
        pytest.param("Bot", "assistant", id="bot"),
        pytest.param("Agent", "assistant", id="agent"),
        pytest.param("Caroline", None, id="named-person"),
        pytest.param(None, None, id="none"),
    ],
)
def test_role_for_label(label: str | None, role: str | None) -> None:
    assert role_for_label(label) == role


def test_turn_timestamps_and_markdown_labels() -> None:
    doc = "[10:32] Alice: morning\n**Bob:** hi there\nAlice (2023-05-09 08:00): later"
    segs = split_document(doc, "meeting-transcript", created_at=CREATED)
    assert [s.speaker for s in segs] == ["Alice", "Bob", "Alice"]
    assert segs[0].timestamp == datetime(2023, 5, 8, 10, 32)
    assert segs[1].timestamp is None
    assert segs[2].timestamp == datetime(2023, 5, 9, 8, 0)


def test_text_before_first_label_is_kept() -> None:
    segs = split_document("Notes from the call\nAlice: hi\nBob: hey", "meeting-transcript", created_at=CREATED)
    assert [(s.speaker, s.text) for s in segs] == [(None, "Notes from the call"), ("Alice", "hi"), ("Bob", "hey")]


def test_chat_shape_is_detected_in_untyped_text() -> None:
    segs = split_document("Alice: hi\nBob: hello there\nAlice: how are you", "document", created_at=CREATED)
    assert [s.id for s in segs] == ["t1", "t2", "t3"]


def test_email_headers_are_not_speakers() -> None:
    doc = "From: bob@example.com\nSubject: Lunch\n\nHi team. Lunch is at noon."
    assert all(s.id.startswith("s") and s.speaker is None for s in split_document(doc, "email", created_at=CREATED))


def test_chat_type_without_labels_falls_back_to_sentences() -> None:
    segs = split_document("My card was charged twice. Please help.", "support-ticket", created_at=CREATED)
    assert [(s.id, s.text) for s in segs] == [("s1", "My card was charged twice."), ("s2", "Please help.")]


# ------------------------------------------------------------------------------------------------ structured


def test_structured_messages() -> None:
    doc = {
        "messages": [
            {"id": "D1:1", "speaker": "Caroline", "content": "Look at this!", "caption": "a photo of a sunset"},
            {"id": "D1:2", "speaker": "Melanie", "text": "Gorgeous.", "timestamp": "1:56 pm on 8 May, 2023"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}], "timestamp": CREATED},
            {"role": "assistant", "content": "Hi! How can I help?", "timestamp": 1683554160},
            {"speaker": "Bob", "content": ""},
        ]
    }
    segs = split_document(doc, "ai-chat-conversation", created_at=CREATED)
    assert [s.id for s in segs] == ["D1:1", "D1:2", "t3", "t4"]
    assert segs[0].text == "Look at this! [shares a photo of a sunset]"
    assert segs[0].extra == {"caption": "a photo of a sunset"}
    assert segs[1].timestamp == datetime(2023, 5, 8, 13, 56)
    assert (segs[2].role, segs[2].speaker, segs[2].text, segs[2].timestamp) == ("user", None, "hello", CREATED)
    assert segs[3].role == "assistant"
    assert segs[3].timestamp == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def test_bare_list_duplicate_ids_and_strings() -> None:
    segs = split_document(
        [{"id": "m1", "content": "a"}, {"id": "m1", "content": "b"}, "Bob: hi", 42, None],
        "human-chat-conversation",
        created_at=CREATED,
    )
    assert [(s.id, s.speaker, s.text) for s in segs] == [("m1", None, "a"), ("m1#2", None, "b"), ("t3", "Bob", "hi")]


# ------------------------------------------------------------------------------------------------ prose


def test_prose_headings_bullets_and_wrapped_lines() -> None:
    doc = (
        "# Refund policy\nOur refund window is 30 days.\nRefunds take 5 days.\n\n"
        "- Item one is here\n- Item two\n  wraps onto a second line.\n\n"
        "This paragraph was\nwrapped by the mail client. It has two sentences."
    )
    assert texts(doc) == [
        "Refund policy",
        "Our refund window is 30 days.",
        "Refunds take 5 days.",
        "Item one is here",
        "Item two wraps onto a second line.",
        "This paragraph was wrapped by the mail client.",
        "It has two sentences.",
    ]
    assert [s.id for s in split_document(doc, "document", created_at=CREATED)][:3] == ["s1", "s2", "s3"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("I\u2019m \u201chappy\u201d", 'I\'m "happy"', id="quotes"),
        pytest.param("ﬁne\u00a0day", "fine day", id="nfkc-ligature-nbsp"),
        pytest.param("  a \t  b  \r\n c\x00d ", "a b\nc d", id="whitespace-controls"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("document", ["", "   \n\n ", {}, [], {"messages": []}, None])
def test_empty_documents(document: Any) -> None:
    assert split_document(document, "document", created_at=CREATED) == []


# ------------------------------------------------------------------------------------------------ properties

_speaker_lines = st.lists(
    st.tuples(st.sampled_from(["User", "Assistant", "Caroline", "Bob", "AI", "note"]), st.text(max_size=80)),
    max_size=8,
).map(lambda turns: "\n".join(f"{who}: {what}" for who, what in turns))
_messages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.text(max_size=4), st.integers(0, 3)),
            "speaker": st.text(max_size=10),
            "role": st.sampled_from(["user", "assistant", "system", "x"]),
            "content": st.one_of(st.text(max_size=80), st.lists(st.text(max_size=10), max_size=3)),
            "timestamp": st.one_of(st.text(max_size=20), st.integers(-(10**12), 10**12)),
            "caption": st.text(max_size=20),
        },
    ),
    max_size=6,
)
_documents = st.one_of(st.text(max_size=400), _speaker_lines, _messages, _messages.map(lambda m: {"messages": m}))
_types = st.sampled_from(["document", "email", "note", "ai-chat-conversation", "human-chat-conversation", "pdf"])


@settings(max_examples=300, deadline=None)
@given(document=_documents, document_type=_types)
def test_split_and_extract_never_raise_and_ids_are_unique(document: Any, document_type: str) -> None:
    segments = split_document(document, document_type, created_at=CREATED)
    ids = [s.id for s in segments]
    assert len(ids) == len(set(ids))
    assert all(s.text.strip() for s in segments)
    drafts = RulesExtractor(strict=True).extract(DocumentInput("d", document_type, segments, CREATED))
    for draft in drafts:
        assert draft.content.strip()
        assert set(draft.source_evidence) <= set(ids)
        assert 0.0 <= draft.confidence <= 1.0
        assert draft.memory_type != "temporal_event" or draft.event_date is not None
