"""``tenantry bench-server``: load-test the HTTP server on loopback. Figures, not assertions.

1. **Prefill.** A fresh SQLite database (or ``--dsn``) gets one b2b instance filled to ``--memories`` memories with
   ``_common.prefill``: generated English sentences spread over ``--customers`` customers × 10 users
   (≈10% customer-scoped, ≈1% client-scoped), drawn from a pool of min(20,000, memories/5) distinct sentences, each
   embedded once by the configured embedder (default: the packaged MiniLM model), written through the store's
   direct-write path in scope batches (no extraction). An API key is issued for the instance.
2. **Server.** What ``tenantry serve`` runs (:func:`tenantry.server.processes.serve`) is started in a child process
   on 127.0.0.1, given the bench's settings as arguments (same embedder and ingestion workers, rate limiting off),
   and waited for on ``/health``; its output goes to a log file.
3. **Load.** ``--clients`` concurrent clients (one asyncio task each, sharing one aiohttp HTTP/1.1 connection pool
   of ``--clients`` keep-alive connections; the HTTP client costs ~0.2 ms of CPU per request with aiohttp against
   ~0.9-1.5 ms with httpx, CPU the server then keeps, since both run on the same cores; the whole load generator,
   JSON included, measures ≈ 0.45 ms per request) loop for
   ``--duration`` seconds after ``--warmup``: with probability ``--fetch-ratio`` a user context fetch
   (``POST /v1/context/user/fetch``, a random (customer, user), a distinct question each time so no cache helps),
   otherwise a create (``POST /api/v1/memories/create``, a 1-2 sentence chat turn for a random user).
4. **Report.** Throughput, fetch and create latency percentiles, errors by status, the ingestion backlog left
   when the load stopped, the ingestion lag (queued → stored, from the status route, for up to 200 creates spread
   over the measured window, waiting for the ones still queued), and the CPU of the measured window (Linux
   ``/proc``): how busy the machine was, and the CPU time of the server's processes (ingestion included) and of the
   load generator per completed request. The server is then stopped with SIGINT (its workers drain what they hold).

The load generator runs in this process, on the same machine as the server: both compete for the same cores.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from ..server.config import ServerSettings
from ..settings import Settings
from ._common import embedded_sdk
from ._common import engine_of
from ._common import pct
from ._common import prefill
from ._common import question
from ._common import sentence

__all__ = ["run_load_bench"]

_JSON = {"Content-Type": "application/json"}


@dataclass
class _Results:
    fetch_ms: list[float] = field(default_factory=list)
    create_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    items: int = 0
    engine_ms: list[float] = field(default_factory=list)  # server-side time inside the engine (metadata.timing_ms)
    embed_ms: list[float] = field(default_factory=list)
    create_ids: list[str] = field(default_factory=list)  # ingestion ids of the creates answered while measured


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _prefill(settings: Settings, memories: int, customers: int, seed: int) -> tuple[str, float]:
    """Fill the database of ``settings``; returns (api key, seconds)."""
    sdk = embedded_sdk(settings.model_copy(update={"workers": 0}), "loadbench")
    await sdk.initialize()
    try:
        pool = min(20_000, max(500, memories // 5))  # distinct sentences embedded (bench default: 20,000)
        seconds = await prefill(sdk, 0, memories, customers, random.Random(seed), pool_size=pool) if memories else 0.0
        service, inst = engine_of(sdk)
        key = await service.admin.issue_key(inst.instance_id, "loadbench")
    finally:
        await sdk.shutdown()
    return key.api_key, seconds


def _serve(settings: Settings, server_settings: ServerSettings, port: int, processes: int, log_path: str) -> None:
    """The server process (target of the spawned child): ``tenantry serve`` on loopback, its output in ``log_path``."""
    from ..server.processes import serve

    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        code = serve(settings, server_settings, host="127.0.0.1", port=port, log_level="warning", processes=processes)
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled, after its graceful shutdown
        code = 0
    sys.exit(code)


class _Server:
    def __init__(
        self,
        settings: Settings,
        port: int,
        log_path: Path,
        processes: int = 1,
        *,
        server_settings: ServerSettings | None = None,
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        server_settings = server_settings or ServerSettings(rate_limit_per_second=0)
        args = (settings, server_settings, port, processes, str(log_path))
        # spawn, not fork: the parent runs an event loop and threads (the embedder's, the SDK's)
        self.proc = multiprocessing.get_context("spawn").Process(target=_serve, args=args, name="tenantry-bench-serve")
        self.proc.start()
        if self.proc.pid is None:  # pragma: no cover - start() has set it
            raise RuntimeError("the server process did not start")
        self.pid: int = self.proc.pid

    async def wait_ready(self, timeout: float = 120.0) -> float:
        t0 = time.perf_counter()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as http:
            while time.perf_counter() - t0 < timeout:
                if not self.proc.is_alive():
                    raise RuntimeError(f"server exited with {self.proc.exitcode}; see {self.log_path}")
                try:
                    async with http.get(f"{self.url}/health") as r:
                        if r.status == 200:
                            return time.perf_counter() - t0
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout}s; see {self.log_path}")

    def stop(self) -> float:
        t0 = time.perf_counter()
        if self.proc.is_alive():
            os.kill(self.pid, signal.SIGINT)
            self.proc.join(timeout=60)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
        return time.perf_counter() - t0


async def _client(
    http: aiohttp.ClientSession,
    cid: int,
    *,
    customers: int,
    fetch_ratio: float,
    measure_from: float,
    stop_at: float,
    res: _Results,
    think_ms: float = 0.0,
) -> None:
    rng = random.Random(1000 + cid)
    n = 0
    while (now := time.perf_counter()) < stop_at:
        n += 1
        cust, user = f"cust{rng.randrange(customers):04d}", f"user{rng.randrange(10)}"
        is_fetch = rng.random() < fetch_ratio
        if is_fetch:
            q = question(rng)
            path = "/v1/context/user/fetch"
            body: dict[str, Any] = {
                "user_id": user,
                "customer_id": cust,
                "search_query": [f"{q} #{cid}-{n}"],
                "max_results": 10,
                "types": ["all"],
                "mode": "fast",
            }
        else:
            path = "/api/v1/memories/create"
            body = {
                "document": f"User: {sentence(rng)}",
                "document_type": "ai-chat-conversation",
                "user_id": user,
                "customer_id": cust,
            }
        payload = json.dumps(body).encode()
        t0 = time.perf_counter()
        raw = b""
        try:
            async with http.post(path, data=payload, headers=_JSON) as r:
                raw = await r.read()  # the whole body: latency is until the last byte
                ok = r.status == 200
                status = str(r.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok, status = False, type(exc).__name__
        ms = (time.perf_counter() - t0) * 1000
        if now < measure_from:
            continue
        if not ok:
            res.errors[f"{'fetch' if is_fetch else 'create'}:{status}"] += 1
        elif is_fetch:
            res.fetch_ms.append(ms)
            data = json.loads(raw)
            res.items += sum(len(v) for v in data.get("context", {}).values())
            timing = data.get("metadata", {}).get("timing_ms", {})
            res.engine_ms.append(float(timing.get("total_ms", 0.0)))
            res.embed_ms.append(float(timing.get("embed_ms", 0.0)))
        else:
            res.create_ms.append(ms)
            res.create_ids.append(str(json.loads(raw).get("ingestion_id", "")))
        if think_ms > 0:  # an agent thinks (calls its LLM) between turns: exponential pauses of mean think_ms
            await asyncio.sleep(rng.expovariate(1000.0 / think_ms))


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU clock ticks of the whole machine since boot, from /proc/stat (Linux); None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants (Linux /proc)."""
    try:
        parents: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            parents[int(entry)] = int(fields[1])
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    except OSError:
        return None
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    return sum(ticks.get(pid, 0) for pid in members) / os.sysconf("SC_CLK_TCK")


async def _cpu_window(server_pid: int, measure_from: float, stop_at: float) -> dict[str, float | None]:
    """CPU used during the measured window: the machine's busy share, the server's and the load generator's."""
    await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
    m0, s0, g0 = _machine_ticks(), _tree_cpu_seconds(server_pid), time.process_time()
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
    m1, s1, g1 = _machine_ticks(), _tree_cpu_seconds(server_pid), time.process_time()
    busy = None
    if m0 is not None and m1 is not None and m1[1] > m0[1]:
        busy = 100.0 * (m1[0] - m0[0]) / (m1[1] - m0[1]) * (os.cpu_count() or 1)
    return {
        "machine_busy_percent": busy,  # of one core: 200 = two cores fully busy
        "server_cpu_s": None if s0 is None or s1 is None else s1 - s0,
        "loadgen_cpu_s": g1 - g0,
    }


async def _ingestion_lag(
    http: aiohttp.ClientSession, ingestion_ids: list[str], *, sample: int = 200, timeout: float = 180.0
) -> tuple[list[float], int]:
    """Seconds from queued to stored (the job's ``queued_at`` → ``completed_at``) of up to ``sample`` creates spread
    evenly over the measured window, read from the status route once they are done (waiting for the ones the load
    left queued, up to ``timeout``). Returns (lags, how many were not done in time or failed)."""
    ids = [i for i in ingestion_ids if i]
    chosen = ids[:: max(1, len(ids) // sample)][:sample]
    pending = chosen
    lags: list[float] = []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        still: list[str] = []
        for ingestion_id in pending:
            async with http.get(f"/api/v1/memories/status/{ingestion_id}") as r:
                body = await r.json() if r.status == 200 else {}
            if body.get("status") == "completed" and body.get("completed_at"):
                queued = datetime.fromisoformat(body["queued_at"])
                lags.append((datetime.fromisoformat(body["completed_at"]) - queued).total_seconds())
            elif body.get("status") in ("queued", "processing"):
                still.append(ingestion_id)
        pending = still
        if pending:
            await asyncio.sleep(0.5)
    return lags, len(chosen) - len(lags)


async def _queue_depth(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith('tenantry_ingestion_jobs{status="queued"}'):
            return int(float(line.split()[-1]))
    return -1


async def run_load_bench(
    *,
    clients: int = 32,
    duration: float = 60.0,
    memories: int = 10_000,
    customers: int = 100,
    fetch_ratio: float = 0.8,
    think_ms: float = 0.0,
    processes: int = 1,
    warmup: float = 3.0,
    dsn: str | None = None,
    port: int | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Run the load benchmark described in the module docstring; prints a table and returns the figures.

    ``settings`` (default: ``Settings()``) configure the engine of the prefill and of the server (embedder,
    ingestion workers ...); the database is ``dsn`` (default: a temporary SQLite file).
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    tmp = tempfile.TemporaryDirectory(prefix="tenantry-loadbench-")
    try:
        dsn = dsn or f"sqlite:///{Path(tmp.name) / 'loadbench.db'}"
        engine = (settings or Settings()).model_copy(update={"dsn": dsn})
        console.print(f"prefilling {memories:,} memories over {customers} customers ({dsn}) ...")
        t0 = time.perf_counter()
        api_key, _ = await _prefill(engine, memories, customers, seed=7)
        prefill_s = time.perf_counter() - t0
        server = _Server(engine, port or _free_port(), Path(tmp.name) / "server.log", processes=processes)
        try:
            startup_s = await server.wait_ready()
            console.print(f"server up in {startup_s:.1f} s; {clients} clients for {warmup:g}+{duration:g} s ...")
            res = _Results()
            load_before = os.getloadavg()[0]
            async with aiohttp.ClientSession(
                server.url,
                headers={"Authorization": f"Bearer {api_key}"},
                connector=aiohttp.TCPConnector(limit=clients),
                timeout=aiohttp.ClientTimeout(total=60),
            ) as http:
                start = time.perf_counter()
                measure_from, stop_at = start + warmup, start + warmup + duration
                cpu_task = asyncio.ensure_future(_cpu_window(server.pid, measure_from, stop_at))
                await asyncio.gather(
                    *(
                        _client(
                            http,
                            i,
                            customers=customers,
                            fetch_ratio=fetch_ratio,
                            think_ms=think_ms,
                            measure_from=measure_from,
                            stop_at=stop_at,
                            res=res,
                        )
                        for i in range(clients)
                    )
                )
                measured = time.perf_counter() - measure_from
                cpu = await cpu_task
                backlog = await _queue_depth(server.url)
                load_after = os.getloadavg()[0]
                lags, lag_missing = await _ingestion_lag(http, res.create_ids)
        finally:
            stop_s = server.stop()
    finally:
        tmp.cleanup()

    done = len(res.fetch_ms) + len(res.create_ms)
    figures: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count()},
        "embedder": engine.embedder,
        "memories": memories,
        "customers": customers,
        "clients": clients,
        "duration_s": round(measured, 2),
        "fetch_ratio": fetch_ratio,
        "think_ms": think_ms,
        "server_processes": processes,
        "prefill_s": round(prefill_s, 1),
        "server_startup_s": round(startup_s, 2),
        "throughput_rps": done / measured if measured else 0.0,
        "fetch": {
            "count": len(res.fetch_ms),
            "rps": len(res.fetch_ms) / measured if measured else 0.0,
            "p50_ms": pct(res.fetch_ms, 50),
            "p95_ms": pct(res.fetch_ms, 95),
            "p99_ms": pct(res.fetch_ms, 99),
            "mean_items": res.items / len(res.fetch_ms) if res.fetch_ms else 0.0,
            "engine_p50_ms": pct(res.engine_ms, 50),
            "engine_p95_ms": pct(res.engine_ms, 95),
            "query_embed_p50_ms": pct(res.embed_ms, 50),
        },
        "create": {
            "count": len(res.create_ms),
            "rps": len(res.create_ms) / measured if measured else 0.0,
            "p50_ms": pct(res.create_ms, 50),
            "p95_ms": pct(res.create_ms, 95),
            "p99_ms": pct(res.create_ms, 99),
        },
        "errors": sum(res.errors.values()),
        "errors_by_kind": dict(res.errors),
        "cpu": {
            "machine_busy_percent": cpu["machine_busy_percent"],
            "server_ms_per_request": (
                cpu["server_cpu_s"] * 1000 / done if cpu["server_cpu_s"] is not None and done else None
            ),
            "loadgen_ms_per_request": (cpu["loadgen_cpu_s"] or 0.0) * 1000 / done if done else None,
        },
        "ingestion_backlog_at_end": backlog,
        "ingestion_lag_s": {  # queued → stored, for a sample of the measured creates
            "sampled": len(lags) + lag_missing,
            "p50": pct(lags, 50),
            "p95": pct(lags, 95),
            "max": max(lags, default=0.0),
            "not_done": lag_missing,
        },
        "server_stop_s": round(stop_s, 2),
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
    }
    f, c = figures["fetch"], figures["create"]
    t = Table(
        title=f"tenantry bench-server ({clients} clients, {measured:.0f} s, {memories:,} memories, "
        f"{os.cpu_count()} cores)"
    )
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("throughput (all requests)", f"{figures['throughput_rps']:.1f} req/s")
    t.add_row("fetch", f"{f['count']} ({f['rps']:.1f}/s), {f['mean_items']:.1f} items each")
    t.add_row("fetch latency p50 / p95 / p99", f"{f['p50_ms']:.1f} / {f['p95_ms']:.1f} / {f['p99_ms']:.1f} ms")
    t.add_row(
        "  of which inside the engine p50 / p95 (query embedding p50)",
        f"{f['engine_p50_ms']:.1f} / {f['engine_p95_ms']:.1f} ms ({f['query_embed_p50_ms']:.1f} ms)",
    )
    t.add_row("create", f"{c['count']} ({c['rps']:.1f}/s)")
    t.add_row("create latency p50 / p95 / p99", f"{c['p50_ms']:.1f} / {c['p95_ms']:.1f} / {c['p99_ms']:.1f} ms")
    t.add_row("errors", f"{figures['errors']} {dict(res.errors) or ''}")
    t.add_row("ingestion backlog when load stopped", str(backlog))
    lag = figures["ingestion_lag_s"]
    t.add_row(
        f"ingestion lag, queued → stored, p50 / p95 / max ({lag['sampled']} creates sampled)",
        f"{lag['p50']:.2f} / {lag['p95']:.2f} / {lag['max']:.2f} s"
        + (f", {lag['not_done']} not done" if lag["not_done"] else ""),
    )
    cpu_f = figures["cpu"]
    if cpu_f["machine_busy_percent"] is not None and cpu_f["server_ms_per_request"] is not None:
        t.add_row(
            "CPU while measured: machine busy / server and load generator per request",
            f"{cpu_f['machine_busy_percent']:.0f} % of {100 * (os.cpu_count() or 1)} % / "
            f"{cpu_f['server_ms_per_request']:.2f} ms and {cpu_f['loadgen_ms_per_request']:.2f} ms",
        )
    t.add_row("machine load average (1 min) before / after", f"{load_before:.1f} / {load_after:.1f}")
    t.add_row("prefill / server start / server stop", f"{prefill_s:.1f} s / {startup_s:.1f} s / {stop_s:.1f} s")
    console.print(t)
    return figures
