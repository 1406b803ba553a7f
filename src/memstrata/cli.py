"""The ``memstrata`` command line. Commands only parse arguments and call the SDK or the service."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

app = typer.Typer(help="memstrata: multi-tenant memory for AI agents", no_args_is_help=True, add_completion=False)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
