"""LoCoMo evidence-recall evaluation, run through the public SDK on a fresh embedded database.

Protocol (the one of the data's README): each conversation goes into its own user scope (b2b instance, customer
``locomo``, user = the sample id); each session is one structured chat document (one message per turn, the turn's
``dia_id`` as message id, its ``blip_caption`` as caption) dated with the session's date; each question is one
``user.context.fetch`` with ``max_results`` = the largest k asked. The items are ranked by score (the order
``ContextResponse.items()`` gives); R@k is computed on the first k. That equals asking with ``max_results=k``
because the engine's candidate pool and ranking do not depend on ``max_results`` (checked by
``tests/retrieval/test_prefix.py``), as long as the token budget is not hit (it is set high enough here).

Evidence recall@k of a question = the fraction of its gold turn ids that are in the ``source_evidence`` of at least
one of the first k items; averaged per category and over categories 1-4 (``ALL 1-4``); category 5 (adversarial) is
reported on its own row. Gold ids are normalised as the data's README says (split ``"D8:6; D9:17"``, read
``"D:11:26"`` as ``D11:26`` and ``"D30:05"`` as ``D30:5``, drop ids naming no turn); questions left with no
evidence are not scored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

from ..pipeline.dates import parse_datetime_loose
from ._common import evaluation_sdk
from ._common import percentile
from ._common import progress_bar
from ._common import wait_all

__all__ = [
    "CATEGORY_NAMES",
    "Conversation",
    "EvalConfig",
    "EvalReport",
    "Question",
    "load_conversations",
    "normalise_evidence",
    "parse_ks",
    "render_report",
    "run_locomo",
]

CATEGORY_NAMES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
ROWS: tuple[str, ...] = ("multi-hop", "temporal", "open-domain", "single-hop", "adversarial", "ALL 1-4")
CUSTOMER = "locomo"
_SESSION = re.compile(r"^session_(\d+)$")
_DIA = re.compile(r"^D:?(\d+):0*(\d+)$")


@dataclass(slots=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None = None


@dataclass(slots=True)
class Session:
    number: int
    date: datetime
    turns: list[Turn]


@dataclass(slots=True)
class Question:
    text: str
    category: int
    evidence: list[str]


@dataclass(slots=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: list[Session]
    questions: list[Question]

    @property
    def turn_ids(self) -> set[str]:
        return {t.dia_id for s in self.sessions for t in s.turns}


def normalise_evidence(raw: Sequence[Any], turn_ids: set[str]) -> list[str]:
    """Gold turn ids, normalised: split joined ids, fix ``D:11:26`` / ``D30:05``, drop ids that name no turn."""
    out: dict[str, None] = {}
    for item in raw:
        for part in re.split(r"[;,\s]+", str(item)):
            m = _DIA.match(part.strip())
            if m is None:
                continue
            dia = f"D{int(m.group(1))}:{int(m.group(2))}"
            if dia in turn_ids:
                out.setdefault(dia, None)
    return list(out)


def _parse_session_date(value: Any) -> datetime:
    parsed = parse_datetime_loose(str(value)) if value else None
    if parsed is None:
        raise ValueError(f"unreadable session date {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _conversation(obj: dict[str, Any], default_id: str) -> Conversation:
    conv = obj.get("conversation", obj)
    sample_id = str(obj.get("sample_id") or default_id)
    sessions: list[Session] = []
    for key, value in conv.items():
        m = _SESSION.match(key)
        if m is None or not isinstance(value, list) or not value:
            continue
        n = int(m.group(1))
        turns = [
            Turn(str(t["dia_id"]), str(t.get("speaker", "")), str(t.get("text", "")), t.get("blip_caption") or None)
            for t in value
            if isinstance(t, dict) and t.get("dia_id")
        ]
        sessions.append(Session(n, _parse_session_date(conv.get(f"session_{n}_date_time")), turns))
    sessions.sort(key=lambda s: s.number)
    ids = {t.dia_id for s in sessions for t in s.turns}
    questions = []
    for qa in obj.get("qa", []):
        ev = normalise_evidence(qa.get("evidence") or [], ids)
        questions.append(Question(str(qa["question"]), int(qa["category"]), ev))
    return Conversation(
        sample_id, (str(conv.get("speaker_a", "")), str(conv.get("speaker_b", ""))), sessions, questions
    )


def load_conversations(paths: Sequence[str | Path]) -> list[Conversation]:
    """Read LoCoMo files: per-conversation objects (``dev/26.json``) or the list format (``locomo10_dev.json``).

    A per-conversation file has no ``sample_id``; it is named after the file (``26.json`` → ``conv-26``).
    """
    out: list[Conversation] = []
    for p in paths:
        path = Path(p)
        data = json.loads(path.read_text())
        stem = path.stem
        default_id = f"conv-{stem}" if stem.isdigit() else stem
        items = data if isinstance(data, list) else [data]
        for i, obj in enumerate(items):
            out.append(_conversation(obj, default_id if len(items) == 1 else f"{default_id}-{i}"))
    return out


@dataclass(slots=True)
class EvalConfig:
    """Options of one evaluation run."""

    ks: tuple[int, ...] = (1, 5, 10, 20)
    mode: str = "fast"
    max_questions: int | None = None  # per conversation, in file order
    conversations: int | None = None  # first N conversations
    sessions: int | None = None  # first N sessions of each conversation (questions outside them are dropped)
    ablate: frozenset[str] = frozenset()
    extractor: str = "rules+turns"
    embedder: str = "minilm-int8"
    dsn: str | None = None  # default: a fresh temporary SQLite file
    workers: int = 2
    progress: bool = True
    token_budget: int = 100_000


@dataclass(slots=True)
class QuestionResult:
    sample_id: str
    category: int
    evidence: list[str]
    found_at: dict[str, int | None]  # gold id -> 1-based rank of the first item citing it
    fetch_ms: float
    tokens: int


@dataclass(slots=True)
class EvalReport:
    config: EvalConfig
    files: list[str]
    conversations: int
    turns: int
    sessions: int
    ingest_seconds: float
    results: list[QuestionResult] = field(default_factory=list)

    def recall(self, q: QuestionResult, k: int) -> float:
        hits = sum(1 for r in q.found_at.values() if r is not None and r <= k)
        return hits / len(q.found_at)

    def table(self) -> dict[str, dict[str, float | int | None]]:
        """Per row (category name or ``ALL 1-4``): n and R@k for each k."""
        rows: dict[str, dict[str, float | int | None]] = {}
        for name in ROWS:
            qs = [
                r
                for r in self.results
                if (CATEGORY_NAMES[r.category] == name if name != "ALL 1-4" else r.category in (1, 2, 3, 4))
            ]
            row: dict[str, float | int | None] = {"n": len(qs)}
            for k in self.config.ks:  # no question: no recall (null in JSON, "—" in the table), not a 0.0
                row[f"R@{k}"] = sum(self.recall(q, k) for q in qs) / len(qs) if qs else None
            rows[name] = row
        return rows

    def all_at_k(self) -> dict[str, float | int | None]:
        """Over multi-evidence questions of categories 1-4: share with every gold turn in the first k."""
        qs = [r for r in self.results if r.category in (1, 2, 3, 4) and len(r.found_at) > 1]
        row: dict[str, float | int | None] = {"n": len(qs)}
        for k in self.config.ks:
            row[f"all@{k}"] = sum(1 for q in qs if self.recall(q, k) == 1.0) / len(qs) if qs else None
        return row

    def fetch_ms(self) -> dict[str, float]:
        lat = sorted(r.fetch_ms for r in self.results)
        return {"p50": percentile(lat, 50), "p95": percentile(lat, 95)}

    def tokens_per_fetch(self) -> float:
        return sum(r.tokens for r in self.results) / len(self.results) if self.results else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "categories": self.table(),
            "mode": self.config.mode,
            "ingest_seconds": round(self.ingest_seconds, 3),
            "fetch_ms": {k: round(v, 3) for k, v in self.fetch_ms().items()},
            "tokens_per_fetch": round(self.tokens_per_fetch(), 1),
            "all_at_k_multi_evidence": self.all_at_k(),
            "k": list(self.config.ks),
            "questions": len(self.results),
            "conversations": self.conversations,
            "sessions": self.sessions,
            "turns": self.turns,
            "turns_per_second": round(self.turns / self.ingest_seconds, 1) if self.ingest_seconds > 0 else None,
            "extractor": self.config.extractor,
            "embedder": self.config.embedder,
            "ablate": sorted(self.config.ablate),
            "files": self.files,
        }


def _messages(session: Session) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    for t in session.turns:
        m: dict[str, Any] = {"id": t.dia_id, "speaker": t.speaker, "content": t.text}
        if t.caption:
            m["caption"] = t.caption
        msgs.append(m)
    return msgs


def _select(convs: list[Conversation], cfg: EvalConfig) -> list[Conversation]:
    convs = convs[: cfg.conversations] if cfg.conversations else convs
    out: list[Conversation] = []
    for c in convs:
        sessions = c.sessions[: cfg.sessions] if cfg.sessions else c.sessions
        ids = {t.dia_id for s in sessions for t in s.turns}
        qs = [q for q in c.questions if q.evidence and all(e in ids for e in q.evidence)]
        if cfg.max_questions is not None:
            qs = qs[: cfg.max_questions]
        out.append(Conversation(c.sample_id, c.speakers, sessions, qs))
    return out


async def _ingest(sdk: Any, convs: list[Conversation], cfg: EvalConfig) -> float:
    t0 = time.perf_counter()
    jobs: list[str] = []
    for c in convs:
        for s in c.sessions:
            res = await sdk.memories.create(
                document={"messages": _messages(s)},
                user_id=c.sample_id,
                customer_id=CUSTOMER,
                document_type="human-chat-conversation",
                document_id=f"{c.sample_id}-session-{s.number}",
                document_created_at=s.date.isoformat(),
                metadata={"session": s.number, "sample_id": c.sample_id},
            )
            jobs.append(res.ingestion_id)
    await wait_all(sdk, jobs, "ingesting sessions", progress=cfg.progress, poll=0.02)
    return time.perf_counter() - t0


async def _ask(sdk: Any, convs: list[Conversation], cfg: EvalConfig) -> list[QuestionResult]:
    kmax = max(cfg.ks)
    total = sum(len(c.questions) for c in convs)
    bar = progress_bar(total, f"asking ({cfg.mode})", cfg.progress, unit="q")
    out: list[QuestionResult] = []
    try:
        for c in convs:
            for q in c.questions:
                t0 = time.perf_counter()
                resp = await sdk.user.context.fetch(
                    user_id=c.sample_id,
                    customer_id=CUSTOMER,
                    search_query=[q.text],
                    max_results=kmax,
                    mode=cfg.mode,
                    token_budget=cfg.token_budget,
                )
                ms = (time.perf_counter() - t0) * 1000
                found: dict[str, int | None] = dict.fromkeys(q.evidence)
                for rank, item in enumerate(resp.items(), start=1):
                    for ev in item.source_evidence or []:
                        if ev in found and found[ev] is None:
                            found[ev] = rank
                out.append(QuestionResult(c.sample_id, q.category, q.evidence, found, ms, resp.metadata.tokens_used))
                bar.update(1)
    finally:
        bar.close()
    return out


async def run_locomo(paths: Sequence[str | Path], cfg: EvalConfig) -> EvalReport:
    """Ingest the conversations of ``paths`` through the embedded SDK, ask every question, score evidence recall."""
    return await evaluate(_select(load_conversations(paths), cfg), cfg, paths)


async def evaluate(convs: list[Conversation], cfg: EvalConfig, paths: Sequence[str | Path] = ()) -> EvalReport:
    """Ingest ``convs`` through the embedded SDK, ask their questions, score evidence recall.

    The engine runs with ``Settings`` made of ``cfg`` (extractor, embedder, workers, the ablated components) and a
    fresh temporary home; what ``cfg`` does not name comes from ``TENANTRY_*`` as usual (e.g. the model cache).
    """
    async with evaluation_sdk(
        "locomo-eval",
        dsn=cfg.dsn,
        workers=cfg.workers,
        extractor=cfg.extractor,
        embedder=cfg.embedder,
        ablate=cfg.ablate,
    ) as sdk:
        ingest_s = await _ingest(sdk, convs, cfg)
        results = await _ask(sdk, convs, cfg)
    return EvalReport(
        config=cfg,
        files=[str(p) for p in paths],
        conversations=len(convs),
        turns=sum(len(s.turns) for c in convs for s in c.sessions),
        sessions=sum(len(c.sessions) for c in convs),
        ingest_seconds=ingest_s,
        results=results,
    )


def _fig(value: float | int | None) -> str:
    """A recall for the table: three decimals, or "—" when there was no question to have one."""
    return "—" if value is None else f"{float(value):.3f}"


def render_report(report: EvalReport) -> Any:
    """A rich renderable: the recall table and the cost figures."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    cfg = report.config
    ablated = f", ablated: {','.join(sorted(cfg.ablate))}" if cfg.ablate else ""
    table = Table(
        title=f"LoCoMo evidence recall — mode={cfg.mode}, extractor={cfg.extractor}{ablated}",
        title_justify="left",
    )
    table.add_column("category")
    table.add_column("n", justify="right")
    for k in cfg.ks:
        table.add_column(f"R@{k}", justify="right")
    for name, row in report.table().items():
        # A category with no question has no recall: "—", not a 0.000 that reads as a total miss.
        cells = (_fig(row[f"R@{k}"]) for k in cfg.ks)
        table.add_row(name, str(row["n"]), *cells)
    allk = report.all_at_k()
    fetch = report.fetch_ms()
    tps = report.turns / report.ingest_seconds if report.ingest_seconds > 0 else float("nan")
    lines = [
        f"all@k, multi-evidence questions of 1-4 (n={allk['n']}): "
        + "  ".join(f"all@{k} {_fig(allk[f'all@{k}'])}" for k in cfg.ks),
        f"ingestion: {report.ingest_seconds:.1f} s for {report.sessions} sessions, {report.turns} turns "
        f"({tps:.0f} turns/s)",
        f"fetch: p50 {fetch['p50']:.1f} ms, p95 {fetch['p95']:.1f} ms (query embedding included; "
        f"{len(report.results)} fetches, max_results={max(cfg.ks)})",
        f"tokens returned per fetch: {report.tokens_per_fetch():.0f} (mean)",
    ]
    return Group(table, Text("\n".join(lines)))


def parse_ks(value: str) -> tuple[int, ...]:
    """``"1,5,10,20"`` → (1, 5, 10, 20); each k from 1 to 50."""
    ks = tuple(sorted({int(x) for x in value.split(",") if x.strip()}))
    if not ks or ks[0] < 1 or ks[-1] > 50:
        raise ValueError("k values must be integers from 1 to 50")
    return ks
