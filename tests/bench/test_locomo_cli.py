"""``tenantry eval locomo`` on a small slice of the LoCoMo dev data (read from ../shared; skipped when absent).

Asserts the shape of the table and of the JSON document, not the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantry.bench.locomo import ROWS
from tenantry.bench.locomo import load_conversations
from tenantry.bench.locomo import normalise_evidence
from tenantry.cli import app

REPO = Path(__file__).resolve().parents[2]
LOCOMO = REPO.parent / "shared" / "data" / "locomo"
DEV_FILE = LOCOMO / "dev" / "26.json"

needs_data = pytest.mark.skipif(not DEV_FILE.exists(), reason="LoCoMo dev data not present in ../shared/data/locomo")


def test_normalise_evidence_fixes_malformed_ids() -> None:
    turns = {"D8:6", "D9:17", "D9:1", "D4:4", "D4:6", "D11:26", "D30:5"}
    raw = ["D8:6; D9:17", "D9:1 D4:4 D4:6", "D:11:26", "D30:05", "D", "D10:19", "D8:6"]
    assert normalise_evidence(raw, turns) == ["D8:6", "D9:17", "D9:1", "D4:4", "D4:6", "D11:26", "D30:5"]


def test_loads_both_formats(tmp_path: Path) -> None:
    conv = {
        "speaker_a": "Ann",
        "speaker_b": "Bo",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat yesterday."},
            {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a photo of a cat"},
        ],
        "session_2_date_time": "10:00 am on 9 May, 2023",
    }
    qa = [{"question": "When did Ann adopt a cat?", "answer": "7 May 2023", "evidence": ["D1:1"], "category": 2}]
    flat = tmp_path / "7.json"
    flat.write_text(json.dumps({**conv, "qa": qa}))
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"sample_id": "conv-x", "conversation": conv, "qa": qa}]))
    (a,) = load_conversations([flat])
    (b,) = load_conversations([listed])
    assert a.sample_id == "conv-7" and b.sample_id == "conv-x"
    for c in (a, b):
        assert len(c.sessions) == 1  # a date without turns is not a session
        assert [t.dia_id for t in c.sessions[0].turns] == ["D1:1", "D1:2"]
        assert c.sessions[0].turns[1].caption == "a photo of a cat"
        assert c.questions[0].evidence == ["D1:1"]


@needs_data
@pytest.mark.model
@pytest.mark.slow
def test_eval_locomo_cli_slice(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "locomo",
            str(DEV_FILE),
            "--conversations",
            "1",
            "--sessions",
            "3",
            "--max-questions",
            "6",
            "--k",
            "1,5,10,20",
            "--json",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    text = result.output
    for row in ROWS:
        assert row in text
    for col in ("R@1", "R@5", "R@10", "R@20"):
        assert col in text
    assert "ingestion:" in text and "fetch: p50" in text and "tokens returned per fetch" in text
    doc = json.loads(out.read_text())
    assert {"categories", "mode", "ingest_seconds", "fetch_ms", "tokens_per_fetch"} <= set(doc)
    assert set(doc["categories"]) == set(ROWS)
    for row in doc["categories"].values():
        assert set(row) == {"n", "R@1", "R@5", "R@10", "R@20"}
        if row["n"]:
            assert all(0.0 <= row[f"R@{k}"] <= 1.0 for k in (1, 5, 10, 20))
        else:  # a category the slice has no question of
            assert all(row[f"R@{k}"] is None for k in (1, 5, 10, 20))
    assert 0 < doc["categories"]["ALL 1-4"]["n"] <= 6
    assert doc["mode"] == "fast"
    assert set(doc["fetch_ms"]) == {"p50", "p95"}
    assert doc["ingest_seconds"] > 0 and doc["tokens_per_fetch"] > 0


@needs_data
def test_eval_locomo_rejects_unknown_component() -> None:
    result = CliRunner().invoke(app, ["eval", "locomo", str(DEV_FILE), "--ablate", "no-such-thing"])
    assert result.exit_code != 0
    assert "unknown component" in result.output


def test_categories_without_questions_have_no_recall() -> None:
    """A category (or the all@k line) with no question prints "—" and is null in JSON, never a 0.000 that reads as
    a total miss; the other rows keep their figures."""
    from rich.console import Console

    from tenantry.bench.locomo import EvalConfig
    from tenantry.bench.locomo import EvalReport
    from tenantry.bench.locomo import QuestionResult
    from tenantry.bench.locomo import render_report

    one = QuestionResult("conv-1", 1, ["D1:3"], {"D1:3": 2}, fetch_ms=3.0, tokens=40)  # multi-hop, found 2nd
    report = EvalReport(EvalConfig(), files=["x.json"], conversations=1, turns=10, sessions=1, ingest_seconds=1.0)
    report.results.append(one)
    table = report.table()
    assert table["ALL 1-4"]["R@1"] == 0.0 and table["ALL 1-4"]["R@5"] == 1.0
    empty = [name for name, row in table.items() if row["n"] == 0]
    assert empty and all(table[name]["R@10"] is None for name in empty)
    assert report.all_at_k() == {"n": 0, **{f"all@{k}": None for k in report.config.ks}}
    console = Console(width=200, record=True)
    console.print(render_report(report))
    text = console.export_text()
    assert "0.000" in text  # R@1 of the one question (a real miss at 1)
    assert "all@10 —" in text
    for name in empty:
        [line] = [ln for ln in text.splitlines() if name in ln]
        assert "—" in line and "0.000" not in line, line
