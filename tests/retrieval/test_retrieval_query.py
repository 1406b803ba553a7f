from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from tenantry.retrieval.features import Features
from tenantry.retrieval.features import parse_components
from tenantry.retrieval.query import plan_query
from tenantry.retrieval.query import subqueries


def test_names_and_when() -> None:
    p = plan_query("When did Caroline go to the LGBTQ support group?")
    assert p.names == ["caroline"]
    assert p.asks_when
    assert "When" not in p.lexical_text and "Caroline" in p.lexical_text
    q = plan_query("What did Melanie's kids paint?")
    assert q.names == ["melanie"] and not q.asks_when


def test_named_period() -> None:
    p = plan_query("What did Jon do in May 2023?", now=datetime(2024, 1, 1, tzinfo=UTC))
    assert p.period is not None
    lo, hi = p.period
    assert lo <= datetime(2023, 5, 17, tzinfo=UTC) <= hi
    assert not lo <= datetime(2023, 6, 2, tzinfo=UTC) <= hi
    assert "May" in p.lexical_text  # the month stays; the modal "may" goes
    assert "may" not in plan_query("What may Jon like?").lexical_text.split()


def test_subqueries_split_on_two_names() -> None:
    assert subqueries("Which city have both Jon and Gina visited?") == [
        "Which city have Jon visited?",
        "Which city have Gina visited?",
    ]
    assert subqueries("What does Jon like?") == []


def test_features_from_a_component_list() -> None:
    f = Features(parse_components("speaker, neighbours"))
    assert not f.on("speaker") and not f.on("neighbours") and f.on("temporal")
    assert Features().on("speaker")
    with pytest.raises(ValueError, match="unknown component"):
        parse_components("speaker,bogus")
