"""``tenantry memories add|search|list|get|delete``, ``tenantry export`` and ``tenantry import``: the data of one
instance from a shell, through the SDK, on the database of ``TENANTRY_DSN`` (``--dsn``, instance ``--instance``) or
against a server (``--url`` and ``--api-key``, or ``TENANTRY_URL`` / ``TENANTRY_API_KEY``).

Output is a table for people and one JSON document with ``--json`` for scripts; errors are one line on stderr and
exit code 1. ``export`` writes JSON Lines (:mod:`tenantry.dataformat`); ``import`` reads them back, idempotently,
with a progress bar on stderr, and lists every line it skipped and why.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO
from typing import TYPE_CHECKING
from typing import Annotated
from typing import Any
from typing import TypeVar

import typer

if TYPE_CHECKING:
    from .models import ContextResponse
    from .models import ImportReport
    from .models import Memory
    from .sdk import Tenantry

__all__ = ["register"]

T = TypeVar("T")

DsnOpt = Annotated[str | None, typer.Option("--dsn", help="database (default: TENANTRY_DSN, else ~/.tenantry)")]
InstanceOpt = Annotated[
    str | None, typer.Option("--instance", help="instance name or id, embedded (default: TENANTRY_INSTANCE)")
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="a tenantry server instead of a database (TENANTRY_URL)")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="the instance's API key for --url (TENANTRY_API_KEY)")]
CustomerOpt = Annotated[str | None, typer.Option("--customer-id", help="customer id (scope)")]
UserOpt = Annotated[str | None, typer.Option("--user-id", help="user id (scope; b2b: with --customer-id)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts instead of a table")]

IMPORT_BATCH = 200  # records per import call (one transaction each)
IMPORT_BATCH_BYTES = 4_000_000  # ... and at most this much JSON (the server's default body limit is 8 MB)


class _Engine:
    """How a command reaches the instance: the options every data command takes."""

    def __init__(self, dsn: str | None, instance: str | None, url: str | None, api_key: str | None) -> None:
        self.dsn, self.instance, self.url, self.api_key = dsn, instance, url, api_key

    @asynccontextmanager
    async def open(self, *, create: bool = False, workers: int | None = 0) -> AsyncIterator[Tenantry]:
        """The SDK on the server (``--url``) or on the database. Embedded, an instance that does not exist is an
        error unless ``create`` or it is the ``default`` one (a typo in ``--instance`` must not start an empty
        instance); one that is created is announced on stderr."""
        from .sdk import Tenantry
        from .service.api import EmbeddedAPI
        from .settings import Settings

        given: dict[str, Any] = {"dsn": self.dsn, "instance": self.instance, "url": self.url, "api_key": self.api_key}
        given["workers"] = workers  # None: TENANTRY_WORKERS (a long-running process extracts what it is given)
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
        create = create or settings.instance == "default"
        api = None if settings.url else EmbeddedAPI(settings, create=create)
        async with Tenantry(settings=settings, api=api) as sdk:
            yield sdk


def _run(coro: Awaitable[T]) -> T:
    """Run a command's coroutine; a tenantry error is one line on stderr and exit code 1."""
    from .errors import TenantryError

    async def main() -> T:
        return await coro

    try:
        return asyncio.run(main())
    except TenantryError as exc:
        typer.echo(f"error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from None


def _emit(data: Any, as_json: bool, table: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(data, default=str, ensure_ascii=False))
    else:
        table()


def _table(title: str | None, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*r)
    Console(width=160).print(t)


def _memory_rows(memories: list[Memory]) -> list[list[str]]:
    return [[m.memory_id, m.memory_type, m.source, f"{m.confidence:.2f}", m.content] for m in memories]


_MEMORY_COLUMNS = ["id", "type", "scope", "conf.", "content"]


def _context_items(ctx: ContextResponse) -> list[dict[str, Any]]:
    """A context response's items, best first, as ``{id, type, scope, score, content}``."""
    items = []
    for it in ctx.items():
        d = it.model_dump(mode="json")
        kind = {"TemporalEvent": "temporal_event"}.get(type(it).__name__, type(it).__name__.lower())
        text = d.get("content") or d.get("summary") or d.get("context") or ""
        items.append({"id": d["id"], "type": kind, "scope": d["source"], "score": d.get("score"), "content": text})
    return items


def _records(stream: IO[str]) -> Iterator[tuple[int, int, Any, str | None]]:
    """(line number, its size in bytes, decoded record, problem) of each line; blank lines give no record."""
    for n, line in enumerate(stream, start=1):
        size = len(line.encode("utf-8"))
        if not line.strip():
            yield n, size, None, None
            continue
        try:
            yield n, size, json.loads(line), None
        except json.JSONDecodeError as exc:
            yield n, size, None, f"not JSON: {exc.msg} (column {exc.colno})"


def register(app: typer.Typer) -> None:
    """Add ``memories ...``, ``export``, ``import`` and ``mcp`` to ``app``."""
    _register_memories(app)
    _register_transfer(app)
    _register_mcp(app)


def _register_mcp(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp(
        transport: Annotated[str, typer.Option(help="stdio (desktop/IDE clients) or http (Streamable HTTP)")] = "stdio",
        customer_id: Annotated[
            str | None, typer.Option("--customer-id", help="bind the server to this customer")
        ] = None,
        user_id: Annotated[
            str | None, typer.Option("--user-id", help="bind the server to this user (b2b: with --customer-id)")
        ] = None,
        host: Annotated[str, typer.Option(help="http: interface to bind")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="http: TCP port")] = 8765,
        path: Annotated[str, typer.Option(help="http: endpoint path")] = "/mcp",
        token: Annotated[
            str | None, typer.Option("--token", help="http: bearer token clients must send (TENANTRY_MCP_TOKEN)")
        ] = None,
        create: Annotated[bool, typer.Option("--create", help="create the instance if it does not exist")] = False,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
    ) -> None:
        """Serve the instance's memory as MCP tools (add_memory, search_memories, get/list/delete_memory,
        ingestion_status) over stdio or Streamable HTTP; --customer-id/--user-id fix the scope the tools act in."""
        from .settings import Settings

        if transport not in ("stdio", "http"):
            raise typer.BadParameter("--transport must be stdio or http")
        token = token or Settings().mcp_token
        loopback = host in ("127.0.0.1", "localhost", "::1")
        if transport == "http" and not loopback and not token:
            raise typer.BadParameter(
                f"--host {host} is reachable from other machines: set --token or TENANTRY_MCP_TOKEN"
            )
        engine = _Engine(dsn, instance, url, api_key)
        _run(_serve_mcp(engine, customer_id, user_id, transport, host, port, path, token, create))


async def _serve_mcp(
    engine: _Engine,
    customer_id: str | None,
    user_id: str | None,
    transport: str,
    host: str,
    port: int,
    path: str,
    token: str | None,
    create: bool,
) -> None:
    from .integrations.mcp_server import BearerGuard
    from .integrations.mcp_server import Binding
    from .integrations.mcp_server import build_server

    sock = None
    if transport == "http":
        from .server.processes import reuseport_socket

        try:  # bind first: a busy port is reported at once, before the engine and its model load
            sock = reuseport_socket(host, port)
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
    try:
        async with engine.open(create=create, workers=None) as sdk:
            server = build_server(lambda: sdk, Binding(customer_id, user_id))
            if transport == "stdio":
                await server.run_stdio_async()
                return
            import uvicorn

            app: Any = server.streamable_http_app(streamable_http_path=path, host=host)
            if token:
                app = BearerGuard(app, token)
            bound = f" bound to customer {customer_id!r}" if customer_id else ""
            bound += f" user {user_id!r}" if user_id else ""
            typer.echo(f"tenantry mcp: Streamable HTTP on http://{host}:{port}{path}{bound}", err=True)
            config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
            await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
    finally:
        if sock is not None:
            sock.close()


def _register_memories(app: typer.Typer) -> None:
    memories_app = typer.Typer(help="Memories of one instance: add, search, list, get, delete", no_args_is_help=True)
    app.add_typer(memories_app, name="memories")

    @memories_app.command("add")
    def add(
        text: Annotated[str, typer.Argument(help="the text to remember ('-' reads stdin)")],
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        document_type: Annotated[str, typer.Option(help="document, ai-chat-conversation, email, ...")] = "document",
        document_id: Annotated[str | None, typer.Option(help="your id: the same id again is not stored twice")] = None,
        wait: Annotated[bool, typer.Option(help="wait until the memories are extracted")] = True,
        create: Annotated[bool, typer.Option("--create", help="create the instance if it does not exist")] = False,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Queue a text for extraction (and with --wait, the default, wait for its memories)."""
        body = sys.stdin.read() if text == "-" else text

        async def go() -> dict[str, Any]:
            async with _Engine(dsn, instance, url, api_key).open(create=create, workers=1 if wait else 0) as sdk:
                r = await sdk.memories.create(
                    body, customer_id=customer_id, user_id=user_id, document_type=document_type, document_id=document_id
                )
                if not wait:
                    return r.model_dump(mode="json")
                st = await sdk.memories.wait_for_completion(r.ingestion_id)
                return st.model_dump(mode="json")

        out = _run(go())
        _emit(
            out,
            as_json,
            lambda: typer.echo(
                f"{out['status']}  ingestion {out['ingestion_id']}  document {out['document_id']}"
                + (f"  memories {len(out.get('memory_ids') or [])}" if wait else "")
                + (f"\n{out['error_message']}" if out.get("error_message") else "")
            ),
        )

    @memories_app.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="what to look for, in plain words")],
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        max_results: Annotated[int, typer.Option(help="1-50")] = 10,
        mode: Annotated[str, typer.Option(help="fast or accurate")] = "fast",
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Search what a user (with --user-id), a customer (--customer-id) or the client scope can see."""

        async def go() -> list[dict[str, Any]]:
            async with _Engine(dsn, instance, url, api_key).open() as sdk:
                if user_id:
                    ctx = await sdk.user.context.fetch(
                        user_id, customer_id, search_query=[query], max_results=max_results, mode=mode
                    )
                elif customer_id:
                    ctx = await sdk.customer.context.fetch(
                        customer_id, search_query=[query], max_results=max_results, mode=mode
                    )
                else:
                    ctx = await sdk.client.context.fetch(search_query=[query], max_results=max_results, mode=mode)
                return _context_items(ctx)

        items = _run(go())
        rows = [[i["id"], i["type"], i["scope"], f"{i['score'] or 0:.3f}", i["content"]] for i in items]
        _emit({"results": items}, as_json, lambda: _table(None, ["id", "type", "scope", "score", "content"], rows))

    @memories_app.command("list")
    def list_(
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        page: Annotated[int, typer.Option(help="page number, from 1")] = 1,
        page_size: Annotated[int, typer.Option(help="1-100")] = 20,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List the memories a user or customer can see (with no ids: every memory of the instance), newest first."""

        async def go() -> Any:
            async with _Engine(dsn, instance, url, api_key).open() as sdk:
                return await sdk.memories.list(user_id=user_id, customer_id=customer_id, page=page, page_size=page_size)

        res = _run(go())
        title = f"page {res.page}/{max(res.total_pages, 1)} — {res.total} memories"
        _emit(res.model_dump(mode="json"), as_json, lambda: _table(title, _MEMORY_COLUMNS, _memory_rows(res.data)))

    @memories_app.command("get")
    def get(
        memory_id: Annotated[str, typer.Argument(help="memory id")],
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Show one memory (within the named user's or customer's reach; any of the instance with no ids)."""

        async def go() -> Memory:
            async with _Engine(dsn, instance, url, api_key).open() as sdk:
                return await sdk.memories.get(memory_id, user_id=user_id, customer_id=customer_id)

        m = _run(go())
        data = m.model_dump(mode="json")
        _emit(data, as_json, lambda: _table(None, ["field", "value"], [[k, str(v)] for k, v in data.items()]))

    @memories_app.command("delete")
    def delete(
        memory_id: Annotated[str, typer.Argument(help="memory id")],
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Delete one memory."""

        async def go() -> dict[str, str]:
            async with _Engine(dsn, instance, url, api_key).open() as sdk:
                return await sdk.memories.delete(memory_id, user_id=user_id, customer_id=customer_id)

        out = _run(go())
        _emit(out, as_json, lambda: typer.echo(f"deleted {out['memory_id']}"))


def _register_transfer(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
        customer_id: CustomerOpt = None,
        user_id: UserOpt = None,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
    ) -> None:
        """Export a user's data, a customer's (with its users'), or the whole instance's, as JSON Lines: documents,
        memories and messages, each with its scope and provenance (format: tenantry.dataformat)."""

        async def go(out: IO[str]) -> dict[str, int]:
            counts: dict[str, int] = {}
            async with _Engine(dsn, instance, url, api_key).open() as sdk:
                async for record in sdk.export_data(customer_id=customer_id, user_id=user_id):
                    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                    counts[str(record["kind"])] = counts.get(str(record["kind"]), 0) + 1
            return counts

        if output is None:
            counts = _run(go(sys.stdout))
        else:
            partial = output.with_name(output.name + ".partial")
            with partial.open("w", encoding="utf-8") as fh:
                counts = _run(go(fh))
            partial.replace(output)  # a file named as asked is a whole export, never a cut one
        counts.pop("header", None)
        plural = {"document": "documents", "memory": "memories", "message": "messages"}
        summary = ", ".join(f"{n} {plural[k]}" for k, n in sorted(counts.items())) or "nothing"
        typer.echo(f"exported {summary}" + (f" to {output}" if output else ""), err=True)

    @app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="a JSON Lines export ('-' reads stdin)")],
        create: Annotated[bool, typer.Option("--create", help="create the instance if it does not exist")] = False,
        dsn: DsnOpt = None,
        instance: InstanceOpt = None,
        url: UrlOpt = None,
        api_key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Import an export into this instance, each record into its own scope. Idempotent: what is already there
        (same document id in its scope, same memory or message id) is skipped, so a file imported twice is written
        once. Lists every skipped line and why; exit code 2 when some were skipped."""
        report = _run(_import(_Engine(dsn, instance, url, api_key), file, create=create, quiet=as_json))
        skipped = [s.model_dump() for s in report.skipped]
        if as_json:
            typer.echo(json.dumps({"imported": report.imported, "skipped": skipped}))
        else:
            for s in report.skipped:
                typer.echo(f"line {s.line}: skipped {s.kind or 'record'}: {s.reason}", err=True)
            done = ", ".join(f"{n} {k}" for k, n in report.imported.items())
            typer.echo(f"imported {done}; skipped {len(skipped)} line(s)")
        if skipped:
            raise typer.Exit(2)


async def _import(engine: _Engine, file: Path, *, create: bool, quiet: bool) -> ImportReport:
    """Send the file in batches (each one transaction), with a progress bar over its bytes; returns the whole
    report (lines that are not JSON included)."""
    from tqdm import tqdm

    from .models import ImportReport
    from .models import ImportSkip

    report = ImportReport(imported={"documents": 0, "memories": 0, "messages": 0}, skipped=[])
    stream = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    total = None if stream is sys.stdin else file.stat().st_size
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="import", file=sys.stderr, disable=quiet or None)
    try:
        async with engine.open(create=create) as sdk:
            batch: list[Any] = []
            lines: list[int] = []
            size = 0

            async def flush() -> None:
                nonlocal size
                if batch:
                    part = await sdk.import_data(batch, lines=lines)
                    for k, n in part.imported.items():
                        report.imported[k] = report.imported.get(k, 0) + n
                    report.skipped.extend(part.skipped)
                batch.clear()
                lines.clear()
                size = 0

            for n, nbytes, record, problem in _records(stream):
                bar.update(nbytes)
                if problem is not None:
                    report.skipped.append(ImportSkip(line=n, reason=problem))
                    continue
                if record is None:
                    continue
                batch.append(record)
                lines.append(n)
                size += nbytes
                if len(batch) >= IMPORT_BATCH or size >= IMPORT_BATCH_BYTES:
                    await flush()
            await flush()
    finally:
        bar.close()
        if stream is not sys.stdin:
            stream.close()
    report.skipped.sort(key=lambda s: s.line or 0)
    return report
