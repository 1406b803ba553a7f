"""The ``tenantry`` command line. Commands only parse arguments and call the SDK or the service."""

from __future__ import annotations

import asyncio
from typing import Annotated
from typing import Any

import typer

from .bench.cli import register as register_bench_commands
from .data_cli import register as register_data_commands
from .db_cli import register as register_db_commands
from .errors import ConfigurationError
from .server.commands import register as register_server_commands

app = typer.Typer(
    help="tenantry: multi-tenant memory for AI agents",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: flags read `--json`, not `--json <bool>`
)


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


# The other commands live beside the code they drive: db (tenantry.db_cli); instance, key, serve
# (tenantry.server.commands); memories, export, import (tenantry.data_cli); bench, bench-server, bench-postgres,
# eval locomo (tenantry.bench.cli). The CLI is the only product module that imports tenantry.bench
# (tests/test_layering.py).
_COMMANDS = (register_db_commands, register_server_commands, register_data_commands, register_bench_commands)
for _register in _COMMANDS:
    _register(app)


def main() -> None:
    """The ``tenantry`` command. A misconfiguration (a database that cannot be opened, an unknown embedder...) is
    one line on stderr and exit 1, not a traceback."""
    try:
        app()
    except ConfigurationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
