"""``tenantry eval compaction``: conversation compaction measured on LoCoMo.

Each conversation (all its sessions, in order) is compacted once per strategy by the engine's offline compaction
(:func:`tenantry.service.compaction.compact_turns`, with the evaluation's extractor). Per strategy the command
reports the mean compression ratio (compacted / original tokens, with its range), the mean validation score (share
of the extracted memories the compacted text still states), and LoCoMo evidence recall@k when each conversation's
compaction stands in for its raw turns: the kept sentences are ingested in place of the sessions (each under its
turn's id, so an item that cites a kept sentence cites its gold turn) and every question is asked as in
``tenantry eval locomo``. The first row is the raw turns, for reference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from ..pipeline.registry import create_extractor
from ..service.compaction import STRATEGY_RATIOS
from ..service.compaction import CompactionResult
from ..service.compaction import TurnText
from ..service.compaction import compact_turns
from .locomo import Conversation
from .locomo import EvalConfig
from .locomo import EvalReport
from .locomo import Session
from .locomo import Turn
from .locomo import _select
from .locomo import evaluate
from .locomo import load_conversations

__all__ = ["CompactionEvalConfig", "StrategyRow", "render_compaction_report", "run_compaction_eval"]

STRATEGIES = ("conservative", "balanced", "aggressive")


@dataclass(slots=True)
class CompactionEvalConfig:
    strategies: tuple[str, ...] = STRATEGIES
    k: int = 10
    conversations: int | None = None
    sessions: int | None = None
    max_questions: int | None = None
    extractor: str = "rules+turns"
    embedder: str = "minilm-int8"
    recall: bool = True  # ingest the compactions and ask the questions (the slow part)
    progress: bool = True


@dataclass(slots=True)
class StrategyRow:
    strategy: str
    target: float | None
    ratios: list[float] = field(default_factory=list)
    validations: list[float] = field(default_factory=list)
    kept_turns: int = 0
    turns: int = 0
    recall: float | None = None
    questions: int = 0

    def to_json(self) -> dict[str, Any]:
        n = len(self.ratios)
        return {
            "strategy": self.strategy,
            "target_ratio": self.target,
            "mean_ratio": sum(self.ratios) / n if n else None,
            "min_ratio": min(self.ratios) if n else None,
            "max_ratio": max(self.ratios) if n else None,
            "mean_validation": sum(self.validations) / len(self.validations) if self.validations else None,
            "turns_kept": self.kept_turns,
            "turns": self.turns,
            "recall": self.recall,
            "questions": self.questions,
        }


def _turns(conv: Conversation) -> list[TurnText]:
    first = conv.speakers[0]
    return [
        TurnText(t.dia_id, "user" if t.speaker == first else "assistant", t.text, speaker=t.speaker, timestamp=s.date)
        for s in conv.sessions
        for t in s.turns
    ]


def _standing_in(conv: Conversation, result: CompactionResult) -> Conversation:
    """``conv`` with each session reduced to its kept sentences, each under its turn's id."""
    kept: dict[str, list[str]] = {}
    for unit in result.kept():
        kept.setdefault(unit["turn_id"], []).append(unit["content"])
    sessions = [
        Session(
            s.number, s.date, [Turn(t.dia_id, t.speaker, " ".join(kept[t.dia_id])) for t in s.turns if t.dia_id in kept]
        )
        for s in conv.sessions
    ]
    return Conversation(conv.sample_id, conv.speakers, [s for s in sessions if s.turns], conv.questions)


async def _recall(convs: list[Conversation], cfg: CompactionEvalConfig) -> EvalReport:
    eval_cfg = EvalConfig(ks=(cfg.k,), extractor=cfg.extractor, embedder=cfg.embedder, progress=cfg.progress)
    return await evaluate(convs, eval_cfg)


async def run_compaction_eval(paths: Sequence[str | Path], cfg: CompactionEvalConfig) -> list[StrategyRow]:
    """The table's rows: the raw turns, then one per strategy."""
    selection = EvalConfig(conversations=cfg.conversations, sessions=cfg.sessions, max_questions=cfg.max_questions)
    convs = _select(load_conversations(paths), selection)
    extractor = create_extractor(cfg.extractor)
    raw = StrategyRow("none (raw turns)", 1.0)
    raw.turns = raw.kept_turns = sum(len(s.turns) for c in convs for s in c.sessions)
    rows, stand_ins = [raw], {raw.strategy: convs}
    for strategy in cfg.strategies:
        row = StrategyRow(strategy, STRATEGY_RATIOS.get(strategy))
        stand_ins[strategy] = []
        for conv in convs:
            turns = _turns(conv)
            created = conv.sessions[-1].date if conv.sessions else None
            result = await asyncio.to_thread(
                compact_turns, turns, strategy=strategy, extractor=extractor, created_at=created
            )
            row.ratios.append(result.ratio)
            if result.validation_score is not None:
                row.validations.append(result.validation_score)
            stand_in = _standing_in(conv, result)
            row.turns += len(turns)
            row.kept_turns += sum(len(s.turns) for s in stand_in.sessions)
            stand_ins[strategy].append(stand_in)
        rows.append(row)
    for row in rows if cfg.recall else ():
        report = await _recall(stand_ins[row.strategy], cfg)
        recall = report.table()["ALL 1-4"][f"R@{cfg.k}"]
        row.recall, row.questions = (None if recall is None else float(recall)), len(report.results)
    return rows


def render_compaction_report(rows: list[StrategyRow], cfg: CompactionEvalConfig) -> Any:
    from rich.table import Table

    table = Table(
        title=f"LoCoMo compaction — extractor={cfg.extractor}, evidence recall ALL 1-4 at k={cfg.k}",
        title_justify="left",
    )
    for name, justify in (
        ("strategy", "left"),
        ("target", "right"),
        ("ratio (mean)", "right"),
        ("ratio range", "right"),
        ("validation", "right"),
        ("turns kept", "right"),
        (f"R@{cfg.k}", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        j = row.to_json()
        table.add_row(
            row.strategy,
            f"{row.target:.0%}" if row.target is not None else "—",
            f"{j['mean_ratio']:.3f}" if j["mean_ratio"] is not None else "1.000",
            f"{j['min_ratio']:.3f}–{j['max_ratio']:.3f}" if j["min_ratio"] is not None else "—",
            f"{j['mean_validation']:.3f}" if j["mean_validation"] is not None else "—",
            f"{row.kept_turns}/{row.turns}",
            f"{row.recall:.3f}" if row.recall is not None else "—",
        )
    return table
