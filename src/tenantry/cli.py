"""The ``tenantry`` command line. Commands only parse arguments and call the SDK or the service."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

app = typer.Typer(help="tenantry: multi-tenant memory for AI agents", no_args_is_help=True, add_completion=False)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="customers to simulate")] = 2,
    users: Annotated[int, typer.Option(help="users per customer")] = 2,
    dsn: Annotated[str | None, typer.Option(help="database (default: a temporary SQLite file)")] = None,
) -> None:
    """Run the multi-tenant B2B recipe on a few customers and users and print the context each turn gets."""
    from .demo import run_demo

    _run(run_demo(customers=customers, users=users, dsn=dsn))


@app.command()
def bench(
    sizes: Annotated[str, typer.Option(help="comma-separated memory counts to measure fetch at")] = "10000,100000",
    customers: Annotated[int, typer.Option(help="customers the memories are spread over")] = 100,
    fetches: Annotated[int, typer.Option(help="fetches per size")] = 300,
    ingest_docs: Annotated[int, typer.Option(help="chat documents for the ingestion measurement")] = 300,
    dsn: Annotated[str | None, typer.Option(help="database (default: a temporary SQLite file)")] = None,
    json_out: Annotated[str | None, typer.Option("--json", help="also write the figures to this file")] = None,
) -> None:
    """Benchmark create latency, ingestion throughput and fetch latency (prints figures; not a test)."""
    from .bench import run_bench

    figures = _run(
        run_bench(
            sizes=[int(s) for s in sizes.split(",") if s],
            customers=customers,
            fetches=fetches,
            ingest_docs=ingest_docs,
            dsn=dsn,
        )
    )
    if json_out:
        with open(json_out, "w") as fh:
            json.dump(figures, fh, indent=2)


# -- eval: retrieval-quality evaluations (code in tenantry.eval) ----------------------------------------------------
eval_app = typer.Typer(help="Retrieval-quality evaluations", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("locomo")
def eval_locomo(
    files: Annotated[list[str], typer.Argument(help="LoCoMo files: dev/<n>.json or locomo10_dev.json (list format)")],
    k: Annotated[str, typer.Option("--k", help="comma-separated k values of R@k")] = "1,5,10,20",
    mode: Annotated[str, typer.Option(help="fetch mode: fast | accurate")] = "fast",
    json_out: Annotated[str | None, typer.Option("--json", help="also write the figures to this file")] = None,
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
    from .eval.locomo import run_cli

    try:
        run_cli(
            files,
            k=k,
            mode=mode,
            json_out=json_out,
            max_questions=max_questions,
            conversations=conversations,
            sessions=sessions,
            ablate=ablate,
            extractor=extractor,
            embedder=embedder,
            dsn=dsn,
            progress=progress,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


# -- db / bench-postgres: schema upgrade and checks, PostgreSQL benchmark (code in tenantry.db_cli) -----------------
def _register_db_commands() -> None:
    from .db_cli import register

    register(app)


_register_db_commands()


# -- instance / key / serve / bench-server: admin and HTTP server (code in tenantry.server.commands) ---------------
def _register_server_commands() -> None:
    from .server.commands import register

    register(app)


_register_server_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
