"""The doc2dial document-memory evaluation (protocol: ``shared/data/doc2dial/README.md``), through the public SDK.

1. Each document is written as one ``document`` at CUSTOMER scope (customer = its domain), ``document_id`` =
   ``"d2d-" + sha256(doc_id)[:16]``, text = ``title + "\\n\\n" + text.strip()``; every ingestion completes first.
2. Each query is fetched in its domain with ``customer.context.fetch(customer_id=domain, search_query=[q],
   max_results=k)``, once per k in (1, 5, 10), for two variants: the user turn alone (*turn*) and the previous turn
   and the user turn (*turn+prev*).
3. The returned items (facts, preferences, episodes' summaries, emotions, temporal events) in score order.
4. A query is a hit at k when one item, or two items adjacent in that order, hold at least half of the gold span's
   content words (README step 4). Tokens per query: ``\\w+|[^\\w\\s]`` matches of the items returned at k = 10.

The BM25-over-sentences reference (README step 6: sentences = lines of ``doc_text`` cut after ``.``, ``!``, ``?`` and
a space; one index per domain; k1 = 1.2, b = 0.75, stop words removed) is computed on the same data, scored with the
same hit rule, and printed with the README's other baselines. Also printed: what ingestion kept (memory tokens and
the share of document tokens inside a stored passage or heading), ingestion time, fetch p50/p95.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from ._common import evaluation_sdk
from ._common import percentile
from ._common import progress_bar
from ._common import wait_all

__all__ = [
    "BASELINES",
    "Doc2DialConfig",
    "Doc2DialReport",
    "bm25_sentences",
    "content_words",
    "is_hit",
    "render_doc2dial",
    "run_doc2dial",
    "words",
]

KS = (1, 5, 10)
VARIANTS = ("turn", "turn+prev")
DOMAINS = ("dmv", "ssa", "studentaid", "va")
STOPWORDS = frozenset(
    "i me my myself we our ours ourselves you youre youve youll youd your yours yourself yourselves he him his "
    "himself she shes her hers herself it its itself they them their theirs themselves what which who whom this that "
    "thatll these those am is are was were be been being have has had having do does did doing a an the and but if "
    "or because as until while of at by for with about against between into through during before after above "
    "below to from up down in out on off over under again further then once here there when where why how all any "
    "both each few more most other some such no nor not only own same so than too very s t can will just don dont "
    "should shouldve now d ll m o re ve y ain aren arent couldn couldnt didn didnt doesn doesnt hadn hadnt hasn "
    "hasnt haven havent isn isnt ma mightn mightnt mustn mustnt needn neednt shan shant shouldn shouldnt wasn wasnt "
    "weren werent won wont wouldn wouldnt".split()
)
# The README's figures on dev (R@1, R@5, R@10, tokens per query at 10), per variant.
BASELINES: dict[str, list[tuple[str, float, float, float, int]]] = {
    "turn": [
        ("BM25 sentences (README)", 0.162, 0.316, 0.399, 169),
        ("dense sentences", 0.142, 0.309, 0.411, 153),
        ("RRF sentences", 0.166, 0.341, 0.444, 166),
        ("BM25 tok100 passages", 0.425, 0.687, 0.757, 987),
        ("dense tok100 passages", 0.367, 0.665, 0.751, 1033),
        ("RRF tok100 passages", 0.451, 0.732, 0.804, 1043),
        ("BM25 sections", 0.443, 0.691, 0.779, 1356),
        ("dense sections", 0.371, 0.667, 0.757, 1235),
        ("RRF sections", 0.463, 0.732, 0.818, 1476),
        ("tenantry main 613f8f5 (fast)", 0.104, 0.261, 0.331, 290),
    ],
    "turn+prev": [
        ("BM25 sentences (README)", 0.171, 0.375, 0.486, 223),
        ("RRF sentences", 0.175, 0.405, 0.520, 225),
        ("BM25 tok100 passages", 0.462, 0.793, 0.868, 1057),
        ("RRF tok100 passages", 0.479, 0.818, 0.893, 1061),
        ("BM25 sections", 0.494, 0.805, 0.885, 1640),
        ("RRF sections", 0.504, 0.823, 0.907, 1588),
        ("tenantry main 613f8f5 (fast)", 0.116, 0.293, 0.378, 318),
    ],
}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?]) ")


def words(text: str) -> list[str]:
    """README step 4: lower-cased, apostrophes deleted, runs of other characters than a-z 0-9 made spaces, split."""
    low = text.lower().replace("'", "").replace("\u2019", "")
    return _NON_ALNUM.sub(" ", low).split()


def content_words(text: str) -> set[str]:
    """The words of ``text`` that are not stop words, or all of its words when that leaves none."""
    all_words = set(words(text))
    return (all_words - STOPWORDS) or all_words


def is_hit(gold: set[str], items: Sequence[set[str]], k: int) -> bool:
    """One of the first ``k`` items, or two adjacent ones, hold at least half of ``gold``."""
    need = 0.5 * len(gold)
    first = list(items[:k])
    for i, item in enumerate(first):
        if len(gold & item) >= need:
            return True
        if i + 1 < len(first) and len(gold & (item | first[i + 1])) >= need:
            return True
    return False


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass(slots=True)
class Document:
    doc_id: str
    domain: str
    title: str
    text: str

    @property
    def document_id(self) -> str:
        return "d2d-" + hashlib.sha256(self.doc_id.encode()).hexdigest()[:16]

    @property
    def written(self) -> str:
        return self.title + "\n\n" + self.text.strip()


@dataclass(slots=True)
class Query:
    qid: str
    domain: str
    doc_id: str
    query: str
    prev: str | None
    gold_text: str
    gold_start: int
    gold_end: int

    def text(self, variant: str) -> str:
        return f"{self.prev}\n{self.query}" if variant == "turn+prev" and self.prev else self.query


def load(path: str | Path) -> tuple[list[Document], list[Query]]:
    """``documents.jsonl`` and ``queries.jsonl`` of a split directory."""
    root = Path(path)
    docs = [
        Document(d["doc_id"], d["domain"], d["title"], d["text"])
        for d in map(json.loads, (root / "documents.jsonl").read_text(encoding="utf-8").splitlines())
    ]
    queries = []
    for q in map(json.loads, (root / "queries.jsonl").read_text(encoding="utf-8").splitlines()):
        prev = q.get("prev_turn") or None
        gold = q["gold"]
        queries.append(
            Query(
                q["qid"],
                q["domain"],
                q["doc_id"],
                q["query"],
                prev["text"] if prev else None,
                gold["text"],
                gold["start"],
                gold["end"],
            )
        )
    return docs, queries


@dataclass(slots=True)
class Doc2DialConfig:
    mode: str = "fast"
    embedder: str = "minilm-int8"
    extractor: str = "rules+turns"
    workers: int = 2
    dsn: str | None = None
    max_queries: int | None = None  # first N queries (in file order), for quick runs
    progress: bool = True


@dataclass(slots=True)
class Scores:
    """Hits per k and tokens at the largest k, per domain."""

    hits: dict[str, Counter[int]] = field(default_factory=dict)
    queries: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    passage_hits: dict[str, Counter[int]] = field(default_factory=dict)

    def add(self, domain: str, hits: dict[int, bool], tokens: int, passage_hits: dict[int, bool] | None = None) -> None:
        self.queries[domain] += 1
        self.tokens[domain] += tokens
        for k, hit in hits.items():
            self.hits.setdefault(domain, Counter())[k] += int(hit)
        for k, hit in (passage_hits or {}).items():
            self.passage_hits.setdefault(domain, Counter())[k] += int(hit)

    def recall(self, k: int, domain: str | None = None, *, passage: bool = False) -> float:
        table = self.passage_hits if passage else self.hits
        domains = [domain] if domain else list(self.queries)
        n = sum(self.queries[d] for d in domains)
        return sum(table.get(d, Counter())[k] for d in domains) / n if n else 0.0

    def tokens_per_query(self) -> float:
        n = sum(self.queries.values())
        return sum(self.tokens.values()) / n if n else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"R@{k}": round(self.recall(k), 4) for k in KS}
        out["tokens_per_query"] = round(self.tokens_per_query(), 1)
        out["per_domain_R@10"] = {d: round(self.recall(10, d), 4) for d in sorted(self.queries)}
        if self.passage_hits:
            out["passage"] = {f"R@{k}": round(self.recall(k, passage=True), 4) for k in KS}
        return out


@dataclass(slots=True)
class Doc2DialReport:
    config: Doc2DialConfig
    documents: int
    queries: int
    ingest_seconds: float
    memories: int
    memory_tokens: int
    document_tokens: int
    covered_tokens: int
    ceiling: float  # share of gold spans whose content words are half in their own document's memories
    system: dict[str, Scores]
    reference: dict[str, Scores]
    fetch_ms: list[float]

    def to_json(self) -> dict[str, Any]:
        lat = sorted(self.fetch_ms)
        return {
            "mode": self.config.mode,
            "documents": self.documents,
            "queries": self.queries,
            "ingest_seconds": round(self.ingest_seconds, 2),
            "memories": self.memories,
            "memory_tokens": self.memory_tokens,
            "document_tokens": self.document_tokens,
            "memory_tokens_share": round(self.memory_tokens / max(1, self.document_tokens), 4),
            "document_tokens_kept": round(self.covered_tokens / max(1, self.document_tokens), 4),
            "gold_ceiling": round(self.ceiling, 4),
            "fetch_ms_k10": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2)},
            "system": {v: s.to_json() for v, s in self.system.items()},
            "bm25_sentences": {v: s.to_json() for v, s in self.reference.items()},
        }


# -- the BM25-over-sentences reference ------------------------------------------------------------------------------
def sentences(text: str) -> list[tuple[int, int]]:
    """README step 6 *sent*: lines of ``doc_text``, then cut after ``.``, ``!``, ``?`` and a space (spans)."""
    out: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        start = pos
        for m in _SENTENCE_END.finditer(line):
            piece = line[start - pos : m.start()]
            if piece.strip():
                out.append((start, pos + m.start()))
            start = pos + m.end()
        if line[start - pos :].strip():
            out.append((start, pos + len(line)))
        pos += len(line) + 1
    return out


class _BM25:
    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(d) for d in docs]
        self.len = [len(d) for d in docs]
        self.avg = sum(self.len) / max(1, len(docs))
        df: Counter[str] = Counter()
        for t in self.tf:
            df.update(t.keys())
        n = len(docs)
        self.idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.postings: dict[str, list[int]] = {}
        for i, t in enumerate(self.tf):
            for w in t:
                self.postings.setdefault(w, []).append(i)

    def top(self, query: list[str], k: int) -> list[int]:
        scores: dict[int, float] = {}
        for w in set(query):
            idf = self.idf.get(w)
            if idf is None:
                continue
            for i in self.postings[w]:
                f = self.tf[i][w]
                norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
                scores[i] = scores.get(i, 0.0) + idf * f * (self.k1 + 1) / (f + norm)
        return [i for i, _ in sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]]


def _terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def bm25_sentences(docs: list[Document], queries: list[Query], variant: str) -> Scores:
    """The README's BM25-over-sentences baseline on ``docs`` and ``queries`` (one index per domain)."""
    scores = Scores()
    units: dict[str, list[tuple[str, int, int, str]]] = {}
    for d in docs:
        for start, end in sentences(d.text):
            units.setdefault(d.domain, []).append((d.doc_id, start, end, d.text[start:end]))
    index = {dom: _BM25([_terms(u[3]) for u in us]) for dom, us in units.items()}
    for q in queries:
        found = units.get(q.domain, [])
        top = index[q.domain].top(_terms(q.text(variant)), max(KS)) if found else []
        items = [found[i] for i in top]
        gold = content_words(q.gold_text)
        item_words = [set(words(u[3])) for u in items]
        hits = {k: is_hit(gold, item_words, k) for k in KS}
        classic = {
            k: any(u[0] == q.doc_id and u[1] < q.gold_end and u[2] > q.gold_start for u in items[:k]) for k in KS
        }
        scores.add(q.domain, hits, sum(count_tokens(u[3]) for u in items[: max(KS)]), classic)
    return scores


# -- the system -----------------------------------------------------------------------------------------------------
def _item_text(item: Any) -> str:
    for name in ("content", "summary", "context"):
        value = getattr(item, name, None)
        if isinstance(value, str):
            return value
    return ""


async def _ingest(sdk: Any, docs: list[Document], cfg: Doc2DialConfig) -> float:
    t0 = time.perf_counter()
    jobs = []
    for d in docs:
        res = await sdk.memories.create(
            document=d.written, document_type="document", customer_id=d.domain, document_id=d.document_id
        )
        jobs.append(res.ingestion_id)
    await wait_all(sdk, jobs, "ingesting documents", progress=cfg.progress, poll=0.05)
    return time.perf_counter() - t0


async def _kept(sdk: Any, docs: list[Document], queries: list[Query]) -> tuple[int, int, int, float]:
    """(memories, their tokens, document tokens inside a stored passage or heading, gold ceiling)."""
    by_doc: dict[str, list[Any]] = {}
    count = 0
    tokens = 0
    for domain in sorted({d.domain for d in docs}):
        page = 1
        while True:
            res = await sdk.memories.list(customer_id=domain, page=page, page_size=100)
            for m in res.data:
                count += 1
                tokens += count_tokens(m.content)
                by_doc.setdefault(m.source_document_id or "", []).append(m)
            if page >= res.total_pages:
                break
            page += 1
    # A passage's evidence names its document and span ("<document_id>@<start>-<end>"); the same passage in two
    # documents is one memory citing both.
    spans: dict[str, list[tuple[int, int, list[str]]]] = {}
    also: dict[str, list[Any]] = {}
    for mems in by_doc.values():
        for m in mems:
            if "span" not in m.metadata:  # a passage, or a typed memory that restated one word for word
                continue
            for ev in m.source_evidence:
                doc_id, _, span = ev.rpartition("@")
                start, _, end = span.partition("-")
                if start.isdigit() and end.isdigit():
                    spans.setdefault(doc_id, []).append((int(start), int(end), m.metadata.get("headings") or []))
                    if m.source_document_id != doc_id:
                        also.setdefault(doc_id, []).append(m)
    for doc_id, extra in also.items():
        by_doc.setdefault(doc_id, []).extend(extra)
    covered = 0
    doc_words: dict[str, set[str]] = {}
    for d in docs:
        text = d.written
        mems = by_doc.get(d.document_id, [])
        doc_words[d.doc_id] = {w for m in mems for w in words(m.content)}
        mask = bytearray(len(text))
        headings: set[str] = set()
        for start, end, path in spans.get(d.document_id, []):
            mask[start:end] = b"\x01" * (end - start)
            headings.update(path)
        line_of = _line_texts(text)
        for tok in _TOKEN.finditer(text):
            if mask[tok.start()] or " ".join(line_of(tok.start()).split()) in headings:
                covered += 1
    reachable = sum(
        1
        for q in queries
        if len(content_words(q.gold_text) & doc_words.get(q.doc_id, set())) >= 0.5 * len(content_words(q.gold_text))
    )
    return count, tokens, covered, reachable / max(1, len(queries))


def _line_texts(text: str) -> Any:
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(pos: int) -> str:
        import bisect

        i = bisect.bisect_right(starts, pos) - 1
        end = text.find("\n", starts[i])
        return text[starts[i] : end if end >= 0 else len(text)]

    return line


async def _ask(sdk: Any, queries: list[Query], variant: str, cfg: Doc2DialConfig, fetch_ms: list[float]) -> Scores:
    scores = Scores()
    bar = progress_bar(len(queries), f"asking ({variant})", cfg.progress, unit="q")
    try:
        for q in queries:
            gold = content_words(q.gold_text)
            hits: dict[int, bool] = {}
            tokens = 0
            for k in KS:
                t0 = time.perf_counter()
                resp = await sdk.customer.context.fetch(
                    customer_id=q.domain, search_query=[q.text(variant)], max_results=k, mode=cfg.mode
                )
                texts = [_item_text(i) for i in resp.items()]
                if k == max(KS):
                    fetch_ms.append((time.perf_counter() - t0) * 1000)
                    tokens = sum(count_tokens(t) for t in texts)
                hits[k] = is_hit(gold, [set(words(t)) for t in texts], k)
            scores.add(q.domain, hits, tokens)
            bar.update(1)
    finally:
        bar.close()
    return scores


async def run_doc2dial(path: str | Path, cfg: Doc2DialConfig) -> Doc2DialReport:
    """Write the split's documents through the embedded SDK (fresh database), ask every query in both variants."""
    docs, queries = load(path)
    if cfg.max_queries is not None:
        queries = queries[: cfg.max_queries]
    reference = {v: bm25_sentences(docs, queries, v) for v in VARIANTS}
    async with evaluation_sdk(
        "doc2dial-eval", dsn=cfg.dsn, workers=cfg.workers, extractor=cfg.extractor, embedder=cfg.embedder
    ) as sdk:
        ingest_s = await _ingest(sdk, docs, cfg)
        memories, memory_tokens, covered, ceiling = await _kept(sdk, docs, queries)
        fetch_ms: list[float] = []
        system = {v: await _ask(sdk, queries, v, cfg, fetch_ms) for v in VARIANTS}
    return Doc2DialReport(
        config=cfg,
        documents=len(docs),
        queries=len(queries),
        ingest_seconds=ingest_s,
        memories=memories,
        memory_tokens=memory_tokens,
        document_tokens=sum(count_tokens(d.written) for d in docs),
        covered_tokens=covered,
        ceiling=ceiling,
        system=system,
        reference=reference,
        fetch_ms=fetch_ms,
    )


def render_doc2dial(report: Doc2DialReport) -> Any:
    """A rich renderable: per variant, this run's figures beside the BM25 reference and the README's baselines."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    for variant in VARIANTS:
        table = Table(
            title=f"doc2dial dev — query = {variant} ({report.queries} queries, mode={report.config.mode})",
            title_justify="left",
        )
        for col in ("system", "R@1", "R@5", "R@10", "tokens/q @10", *(f"R@10 {d}" for d in DOMAINS)):
            table.add_column(col, justify="left" if col == "system" else "right")
        for name, scores in (
            ("tenantry (this run)", report.system[variant]),
            ("BM25 sentences (same data)", report.reference[variant]),
        ):
            table.add_row(
                name,
                *(f"{scores.recall(k):.3f}" for k in KS),
                f"{scores.tokens_per_query():.0f}",
                *(f"{scores.recall(10, d):.3f}" for d in DOMAINS),
            )
        for name, r1, r5, r10, tok in BASELINES[variant]:
            table.add_row(name, f"{r1:.3f}", f"{r5:.3f}", f"{r10:.3f}", str(tok), *("" for _ in DOMAINS))
        parts.append(table)
    lat = sorted(report.fetch_ms)
    lines = [
        f"ingestion: {report.ingest_seconds:.1f} s for {report.documents} documents "
        f"({report.documents / max(report.ingest_seconds, 1e-9):.1f} documents/s), {report.memories} memories",
        f"kept: {report.memory_tokens:,} memory tokens for {report.document_tokens:,} document tokens "
        f"({report.memory_tokens / max(1, report.document_tokens):.1%}); document tokens inside a stored passage or "
        f"heading: {report.covered_tokens / max(1, report.document_tokens):.1%}; gold spans findable in their own "
        f"document's memories: {report.ceiling:.1%}",
        f"fetch (k=10): p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms",
    ]
    parts.append(Text("\n".join(lines)))
    return Group(*parts)
