"""The ``instance``, ``key`` and ``serve`` commands of the ``tenantry`` CLI.

``register(app)`` adds them to the main Typer app (``tenantry.cli``). Instance and key commands work directly on
the database named by ``TENANTRY_DSN`` (or ``--dsn``); no server needs to run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Annotated
from typing import Any
from typing import TypeVar

import typer

if TYPE_CHECKING:
    from ..service.admin import Admin
    from ..store.base import InstanceRecord
    from ..store.base import KeyRecord

__all__ = ["register"]

T = TypeVar("T")

DsnOption = Annotated[str | None, typer.Option("--dsn", help="database (default: TENANTRY_DSN, else ~/.tenantry)")]
JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object")]
InstanceRef = Annotated[str, typer.Argument(help="instance id or name")]


def _with_admin(dsn: str | None, fn: Callable[[Admin], Awaitable[T]]) -> T:
    """Open the store, run ``fn(Admin(store))``, close it; tenantry errors become a one-line message and exit 1."""
    from ..errors import TenantryError
    from ..service.admin import Admin
    from ..settings import Settings
    from ..store import open_store

    async def run() -> T:
        store = open_store(dsn or Settings().resolved_dsn())
        await store.open()
        try:
            return await fn(Admin(store))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except TenantryError as exc:
        typer.echo(f"error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from None


async def _instance_and_keys(admin: Admin, ref: str) -> tuple[InstanceRecord, list[KeyRecord]]:
    inst = await admin.get_instance(ref)
    return inst, await admin.list_keys(inst.instance_id)


def _print(obj: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(obj, indent=None, default=str))
    else:
        for line in lines:
            typer.echo(line)


def _print_rows(
    name: str, rows: list[Any], as_json: bool, as_dict: Callable[[Any], Any], as_line: Callable[[Any], str]
) -> None:
    """A listing: ``{name: [as_dict(row) ...]}`` with ``--json``, else one ``as_line(row)`` per row."""
    _print({name: [as_dict(r) for r in rows]}, as_json, [as_line(r) for r in rows] or [f"no {name}"])


def _instance_line(i: Any) -> str:
    return f"{i.instance_id}  {i.relationship.value}  {i.name}{'  (archived)' if i.archived else ''}"


def _key_line(k: Any) -> str:
    return f"{k.key_id}  {k.prefix}…  {k.name}  {'revoked' if k.revoked_at else 'active'}"


def register(app: typer.Typer) -> None:
    """Add ``instance ...``, ``key ...`` and ``serve`` to ``app``."""
    instance_app = typer.Typer(help="Instances (isolated memory environments)", no_args_is_help=True)
    key_app = typer.Typer(help="API keys of instances", no_args_is_help=True)
    app.add_typer(instance_app, name="instance")
    app.add_typer(key_app, name="key")

    @instance_app.command("create")
    def instance_create(
        name: Annotated[str, typer.Argument(help="unique instance name")],
        relationship: Annotated[str, typer.Option("--relationship", help="b2b or b2c (fixed for life)")],
        key_name: Annotated[str, typer.Option("--key-name", help="name of the first API key")] = "default",
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Create an instance and its first API key (the key is printed once; only its hash is stored)."""
        from ..service.admin import instance_dict
        from ..service.admin import key_dict

        if relationship not in ("b2b", "b2c"):
            raise typer.BadParameter("--relationship must be b2b or b2c")
        inst, key = _with_admin(
            dsn, lambda admin: admin.create_instance_with_key(name, relationship, key_name=key_name)
        )
        obj = {**instance_dict(inst), "api_key": key.api_key, "key_id": key.record.key_id, "key": key_dict(key.record)}
        _print(
            obj,
            as_json,
            [
                f"instance  {inst.instance_id}  {inst.name}  ({inst.relationship.value})",
                f"key_id    {key.record.key_id}",
                f"api_key   {key.api_key}",
                "Store the API key now: it is not shown again.",
            ],
        )

    @instance_app.command("list")
    def instance_list(
        include_archived: Annotated[bool, typer.Option("--all", help="include archived instances")] = False,
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """List instances."""
        from ..service.admin import instance_dict

        rows = _with_admin(dsn, lambda admin: admin.list_instances(include_archived=include_archived))
        _print_rows("instances", rows, as_json, instance_dict, _instance_line)

    @instance_app.command("show")
    def instance_show(
        ref: InstanceRef,
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Show one instance and its keys."""
        from ..service.admin import instance_dict
        from ..service.admin import key_dict

        inst, keys = _with_admin(dsn, lambda admin: _instance_and_keys(admin, ref))
        d = instance_dict(inst)
        _print(
            {**d, "keys": [key_dict(k) for k in keys]},
            as_json,
            [f"{k:12} {v}" for k, v in d.items()] + [f"key {_key_line(k)}" for k in keys],
        )

    @instance_app.command("archive")
    def instance_archive(
        ref: InstanceRef,
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Archive an instance: its keys are revoked; its data stays until deleted."""
        from ..service.admin import instance_dict

        inst = _with_admin(dsn, lambda admin: admin.archive_instance(ref))
        _print(instance_dict(inst), as_json, [f"archived {inst.instance_id} ({inst.name}); its keys are revoked"])

    @key_app.command("create")
    def key_create(
        instance: InstanceRef,
        name: Annotated[str, typer.Option("--name", help="a label for the key")] = "default",
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Issue another API key for an instance (printed once)."""
        from ..service.admin import key_dict

        key = _with_admin(dsn, lambda admin: admin.issue_key(instance, name))
        _print(
            {**key_dict(key.record), "api_key": key.api_key},
            as_json,
            [f"key_id    {key.record.key_id}", f"api_key   {key.api_key}", "Store it now: it is not shown again."],
        )

    @key_app.command("list")
    def key_list(
        instance: InstanceRef,
        dsn: DsnOption = None,
        as_json: JsonFlag = False,
    ) -> None:
        """List an instance's keys (ids, names, prefixes; never the secrets)."""
        from ..service.admin import key_dict

        _, keys = _with_admin(dsn, lambda admin: _instance_and_keys(admin, instance))
        _print_rows("keys", keys, as_json, key_dict, _key_line)

    @key_app.command("revoke")
    def key_revoke(
        key_id: Annotated[str, typer.Argument(help="key id (key_...)")],
        dsn: DsnOption = None,
    ) -> None:
        """Revoke a key. A running server stops accepting it within TENANTRY_KEY_CACHE_SECONDS (default 2 s)."""
        _with_admin(dsn, lambda admin: admin.revoke_key(key_id))
        typer.echo(f"revoked {key_id}")

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        workers_ingest: Annotated[
            int | None, typer.Option("--workers-ingest", help="ingestion workers in this process (TENANTRY_WORKERS)")
        ] = None,
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
        dsn: DsnOption = None,
        processes: Annotated[
            int,
            typer.Option(
                help="server processes sharing the port (SO_REUSEPORT: the kernel spreads connections over them) and "
                "the database; each runs its own ingestion workers"
            ),
        ] = 1,
        grpc_port: Annotated[
            int | None,
            typer.Option(
                help="port of the Synap client's gRPC stream (Listen), on --host; 0: not served "
                "[default: TENANTRY_GRPC_PORT, else 50051]"
            ),
        ] = None,
    ) -> None:
        """Run the HTTP server (the maximem-synap wire API + admin API) on the database of --dsn or TENANTRY_DSN."""
        from ..db_cli import redact_dsn
        from ..db_cli import sqlite_problems
        from ..settings import Settings
        from .config import ServerSettings
        from .processes import serve as serve_http

        if processes < 1:
            raise typer.BadParameter("--processes must be at least 1")
        # Read once here and handed to every server process. With --processes N, each process binds the port itself
        # (SO_REUSEPORT) and runs its own ingestion workers; the queue and the vector cache are multi-process safe;
        # rate limits and metrics are per process. See tenantry/server/processes.py for why not uvicorn's workers.
        overrides: dict[str, Any] = {"workers": workers_ingest, "dsn": dsn}
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
        problems = sqlite_problems(settings.resolved_dsn())
        if problems:  # said now, not as a traceback once the app starts
            typer.echo(f"error: cannot serve {redact_dsn(settings.resolved_dsn())}: {'; '.join(problems)}", err=True)
            raise typer.Exit(1)
        server_settings = ServerSettings()
        chosen = grpc_port if grpc_port is not None else server_settings.grpc_port
        server_settings = server_settings.model_copy(update={"grpc_port": 50051 if chosen is None else chosen})
        server_settings.grpc_host = host
        try:
            code = serve_http(settings, server_settings, host=host, port=port, log_level=log_level, processes=processes)
        except (OSError, ValueError) as exc:  # the port is checked before the app (and its model) starts
            typer.echo(f"error: cannot serve on {host}:{port}: {getattr(exc, 'strerror', None) or exc}", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(code)
