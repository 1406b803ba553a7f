"""The ``bench``, ``bench-server``, ``bench-postgres``, ``eval locomo`` and ``eval doc2dial`` commands of the CLI.

``register(app)`` adds them to the main Typer app (:mod:`tenantry.cli`). Each command parses its options and runs one
bench of this package (imported when the command runs, so ``tenantry --help`` loads none of them); every one prints
its figures, and ``--json FILE`` also writes them to a file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated
from typing import Any

import typer

__all__ = ["register"]

JsonOut = Annotated[str | None, typer.Option("--json", help="also write the figures to this file")]
Customers = Annotated[int, typer.Option(help="customers the memories are spread over")]
IngestDocs = Annotated[int, typer.Option(help="chat documents for the ingestion measurement")]


def _write_json(path: str | None, figures: Any) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")


def _run(bench: Coroutine[Any, Any, dict[str, Any]], json_out: str | None, *, echo: bool = False) -> None:
    """Run a bench to the end; print its figures as JSON when ``echo``; write them to ``json_out`` when given."""
    figures = asyncio.run(bench)
    if echo:
        typer.echo(json.dumps(figures, indent=2))
    _write_json(json_out, figures)


def _sizes(value: str) -> list[int]:
    return [int(s) for s in value.split(",") if s]


def _options(ctx: typer.Context, **converted: Any) -> dict[str, Any]:
    """The command's options, ``--json`` and the input ``files`` aside, by name, with the ``converted`` ones replaced:
    a bench command's options are named after the parameters of the bench it runs (``tests/bench/test_bench_cli.py``
    checks it)."""
    return {name: value for name, value in ctx.params.items() if name not in ("json_out", "files")} | converted


def bench(
    ctx: typer.Context,
    sizes: Annotated[str, typer.Option(help="comma-separated memory counts to measure fetch at")] = "10000,100000",
    customers: Customers = 100,
    fetches: Annotated[int, typer.Option(help="fetches per size")] = 300,
    ingest_docs: IngestDocs = 300,
    dsn: Annotated[str | None, typer.Option(help="database (default: a temporary SQLite file)")] = None,
    json_out: JsonOut = None,
) -> None:
    """Benchmark create latency, ingestion throughput and fetch latency (prints figures; not a test)."""
    from .ingest import run_bench

    _run(run_bench(**_options(ctx, sizes=_sizes(sizes))), json_out)


def bench_server(
    ctx: typer.Context,
    clients: Annotated[int, typer.Option(help="concurrent clients")] = 32,
    duration: Annotated[float, typer.Option(help="seconds of load")] = 60.0,
    memories: Annotated[int, typer.Option(help="memories prefilled before the run")] = 10_000,
    customers: Customers = 100,
    fetch_ratio: Annotated[float, typer.Option(help="share of requests that are fetches (the rest: creates)")] = 0.8,
    think_ms: Annotated[
        float, typer.Option(help="mean pause of each client between requests (0 = closed loop, no pause)")
    ] = 0.0,
    processes: Annotated[int, typer.Option(help="server processes (tenantry serve --processes)")] = 1,
    warmup: Annotated[float, typer.Option(help="seconds of load before measuring")] = 3.0,
    dsn: Annotated[str | None, typer.Option(help="SQLite database to use (default: a temporary file)")] = None,
    port: Annotated[int | None, typer.Option(help="port for the server (default: a free one)")] = None,
    json_out: JsonOut = None,
) -> None:
    """Load-test the HTTP server: prefill, start `tenantry serve`, run N clients mixing fetch and create."""
    try:
        from .server import run_load_bench
    except ImportError as exc:
        msg = f"bench-server needs the bench extra (pip install 'tenantry[bench]'): {exc}"
        raise typer.BadParameter(msg) from exc

    _run(run_load_bench(**_options(ctx)), json_out)


def bench_postgres(
    ctx: typer.Context,
    dsn: Annotated[str, typer.Option("--dsn", help="PostgreSQL database to fill (use a scratch database)")],
    sizes: Annotated[str, typer.Option(help="comma-separated total memory counts")] = "100000,1000000",
    customers: Customers = 1000,
    users: Annotated[int, typer.Option(help="users per customer")] = 5,
    fetches: Annotated[int, typer.Option(help="measured fetches per size")] = 300,
    concurrency: Annotated[int, typer.Option(help="clients of the concurrent fetch run")] = 8,
    ingest_docs: IngestDocs = 200,
    sqlite_size: Annotated[int, typer.Option(help="SQLite comparison size (0: skip)")] = 100_000,
    partition_rows: Annotated[int, typer.Option(help="rows of the large-partition HNSW test (0: skip)")] = 100_000,
    pool: Annotated[int, typer.Option(help="distinct generated sentences embedded for the bulk data")] = 5000,
    json_out: JsonOut = None,
) -> None:
    """Benchmark PostgreSQL (fetch p50/p95 at each size, ingestion, large partitions) against SQLite."""
    from .postgres import BenchConfig
    from .postgres import run_pg_bench

    cfg = BenchConfig(**_options(ctx, sizes=_sizes(sizes)))
    _run(run_pg_bench(cfg, log=typer.echo), json_out, echo=True)


def eval_locomo(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="LoCoMo files: dev/<n>.json or locomo10_dev.json (list format)")],
    ks: Annotated[str, typer.Option("--k", help="comma-separated k values of R@k")] = "1,5,10,20",
    mode: Annotated[str, typer.Option(help="fetch mode: fast | accurate")] = "fast",
    json_out: JsonOut = None,
    max_questions: Annotated[int | None, typer.Option(help="ask at most N questions per conversation")] = None,
    conversations: Annotated[int | None, typer.Option(help="use only the first N conversations")] = None,
    sessions: Annotated[int | None, typer.Option(help="ingest only the first N sessions of each conversation")] = None,
    ablate: Annotated[str | None, typer.Option(help="components to turn off, comma-separated (see docs)")] = None,
    extractor: Annotated[str, typer.Option(help="extractor to ingest with")] = "rules+turns",
    embedder: Annotated[str, typer.Option(help="embedder: minilm-int8 | minilm | ...")] = "minilm-int8",
    dsn: Annotated[str | None, typer.Option(help="database (default: a fresh temporary SQLite file)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Evidence recall@k on LoCoMo through the SDK (fresh database; one user scope per conversation)."""
    from rich.console import Console

    from ..retrieval.features import parse_components
    from .locomo import EvalConfig
    from .locomo import parse_ks
    from .locomo import render_report
    from .locomo import run_locomo

    try:
        if mode not in ("fast", "accurate"):
            raise ValueError("mode must be fast or accurate")
        cfg = EvalConfig(**_options(ctx, ks=parse_ks(ks), ablate=parse_components(ablate)))
        report = asyncio.run(run_locomo(files, cfg))  # unreadable files raise ValueError too
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    Console().print(render_report(report))
    _write_json(json_out, report.to_json())


def eval_compaction(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="LoCoMo files: dev/<n>.json or locomo10_dev.json (list format)")],
    strategies: Annotated[str, typer.Option(help="comma-separated strategies")] = "conservative,balanced,aggressive",
    k: Annotated[int, typer.Option("--k", help="k of the evidence recall R@k")] = 10,
    conversations: Annotated[int | None, typer.Option(help="use only the first N conversations")] = None,
    sessions: Annotated[int | None, typer.Option(help="use only the first N sessions of each conversation")] = None,
    max_questions: Annotated[int | None, typer.Option(help="ask at most N questions per conversation")] = None,
    extractor: Annotated[str, typer.Option(help="extractor (compaction and ingestion)")] = "rules+turns",
    embedder: Annotated[str, typer.Option(help="embedder: minilm-int8 | minilm | ...")] = "minilm-int8",
    recall: Annotated[bool, typer.Option(help="ingest each compaction and measure recall (the slow part)")] = True,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    json_out: JsonOut = None,
) -> None:
    """Compaction on LoCoMo: per strategy, compression ratio, validation score, and evidence recall when each
    conversation's compaction stands in for its raw turns."""
    from rich.console import Console

    from ..service.compaction import STRATEGIES
    from .compaction import CompactionEvalConfig
    from .compaction import render_compaction_report
    from .compaction import run_compaction_eval

    chosen = tuple(s.strip() for s in strategies.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(STRATEGIES))
    if unknown or not chosen:
        raise typer.BadParameter(f"strategies must be among {', '.join(STRATEGIES)}; got {unknown or 'none'}")
    if not 1 <= k <= 50:
        raise typer.BadParameter("k must be from 1 to 50")
    cfg = CompactionEvalConfig(**_options(ctx, strategies=chosen))
    try:
        rows = asyncio.run(run_compaction_eval(files, cfg))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    Console().print(render_compaction_report(rows, cfg))
    _write_json(json_out, [r.to_json() for r in rows])


def fuzz(
    requests: Annotated[int, typer.Option(help="requests in all")] = 10_000,
    seed: Annotated[int, typer.Option(help="seed of the hostile-text generator")] = 7,
    schemathesis_share: Annotated[float, typer.Option(help="share of the requests made by schemathesis")] = 0.5,
    json_out: JsonOut = None,
    dsn: Annotated[
        str | None, typer.Option(help="database of the server (default: a fresh temporary SQLite file)")
    ] = None,
) -> None:
    """Send random and hostile requests over every route of a live server; count 5xx, time /health (not a test)."""
    from .fuzz import run_fuzz

    figures = run_fuzz(requests=requests, seed=seed, schemathesis_share=schemathesis_share, dsn=dsn, log=typer.echo)
    typer.echo(json.dumps(figures, indent=2))
    _write_json(json_out, figures)
    if figures["server_errors"] or figures["health_failures"]:
        raise typer.Exit(1)


def eval_doc2dial(
    split: Annotated[str, typer.Argument(help="a doc2dial split directory (documents.jsonl, queries.jsonl)")],
    mode: Annotated[str, typer.Option(help="fetch mode: fast | accurate")] = "fast",
    json_out: JsonOut = None,
    max_queries: Annotated[int | None, typer.Option(help="ask only the first N queries")] = None,
    extractor: Annotated[str, typer.Option(help="extractor to ingest with")] = "rules+turns",
    embedder: Annotated[str, typer.Option(help="embedder: minilm-int8 | minilm | ...")] = "minilm-int8",
    dsn: Annotated[str | None, typer.Option(help="database (default: a fresh temporary SQLite file)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
) -> None:
    """Document memory on doc2dial (span coverage R@1/5/10, tokens per query) through the SDK, beside the
    baselines of the data's README (fresh database; one customer scope per domain)."""
    from rich.console import Console

    from .doc2dial import Doc2DialConfig
    from .doc2dial import render_doc2dial
    from .doc2dial import run_doc2dial

    if mode not in ("fast", "accurate"):
        raise typer.BadParameter("mode must be fast or accurate")
    cfg = Doc2DialConfig(
        mode=mode, max_queries=max_queries, extractor=extractor, embedder=embedder, dsn=dsn, progress=progress
    )
    try:
        report = asyncio.run(run_doc2dial(split, cfg))
    except (OSError, ValueError, KeyError) as exc:
        raise typer.BadParameter(f"cannot read the split {split}: {exc}") from exc
    Console().print(render_doc2dial(report))
    _write_json(json_out, report.to_json())


def register(app: typer.Typer) -> None:
    """Add ``bench``, ``bench-server``, ``bench-postgres``, ``fuzz``, ``eval locomo``, ``eval compaction`` and
    ``eval doc2dial`` to ``app``."""
    app.command("bench")(bench)
    app.command("fuzz")(fuzz)
    app.command("bench-server")(bench_server)
    app.command("bench-postgres")(bench_postgres)
    eval_app = typer.Typer(help="Retrieval-quality evaluations", no_args_is_help=True)
    eval_app.command("locomo")(eval_locomo)
    eval_app.command("compaction")(eval_compaction)
    eval_app.command("doc2dial")(eval_doc2dial)
    app.add_typer(eval_app, name="eval")
