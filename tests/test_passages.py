"""Lossless units: structure-aware passages of documents (tenantry.pipeline.passages), what a document's text is
(tenantry.pipeline.units.document_text), and what counts as content-free chatter."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tenantry.pipeline.passages import MAX_TOKENS
from tenantry.pipeline.passages import count_tokens
from tenantry.pipeline.passages import split_passages
from tenantry.pipeline.units import document_text
from tenantry.pipeline.units import is_chatter
from tenantry.pipeline.units import merge_caller_metadata
from tenantry.pipeline.units import passage_units
from tenantry.types import MemoryDraft

PLAYBOOK = """# Support playbook

## Refunds
Refunds are accepted within 30 days of purchase. After 30 days we offer store credit only.

## Shipping
- Gold plan: free express shipping
- Silver plan: standard shipping, 3-5 business days

| Plan | Monthly price |
|---|---|
| Gold | 49 euros |

## Escalation
### Urgent tickets
"""


_MARKUP_ONLY = re.compile(r"[\s#>*`|:\-+=_~]*(?:\d{1,3}[.)])?[\s#>*`|:\-+=_~]*")


def _covered(text: str) -> str:
    """The non-blank characters of ``text`` no passage holds and no heading names (should be none)."""
    passages = split_passages(text)
    mask = [False] * len(text)
    headings = {h for p in passages for h in p.headings}
    for p in passages:
        for i in range(p.start, p.end):
            mask[i] = True
    lost = []
    for m in re.finditer(r"[^\n]+", text):
        if _MARKUP_ONLY.fullmatch(m.group()):
            continue  # "#", "---", "```", "- ": Markdown syntax without text
        line = " ".join(m.group().lstrip("#").split())
        if any(line in h or " ".join(m.group().split()) in h for h in headings):
            continue  # in a heading (a setext heading may span lines)
        lost.extend(ch for i, ch in enumerate(m.group(), m.start()) if not mask[i] and not ch.isspace())
    return "".join(lost)


def test_markdown_sections_lists_and_tables_keep_their_heading_path() -> None:
    passages = split_passages(PLAYBOOK)
    by_text = {p.content.split("\n")[0]: p for p in passages}
    refunds = by_text["Refunds are accepted within 30 days of purchase. After 30 days we offer store credit only."]
    assert refunds.headings == ("Support playbook", "Refunds")
    shipping = next(p for p in passages if "Gold plan" in p.content)
    assert shipping.headings == ("Support playbook", "Shipping")
    assert "| Gold | 49 euros |" in shipping.content  # list and table of one section, verbatim
    for p in passages:
        assert PLAYBOOK[p.start : p.end] == p.content
    # A heading with nothing under it at the end is kept as text.
    assert passages[-1].content == "## Escalation\n### Urgent tickets"


def test_plain_text_headings_nest_when_they_have_no_text_of_their_own() -> None:
    text = (
        "Guide for Facilities\n\n\nKnow Your Rights\n\n\nWhat to do if a complaint is filed\n"
        "The department regulates repair shops. You must register with it.\n\n"
        "The Complaint Process\nA representative will contact you to resolve the complaint."
    )
    first, second = split_passages(text)
    assert first.headings == ("Guide for Facilities", "Know Your Rights", "What to do if a complaint is filed")
    assert second.headings == ("Guide for Facilities", "Know Your Rights", "The Complaint Process")
    assert second.content == "A representative will contact you to resolve the complaint."


@pytest.mark.parametrize(
    "note",
    [
        "User prefers dark mode and concise responses",
        "The user's favourite colour is teal",
        "Dark mode\nConcise answers",
    ],
)
def test_a_short_note_is_one_passage_and_not_a_heading(note: str) -> None:
    (p,) = split_passages(note)
    assert (p.content, p.headings) == (note, ())


def test_passages_are_sized_for_a_prompt_and_cut_at_sentence_boundaries() -> None:
    sentences = [
        f"Rule number {i} says that requests of type {i} go to team {i % 7} within {i} hours." for i in range(60)
    ]
    text = "# Routing\n\n" + " ".join(sentences)
    passages = split_passages(text)
    assert len(passages) > 5
    assert all(count_tokens(p.content) <= MAX_TOKENS for p in passages)
    assert all(p.content.endswith(".") for p in passages)  # never in the middle of a sentence
    assert " ".join(p.content for p in passages) == " ".join(sentences)


def test_a_sentence_longer_than_a_passage_is_cut_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    passages = split_passages(text)
    assert all(count_tokens(p.content) <= MAX_TOKENS for p in passages)
    assert " ".join(p.content for p in passages) == text


_line = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60)
_prefix = st.sampled_from(["", "# ", "## ", "- ", "1. ", "| ", "> ", "```", "    ", "[1]: http://x.example "])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_prefix, _line), max_size=30), st.sampled_from(["\n", "\n\n", "\r\n"]))
def test_nothing_is_dropped(lines: list[tuple[str, str]], sep: str) -> None:
    """Every non-blank character of any Markdown-ish text is in a passage or in a heading."""
    text = sep.join(prefix + line for prefix, line in lines)
    assert _covered(text) == ""
    passages = split_passages(text)
    assert all(text[p.start : p.end] == p.content and p.content.strip() for p in passages)
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:], strict=False))


def test_each_passage_keeps_the_text_that_leads_to_it() -> None:
    """A passage's ``lead`` is the document's text between it and the passage before (white space, a new section's
    heading lines): consecutive passages with it are the document's text, so joined excerpts are verbatim."""
    drafts, _ = passage_units(PLAYBOOK, "kb/playbook.md")
    assert len(drafts) >= 3 and "lead" not in drafts[0].metadata
    rebuilt = drafts[0].content + "".join(d.metadata["lead"] + d.content for d in drafts[1:])
    first, last = drafts[0].metadata["span"][0], drafts[-1].metadata["span"][1]
    assert rebuilt == PLAYBOOK[first:last]
    assert any("## " in d.metadata["lead"] for d in drafts[1:])  # a heading line between two sections


def test_document_text_keeps_every_field_of_a_json_value() -> None:
    assert document_text({"preferred_language": "French", "timezone": "Europe/Paris"}) == (
        "preferred_language: French\ntimezone: Europe/Paris"
    )
    assert document_text({"title": "Refunds", "text": "Within 30 days.", "tags": ["billing", "policy"]}) == (
        "title: Refunds\ntags: billing, policy\n\nWithin 30 days."
    )
    assert document_text({"user": {"name": "Ana", "age": 31}}) == "user.name: Ana\nuser.age: 31"
    assert document_text([1, "two"]) == '[1, "two"]'


def test_passage_units_link_the_typed_segments_to_their_passage() -> None:
    drafts, segments = passage_units(PLAYBOOK, "kb/playbook.md#v2")
    assert all(d.metadata["kind"] == "passage" and d.memory_type == "fact" for d in drafts)
    first = drafts[0]
    start, end = first.metadata["span"]
    assert first.source_evidence == [f"kb/playbook.md#v2@{start}-{end}"]
    assert PLAYBOOK[start:end] == first.content
    assert first.metadata["_lexical_text"].startswith("Support playbook / Refunds\n")
    evidence = {d.source_evidence[0] for d in drafts}
    assert {s.id for s in segments} <= evidence
    texts = [s.text for s in segments]
    assert "Gold plan: free express shipping" in texts  # list marker dropped
    assert "Gold, 49 euros" in texts  # table row read as its cells


def test_caller_metadata_is_merged_but_never_overrides_the_engines_keys() -> None:
    drafts = [MemoryDraft("fact", "x", metadata={"kind": "passage", "rule": "r"})]
    merge_caller_metadata(drafts, {"kind": "note", "source": "slack", "thread": 7})
    assert drafts[0].metadata == {"kind": "passage", "rule": "r", "source": "slack", "thread": 7}


@pytest.mark.parametrize(
    ("text", "chatter"),
    [
        ("Assistant: Noted!", True),
        ("thanks :)", True),
        ("Thanks, Caroline!", True),
        ("Noted, thanks!", True),
        ("Hi there!", True),
        ("ok", True),
        ("Bye!", True),
        ("Yes", False),
        ("Thanks, the refund arrived.", False),
        ("Noted: refunds take 30 days.", False),
        ("I went to a support group yesterday.", False),
    ],
)
def test_chatter(text: str, chatter: bool) -> None:
    assert is_chatter(text) is chatter
