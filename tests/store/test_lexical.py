"""The SQLite store's in-memory BM25 (``tenantry.store._lexical``): FTS5's tokens, the BM25 formula, eligibility."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tests.store.helpers import CL
from tests.store.helpers import C
from tests.store.helpers import U
from tests.store.helpers import new_memory
from tests.store.helpers import write

from tenantry.scope import Relationship
from tenantry.scope import user_chain
from tenantry.store._lexical import K1
from tenantry.store._lexical import B
from tenantry.store._lexical import Vocabulary
from tenantry.store._lexical import best_first
from tenantry.store._lexical import bm25_hits
from tenantry.store.base import SearchFilters
from tenantry.store.sqlite import SQLiteStore

WORDS = """hiking hikes hiked hiker running runs ran connection connections connected generously happiness
relational conditional rational valenci digitizer operator sensitiviti hopeful goodness formalize electrical
Café naïve ÉCOLE über résumé x y ab abc cats ponies caresses agreed plastered motoring sing conflated troubling
sized hopping falling filing failing controll roll feudalism decisiveness adjustable defensible irritant
replacement adjustment dependent adoption homologou communism activate angulariti homologous effective bowdlerize
1999 3d mp3 co2""".split()


def fts5_terms(words: list[str]) -> list[list[str]]:
    """The terms SQLite FTS5 (``porter unicode61 remove_diacritics 2``) indexes for each word."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(content, tokenize = 'porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    out = []
    for w in words:
        conn.execute("DELETE FROM t")
        conn.execute("INSERT INTO t VALUES (?)", (w,))
        out.append([r[0] for r in conn.execute("SELECT term FROM v ORDER BY offset")])
    return out


def test_tokens_and_stems_match_fts5() -> None:
    voc = Vocabulary()
    mine = [[voc.stem(t) for t in voc.tokens(w)] for w in WORDS]
    assert mine == fts5_terms(WORDS)


def test_tokens_fold_case_and_accents_and_split_on_punctuation() -> None:
    assert Vocabulary.tokens("Café_au-lait, NAÏVE résumé! x2") == ["cafe", "au", "lait", "naive", "resume", "x2"]
    voc = Vocabulary()
    assert len(set(voc.ids("hiking hikes hiked Hiking"))) == 1
    assert voc.query_stems(["Hikes", "unseen words"]) == ["hike", "unseen", "word"]
    assert voc.stem_id("hike") == voc.ids("hike")[0] and voc.stem_id("unseen") == -1


def oracle(docs: list[list[str]], eligible: list[bool], query: list[str]) -> dict[int, float]:
    """BM25 written out term by term: Lucene's idf, FTS5's k1 and b."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out: dict[int, float] = {}
    for i, d in enumerate(docs):
        score = 0.0
        for q in query:
            tf = d.count(q)
            if not tf:
                continue
            df = sum(1 for other in docs if q in other)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(d) / avgdl))
        if score > 0 and eligible[i]:
            out[i] = score
    return out


VOCAB = ["alpha", "beta", "gamma", "delta", "omega"]


@settings(max_examples=150, deadline=None)
@given(
    docs=st.lists(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8), min_size=1, max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=2),
    query=st.lists(st.sampled_from([*VOCAB, "zeta"]), min_size=1, max_size=4),
    eligible_bits=st.integers(0, 2**12 - 1),
    limit=st.integers(1, 12),
    vocabularies=st.booleans(),
)
def test_bm25_matches_the_formula_across_partitions(
    docs: list[list[str]], cuts: list[int], query: list[str], eligible_bits: int, limit: int, vocabularies: bool
) -> None:
    """Several partitions, optionally each numbered by its own vocabulary (as after the cache replaced a full one),
    score like one corpus."""
    voc = Vocabulary()
    eligible = [bool(eligible_bits >> i & 1) for i in range(len(docs))]
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(docs)), len(docs)]
    parts = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if lo == hi:
            continue
        rowids = np.arange(lo, hi, dtype=np.int64) + 100  # rowid = document number + 100
        part_voc = Vocabulary() if vocabularies else voc
        if vocabularies:
            part_voc.ids("zeta omega")  # another numbering than the shared vocabulary's
        index = part_voc.index([" ".join(d) for d in docs[lo:hi]])
        parts.append((rowids, index, np.array(eligible[lo:hi], dtype=bool)))
    got = bm25_hits(parts, voc.query_stems(query), limit)
    want = oracle(docs, eligible, query)
    assert len(got) == min(limit, len(want))
    for rowid, score in got:
        assert score == pytest.approx(want[rowid - 100], rel=1e-5)
    scores = [s for _, s in got]
    assert scores == sorted(scores, reverse=True)
    if got:  # the best ``limit``: nothing left out scores higher than the last one returned
        kept = {r - 100 for r, _ in got}
        assert all(s <= scores[-1] * (1 + 1e-5) for i, s in want.items() if i not in kept)


def test_no_query_terms_or_no_documents() -> None:
    voc = Vocabulary()
    idx = voc.index(["alpha beta"])
    assert bm25_hits([(np.array([1]), idx, np.array([True]))], [], 10) == []
    assert bm25_hits([], ["alpha"], 10) == []
    assert bm25_hits([(np.array([1]), idx, np.array([False]))], ["alpha"], 10) == []
    hits = bm25_hits([(np.array([1]), idx, None)], ["alpha"], 10)  # None: every document is eligible
    assert [r for r, _ in hits] == [1] and hits[0][1] > 0


async def test_store_search_is_the_same_when_the_vocabulary_is_replaced(tmp_path: Path) -> None:
    """A store whose vocabulary fills up (here: after 5 tokens) keeps indexing with fresh ones; its lexical searches
    return what an unbounded store returns."""
    texts = [
        "alice plays chess on sundays",
        "alice bakes sourdough bread",
        "the chess club meets on sundays at noon",
        "bread and chess",
    ]
    scopes = [U("inst_v", "acme", "alice"), C("inst_v", "acme"), CL("inst_v")]
    chain = user_chain("inst_v", Relationship.B2B, user_id="alice", customer_id="acme")
    results = []
    for cap in (2_000_000, 5):
        store = SQLiteStore(f"sqlite:///{tmp_path / f'v{cap}.db'}", vocabulary_tokens=cap)
        await store.open()
        try:
            # each scope sees the words in another order, so fresh vocabularies number them differently
            batches = [(s, [new_memory(f"{t} {i}") for t in texts[i:] + texts[:i]]) for i, s in enumerate(scopes)]
            await write(store, batches)
            got = []
            for q in ("chess sundays", "bread", "alice chess bread noon", "nothing here"):
                got.append(await store.search_lexical(chain, q, limit=10, filters=SearchFilters()))
            results.append(got)
        finally:
            await store.close()
    assert results[0] == results[1] and any(results[0])


@given(
    st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=45),
    st.integers(min_value=1, max_value=3),
)
def test_best_first_breaks_ties_by_rowid_even_at_the_cut(levels: list[int], limit: int, parts: int) -> None:
    """Few distinct scores, so ties straddle the cut: the result is the first ``limit`` of (score desc, rowid)."""
    rowids = np.array(sorted(set(range(1000, 1000 + 7 * len(levels), 7)), reverse=True), dtype=np.int64)
    scores = np.array(levels, dtype=np.float64)
    ids, vals = np.array_split(rowids, parts), np.array_split(scores, parts)
    expected = sorted(zip(rowids.tolist(), scores.tolist(), strict=True), key=lambda h: (-h[1], h[0]))[:limit]
    assert best_first(list(ids), list(vals), limit) == expected
