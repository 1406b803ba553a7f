"""``tenantry eval compaction`` on a small slice of the LoCoMo dev data (read from ../shared; skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantry.cli import app

DEV_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "locomo" / "dev" / "26.json"
needs_data = pytest.mark.skipif(not DEV_FILE.exists(), reason="LoCoMo dev data not present in ../shared/data/locomo")


@needs_data
def test_eval_compaction_cli_slice(tmp_path: Path) -> None:
    out = tmp_path / "compaction.json"
    args = ["eval", "compaction", str(DEV_FILE), "--conversations", "1", "--sessions", "3", "--max-questions", "8"]
    result = CliRunner().invoke(app, [*args, "--embedder", "hashing", "--no-progress", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "LoCoMo compaction" in result.output and "balanced" in result.output
    rows = {r["strategy"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"none (raw turns)", "conservative", "balanced", "aggressive"}
    for name, target in (("conservative", 0.7), ("balanced", 0.4), ("aggressive", 0.15)):
        assert abs(rows[name]["mean_ratio"] - target) <= 0.1, rows[name]
        assert 0 <= rows[name]["recall"] <= 1 and rows[name]["questions"] == rows["none (raw turns)"]["questions"]
    assert rows["aggressive"]["turns_kept"] < rows["balanced"]["turns_kept"] < rows["conservative"]["turns_kept"]


def test_eval_compaction_rejects_unknown_strategy() -> None:
    result = CliRunner().invoke(app, ["eval", "compaction", "x.json", "--strategies", "lossy"])
    assert result.exit_code != 0 and "strategies" in result.output
