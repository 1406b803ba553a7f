"""The bench commands pass their options to the bench they run by name: the names must stay in step."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantry.bench.cli import bench
from tenantry.bench.cli import bench_postgres
from tenantry.bench.cli import bench_server
from tenantry.bench.cli import eval_compaction
from tenantry.bench.cli import eval_locomo
from tenantry.bench.compaction import CompactionEvalConfig
from tenantry.bench.ingest import run_bench
from tenantry.bench.locomo import EvalConfig
from tenantry.bench.postgres import BenchConfig
from tenantry.bench.server import run_load_bench
from tenantry.cli import app


@pytest.mark.parametrize(
    ("command", "target"),
    [
        pytest.param(bench, run_bench, id="bench"),
        pytest.param(bench_server, run_load_bench, id="bench-server"),
        pytest.param(bench_postgres, BenchConfig, id="bench-postgres"),
        pytest.param(eval_locomo, EvalConfig, id="eval-locomo"),
        pytest.param(eval_compaction, CompactionEvalConfig, id="eval-compaction"),
    ],
)
def test_options_are_named_after_the_bench_parameters(command: Callable[..., None], target: Callable[..., Any]) -> None:
    options = set(inspect.signature(command).parameters) - {"ctx", "json_out", "files"}
    assert options <= set(inspect.signature(target).parameters)


def test_bench_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_EMBEDDER", "hashing")  # the command's plumbing is tested here, not the model
    out = tmp_path / "figures.json"
    args = ["bench", "--sizes", "300", "--customers", "3", "--fetches", "5", "--ingest-docs", "4", "--json", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert list(figures["fetch"]) == ["300"] and figures["fetch"]["300"]["p50_ms"] > 0
    assert figures["ingest"]["documents"] == 4 and figures["ingest"]["turns"] >= 8
