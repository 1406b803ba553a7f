"""In-memory BM25 over the SQLite store's cached scope partitions: tenant-local lexical search.

SQLite FTS5's ``bm25()`` takes its statistics (row count, average length, document frequencies) from the whole
table, so every tenant's data shifts every other tenant's scores (a statistical side channel: scores are returned)
and a query reads each term's posting list across all tenants (its cost grows with the database, not with the
caller's data). Here each cached partition (one scope's live memories) carries a small inverted index, and a search
takes its statistics from the partitions of the caller's read chain only: what the caller may read decides its
scores, nothing else does.

Tokens follow FTS5's ``porter unicode61 remove_diacritics 2`` tokenizer (letters and digits, case-folded, accents
removed, Porter-stemmed with Snowball's ``porter`` algorithm from PyStemmer) and are read from the FTS5 rows, so the
indexed text is the same. The formula is Okapi BM25 with k1 = 1.2 and b = 0.75 (FTS5's) and Lucene's idf,
ln(1 + (N - n + 0.5) / (n + 0.5)), which stays positive: with statistics from one user's data, the names of the
people of a conversation appear in about half of its memories, where FTS5's ln((N - n + 0.5) / (n + 0.5)) falls to
its 1e-6 floor and drops them (LoCoMo dev fast R@10: 0.820 with FTS5's idf, 0.825 with Lucene's, against 0.827 with
FTS5's global statistics). A query term counts once per occurrence in the query, as in FTS5.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import Stemmer

__all__ = ["LexicalIndex", "Vocabulary", "best_first", "bm25_hits"]

K1 = 1.2
B = 0.75
_WORD = re.compile(r"[^\W_]+")


@dataclass(slots=True)
class LexicalIndex:
    """One partition's postings: one entry per (distinct term, document), sorted by term then document."""

    terms: np.ndarray  # int32 term id of each entry (ascending)
    docs: np.ndarray  # int32 document index (row of the partition) of each entry
    tfs: np.ndarray  # float32 term frequency of each entry
    lengths: np.ndarray  # float32 token count of each document
    total_length: float  # sum of ``lengths``
    vocabulary: Vocabulary  # the one that numbered ``terms``

    @property
    def nbytes(self) -> int:
        return int(self.terms.nbytes + self.docs.nbytes + self.tfs.nbytes + self.lengths.nbytes)

    def postings(self, uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry indexes, slot in ``uniq``) of the entries of the term ids ``uniq`` (-1: a term not indexed)."""
        lo = np.searchsorted(self.terms, uniq, "left")
        hi = np.searchsorted(self.terms, uniq, "right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        slots = np.repeat(np.arange(len(uniq)), counts)
        # entry index = lo of its term + its rank inside the term's run
        starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        return starts + np.arange(total), slots


class Vocabulary:
    """Token → term id (the stem's id), shared by the partitions of one cache; thread-safe. It only grows: the cache
    replaces it with a fresh one (and re-indexes its partitions as they are read) once it holds ``max_tokens``."""

    def __init__(self, max_tokens: int = 2_000_000) -> None:
        self.max_tokens = max_tokens
        self._stem_ids: dict[str, int] = {}
        self._token_ids: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stemmer = Stemmer.Stemmer("porter")

    def stem(self, token: str) -> str:
        """The Porter stem of one token; like FTS5's porter tokenizer, tokens of fewer than 3 or more than 64
        characters are left as they are."""
        return str(self._stemmer.stemWord(token)) if 3 <= len(token) <= 64 else token

    def _new(self, token: str) -> int:
        with self._lock:
            found = self._token_ids.get(token)
            if found is not None:
                return found
            stem = self.stem(token)
            tid = self._stem_ids.setdefault(stem, len(self._stem_ids))
            self._token_ids[token] = tid
            return tid

    @property
    def full(self) -> bool:
        return len(self._token_ids) >= self.max_tokens

    def stem_id(self, stem: str) -> int:
        """The term id of a stem; -1 when no document of this vocabulary has it."""
        return self._stem_ids.get(stem, -1)

    @staticmethod
    def tokens(text: str) -> list[str]:
        """The case-folded, accent-free words of ``text`` (FTS5 ``unicode61 remove_diacritics 2``)."""
        text = text.lower()
        if not text.isascii():
            text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return _WORD.findall(text)

    def ids(self, text: str) -> list[int]:
        """The term id of every token of ``text``, in order (new tokens get new ids)."""
        get = self._token_ids.get
        out: list[int] = []
        for tok in self.tokens(text):
            tid = get(tok)
            out.append(tid if tid is not None else self._new(tok))
        return out

    def query_stems(self, terms: Sequence[str]) -> list[str]:
        """The stems of query words, one per token (a stem twice counts twice, as in FTS5)."""
        return [self.stem(tok) for term in terms for tok in self.tokens(term)]

    def index(self, contents: Sequence[str]) -> LexicalIndex:
        """The postings of ``contents`` (one partition's documents, in order)."""
        terms: list[int] = []
        docs: list[int] = []
        tfs: list[int] = []
        lengths = np.empty(len(contents), dtype=np.float32)
        for i, text in enumerate(contents):
            ids = self.ids(text)
            lengths[i] = len(ids)
            counts: dict[int, int] = {}
            for t in ids:
                counts[t] = counts.get(t, 0) + 1
            terms.extend(counts)
            tfs.extend(counts.values())
            docs.extend([i] * len(counts))
        term_arr = np.array(terms, dtype=np.int32)
        order = np.argsort(term_arr, kind="stable")  # by term, documents ascending within a term
        return LexicalIndex(
            terms=term_arr[order],
            docs=np.array(docs, dtype=np.int32)[order],
            tfs=np.array(tfs, dtype=np.float32)[order],
            lengths=lengths,
            total_length=float(lengths.sum()),
            vocabulary=self,
        )


def bm25_hits(
    parts: Sequence[tuple[np.ndarray, LexicalIndex, np.ndarray | None]],
    stems: Sequence[str],
    limit: int,
) -> list[tuple[int, float]]:
    """(rowid, BM25 score) best first over ``parts`` — (rowids, index, eligible mask or ``None`` for all) per
    partition of the read chain — for the query ``stems``. Statistics come from every document of the parts; only
    eligible ones are returned. Terms are matched by stem, so parts indexed by different vocabularies mix safely."""
    if not stems or limit <= 0:
        return []
    counts: dict[str, int] = {}
    for st in stems:
        counts[st] = counts.get(st, 0) + 1
    uniq_stems = list(counts)
    weight = np.array(list(counts.values()), dtype=np.float64)
    n_docs = sum(len(rowids) for rowids, _, _ in parts)
    if n_docs == 0:
        return []
    avgdl = sum(index.total_length for _, index, _ in parts) / n_docs
    matched: list[tuple[np.ndarray, LexicalIndex, np.ndarray | None, np.ndarray, np.ndarray]] = []
    df = np.zeros(len(uniq_stems), dtype=np.float64)
    ids_by_vocabulary: dict[int, np.ndarray] = {}
    for rowids, index, eligible in parts:
        voc = index.vocabulary
        uniq = ids_by_vocabulary.get(id(voc))
        if uniq is None:
            uniq = ids_by_vocabulary[id(voc)] = np.array([voc.stem_id(st) for st in uniq_stems], dtype=np.int64)
        sel, slot = index.postings(uniq)
        if not len(sel):
            continue
        df += np.bincount(slot, minlength=len(uniq_stems))
        matched.append((rowids, index, eligible, sel, slot))
    if not matched:
        return []
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    qw = idf * weight
    ids: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for rowids, index, eligible, sel, slot in matched:
        docs = index.docs[sel]
        tf = index.tfs[sel]
        norm = K1 * (1.0 - B + B * index.lengths[docs] / avgdl)
        part_scores = np.bincount(docs, weights=qw[slot] * tf * (K1 + 1.0) / (tf + norm), minlength=len(rowids))
        keep = part_scores > 0
        if eligible is not None:
            keep &= eligible
        hit = np.flatnonzero(keep)
        ids.append(rowids[hit])
        scores.append(part_scores[hit])
    return best_first(ids, scores, limit)


def best_first(ids: list[np.ndarray], scores: list[np.ndarray], limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best (rowid, score) of per-partition arrays, best first; equal scores in rowid order, also at
    the cut (of the hits tied with the last one kept, the lowest rowids are kept)."""
    if not ids:
        return []
    all_ids = np.concatenate(ids)
    all_scores = np.concatenate(scores)
    if len(all_ids) > limit:
        cut = -np.partition(-all_scores, limit - 1)[limit - 1]  # the limit-th best score
        above = np.flatnonzero(all_scores > cut)
        tied = np.flatnonzero(all_scores == cut)
        top = np.concatenate([above, tied[np.argsort(all_ids[tied], kind="stable")][: limit - len(above)]])
    else:
        top = np.arange(len(all_ids))
    top = top[np.lexsort((all_ids[top], -all_scores[top]))]
    return list(zip(all_ids[top].tolist(), all_scores[top].tolist(), strict=True))
