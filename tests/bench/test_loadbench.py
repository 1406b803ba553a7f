"""``tenantry bench-server`` end to end on a tiny configuration: a real server subprocess, real HTTP clients."""

from __future__ import annotations

import os
import sys
import time

import pytest

from tenantry.bench.server import _machine_ticks
from tenantry.bench.server import _tree_cpu_seconds
from tenantry.bench.server import run_load_bench
from tenantry.settings import Settings


def test_tree_cpu_counts_this_process() -> None:
    before = _tree_cpu_seconds(os.getpid())
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:  # burn CPU
        pass
    after = _tree_cpu_seconds(os.getpid())
    if before is None or after is None:
        pytest.skip("no /proc")
    assert after - before >= 0.2
    ticks = _machine_ticks()
    assert ticks is not None and 0 < ticks[0] <= ticks[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU figures read /proc")
async def test_bench_server_reports_figures() -> None:
    settings = Settings(embedder="hashing")  # the bench is about the server here, not the model
    figures = await run_load_bench(clients=4, duration=2.0, memories=300, customers=3, warmup=0.5, settings=settings)
    assert figures["embedder"] == "hashing"
    assert figures["errors"] == 0, figures["errors_by_kind"]
    assert figures["fetch"]["count"] > 0 and figures["create"]["count"] > 0
    assert figures["fetch"]["mean_items"] > 0
    assert figures["fetch"]["p50_ms"] <= figures["fetch"]["p95_ms"] <= figures["fetch"]["p99_ms"]
    cpu = figures["cpu"]
    assert 0 < cpu["machine_busy_percent"] <= 100 * (os.cpu_count() or 1) + 1
    assert cpu["server_ms_per_request"] > 0 and cpu["loadgen_ms_per_request"] > 0
    assert figures["ingestion_backlog_at_end"] >= 0
    lag = figures["ingestion_lag_s"]
    assert lag["sampled"] == min(200, figures["create"]["count"]) and lag["not_done"] == 0
    assert 0 < lag["p50"] <= lag["p95"] <= lag["max"] < 60
