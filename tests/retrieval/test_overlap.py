"""What a write said is spent once (tenantry.retrieval.overlap): units and the typed memories extracted from them,
repeated passages, and neighbouring passages joined into one item. Pure functions over ranked records."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from tenantry.retrieval.engine import Ranked
from tenantry.retrieval.overlap import join_adjacent
from tenantry.retrieval.overlap import units_and_typed
from tenantry.retrieval.scoring import Candidate
from tenantry.scope import Scope
from tenantry.scope import ScopeLevel
from tenantry.store.base import MemoryRecord

SCOPE = Scope("inst_0000000000000000", ScopeLevel.CUSTOMER, "acme")


def item(n: int, content: str, evidence: list[str], *, doc: str = "d1", **meta: Any) -> Ranked:
    record = MemoryRecord(
        rowid=n,
        memory_id=f"m{n}",
        scope=SCOPE,
        memory_type="fact" if meta.get("kind") != "turn" else "episode",
        content=content,
        confidence=0.8,
        category=None,
        event_date=None,
        valid_until=None,
        temporal_category=None,
        source_evidence=evidence,
        entities=[],
        subject=None,
        attribute=None,
        metadata=meta,
        document_id=doc,
        conversation_id=None,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        updated_at=None,
        superseded_by=None,
    )
    return Ranked(record, Candidate(n, score=1.0 / n))


def ids(ranked: list[Ranked]) -> list[str]:
    return [r.record.memory_id for r in ranked]


TURN = "Ana said on 7 May 2023: I'm vegetarian and I live in Lyon."


def test_typed_memories_stand_in_for_the_turn_they_restate() -> None:
    ranked = [
        item(1, TURN, ["t1"], kind="turn"),
        item(2, "Something else entirely about bikes.", ["t5"], kind="turn"),
        item(3, "Ana is vegetarian.", ["t1"]),
        item(4, "Ana lives in Lyon.", ["t1"]),
    ]
    assert ids(units_and_typed(ranked)) == ["m3", "m4", "m2"]


def test_a_turn_stays_when_its_typed_memories_say_less() -> None:
    turn = "Ana said on 7 May 2023: I'm vegetarian, I live in Lyon and I work nights at the hospital as a nurse."
    ranked = [item(1, turn, ["t1"], kind="turn"), item(3, "Ana lives in Lyon.", ["t1"])]
    assert ids(units_and_typed(ranked)) == ["m1"]  # the fact says a third of it; covered by the turn, dropped


def test_a_turn_cited_by_a_better_ranked_typed_memory_is_dropped() -> None:
    ranked = [item(3, "Ana lives in Lyon.", ["t1"]), item(1, TURN, ["t1"], kind="turn")]
    assert ids(units_and_typed(ranked)) == ["m3"]


PASSAGE = (
    "Refunds are accepted within 30 days of purchase. After 30 days we offer store credit only. "
    "Refunds above 500 euros need a team lead's approval."
)


def test_a_passage_says_more_than_one_typed_fact_of_it() -> None:
    fact = item(3, "Refunds above 500 euros need a team lead's approval.", ["d1@0-150"])
    passage = item(1, PASSAGE, ["d1@0-150"], kind="passage", unit=0)
    other = item(2, "Shipping is free above 50 euros.", ["d1@151-190"], kind="passage", unit=1)
    # the fact's rank brings its passage, which holds it with what surrounds it; the fact is not spent again
    assert ids(units_and_typed([fact, other, passage])) == ["m1", "m2"]
    assert ids(units_and_typed([passage, other, fact])) == ["m1", "m2"]
    # without its passage among the candidates the fact is returned
    assert ids(units_and_typed([fact, other])) == ["m3", "m2"]


def test_a_passage_restated_by_its_typed_memory_is_returned_once() -> None:
    ranked = [
        item(3, "User prefers dark mode and concise responses.", ["d1@0-44"]),
        item(1, "User prefers dark mode and concise responses", ["d1@0-44"], kind="passage", unit=0),
    ]
    assert ids(units_and_typed(ranked)) == ["m3"]


def test_a_passage_repeating_a_better_ranked_one_is_dropped() -> None:
    ranked = [
        item(1, PASSAGE, ["a@0-150"], doc="a", kind="passage", unit=0),
        item(2, PASSAGE.replace("Refunds are", "Returns are"), ["b@0-150"], doc="b", kind="passage", unit=0),
        item(3, "Shipping is free above 50 euros.", ["b@151-190"], doc="b", kind="passage", unit=1),
    ]
    assert ids(units_and_typed(ranked)) == ["m1", "m3"]


def test_a_passage_mostly_said_by_the_items_above_it_is_dropped() -> None:
    """Pages reword each other: a passage whose content words the better-ranked items hold between them (9 of its 12
    here, at least ``SAID``) gives its slot to the next one, though no single passage above holds ``SAME_TEXT`` of
    it."""
    reworded = "Refunds: within 30 days; free shipping above 50 euros; delivery in two working days."
    ranked = [
        item(1, PASSAGE, ["a@0-150"], doc="a", kind="passage", unit=0),
        item(2, "Shipping is free above 50 euros for members.", ["b@0-40"], doc="b", kind="passage", unit=0),
        item(3, reworded, ["c@0-90"], doc="c", kind="passage", unit=0),
        item(4, "Gift cards are never refunded.", ["c@91-130"], doc="c", kind="passage", unit=1),
    ]
    assert ids(units_and_typed(ranked)) == ["m1", "m2", "m4"]
    # with what it adds said nowhere above it, it stays (neither of the two above holds 90 % of it)
    assert ids(units_and_typed([ranked[0], ranked[2], ranked[3]])) == ["m1", "m3", "m4"]


def test_the_walk_stops_at_the_limit_and_nests() -> None:
    ranked = [item(n, f"Fact number {n} about topic {n}.", [f"e{n}"]) for n in range(1, 9)]
    assert ids(units_and_typed(ranked, 3)) == ids(units_and_typed(ranked))[:3]


def section(n: int, unit: int, text: str, headings: tuple[str, ...] = ("Refunds",), doc: str = "d1") -> Ranked:
    start = unit * 100
    return item(
        n,
        text,
        [f"{doc}@{start}-{start + 50}"],
        doc=doc,
        kind="passage",
        unit=unit,
        headings=list(headings),
        span=[start, start + 50],
    )


def test_neighbouring_passages_of_a_section_are_one_item_in_document_order() -> None:
    ranked = [
        section(1, 5, "Five."),
        section(2, 9, "Nine."),
        section(3, 4, "Four."),
        section(4, 6, "Six."),
        section(5, 7, "Seven."),
        section(6, 6, "Six elsewhere.", doc="d2"),
        section(7, 1, "One."),
    ]
    out = join_adjacent(ranked, 4)
    # 4 joins 5 (at most two: MAX_JOINED); 6 then is an item of its own, which 7 joins; 6 of another document stays
    assert ids(out) == ["m1", "m2", "m4", "m6"]
    first = out[0].record
    assert first.content == "Four.\nFive."
    assert first.metadata["span"] == [400, 550] and first.metadata["joined"] == ["m3"]
    assert first.source_evidence == ["d1@400-450", "d1@500-550"]
    assert out[2].record.content == "Six.\nSeven."
    assert out[0].candidate.score == ranked[0].candidate.score
    # passages of another document, or not next to each other, are never joined
    other = join_adjacent([section(1, 5, "Five."), section(2, 6, "Six.", doc="d2")], 5)
    apart = join_adjacent([section(1, 5, "Five."), section(2, 7, "Seven.")], 5)
    assert len(other) == len(apart) == 2


LEAD = "\n\n## Shipping\n### Abroad\n\n"


def test_a_join_across_headings_holds_the_heading_lines_between_them() -> None:
    """The next passage starts a new section: the excerpt has its headings where the document has them (those it does
    not share with the passage before), whichever of the two ranked first."""
    refunds = section(2, 5, "Refunds within 30 days.", headings=("Policy", "Refunds"))
    abroad = section(1, 6, "Abroad it costs 9 euros.", headings=("Policy", "Shipping", "Abroad"))
    abroad.record.metadata["lead"] = LEAD
    for ranked in ([refunds, abroad], [abroad, refunds]):
        (joined,) = join_adjacent(ranked, 5)
        assert joined.record.memory_id == ranked[0].record.memory_id
        # the text between them as the document has it (``lead``, kept with the passage at ingestion)
        assert joined.record.content == "Refunds within 30 days.\n\n## Shipping\n### Abroad\n\nAbroad it costs 9 euros."
        # a passage stored without it: a line for each heading it does not share with the one before
        del abroad.record.metadata["lead"]
        (joined,) = join_adjacent(ranked, 5)
        assert joined.record.content == "Refunds within 30 days.\nShipping\nAbroad\nAbroad it costs 9 euros."
        abroad.record.metadata["lead"] = LEAD


def test_joined_items_do_not_depend_on_how_many_are_asked_for() -> None:
    """Rankings nest: the first item of a fetch for 1 is the first item of a fetch for 10, its neighbour passage
    ranked 3rd joined to it in both (a fetch for 1 used to return the passage alone)."""
    ranked = [section(1, 5, "Five."), section(2, 9, "Nine."), section(3, 6, "Six."), section(4, 2, "Two.")]
    one, three, ten = join_adjacent(ranked, 1), join_adjacent(ranked, 3), join_adjacent(ranked, 10)
    assert ids(one) == ["m1"] and one[0].record.content == "Five.\nSix."
    assert ids(three) == ids(ten) == ["m1", "m2", "m4"]
    assert [r.record.content for r in three] == [r.record.content for r in ten][:3]
