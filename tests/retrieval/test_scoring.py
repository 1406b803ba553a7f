"""The fusion functions: a candidate keeps, per index, its best raw score and its best rank over all queries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tenantry.retrieval.scoring import Candidate
from tenantry.retrieval.scoring import RankingWeights
from tenantry.retrieval.scoring import fuse
from tenantry.retrieval.scoring import fuse_scores

# Two queries. Row 1 is found by both indexes, row 2 by the lexical index only, row 3 by the vector index only.
LEXICAL = [[(1, 4.0), (2, 8.0)], [(2, 2.0), (1, 6.0)]]
VECTOR = [[(3, 0.9), (1, 0.5)], [(1, 0.7)]]


@pytest.mark.parametrize("fusion", [fuse, fuse_scores], ids=["rrf", "scores"])
def test_best_raw_score_and_rank_per_index(fusion: Callable[..., dict[int, Candidate]]) -> None:
    cands = fusion(LEXICAL, VECTOR, RankingWeights())
    assert sorted(cands) == [1, 2, 3]
    one, two, three = cands[1], cands[2], cands[3]
    assert (one.lexical, one.lexical_rank, one.vector, one.vector_rank) == (6.0, 1, 0.7, 1)
    assert (two.lexical, two.lexical_rank, two.vector, two.vector_rank) == (8.0, 1, 0.0, None)
    assert (three.lexical, three.lexical_rank, three.vector, three.vector_rank) == (0.0, None, 0.9, 1)


def test_rrf_sums_reciprocal_ranks_over_queries_and_indexes() -> None:
    w = RankingWeights(rrf_k=10.0, lexical=1.0, vector=2.0)
    cands = fuse(LEXICAL, VECTOR, w)
    assert cands[1].fused == pytest.approx(1 / 11 + 1 / 12 + 2 / 12 + 2 / 11)
    assert cands[2].fused == pytest.approx(1 / 12 + 1 / 11)
    assert cands[3].fused == pytest.approx(2 / 11)


def test_score_fusion_keeps_the_best_weighted_query() -> None:
    w = RankingWeights(lexical_share=0.5, vector_floor=0.5)
    cands = fuse_scores(LEXICAL, VECTOR, w, query_weights=[1.0, 0.5])
    # query 1: best BM25 8, cosines rescaled from [0.5, 0.9]; query 2: best BM25 6, cosines from [0.5, 0.7].
    assert cands[1].fused == pytest.approx(max(0.5 * 4 / 8 + 0.0, 0.5 * (0.5 * 6 / 6 + 0.5 * 1.0)))
    assert cands[2].fused == pytest.approx(max(0.5 * 8 / 8, 0.5 * (0.5 * 2 / 6)))
    assert cands[3].fused == pytest.approx(0.5 * 1.0)
