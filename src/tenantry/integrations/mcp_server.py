"""``tenantry mcp``: the memory of one instance as Model Context Protocol tools, over stdio (desktop and IDE clients)
or Streamable HTTP (remote agents), on the official ``mcp`` SDK (2.x: ``mcp.server.mcpserver.MCPServer``).

Tools, in the common shape of memory servers: ``add_memory``, ``ingestion_status``, ``search_memories``,
``get_memory``, ``list_memories``, ``delete_memory``. Each takes optional ``customer_id``/``user_id``; where a call
lands and what it reads follow tenantry's scope rules (SPEC §1).

The scope can be fixed by the server's configuration (:class:`Binding`, ``--customer-id`` / ``--user-id``): a
user-bound server acts for that one user, whatever ids a model passes (other ids are refused, not ignored, so the
model learns its mistake); a customer-bound server acts within that customer (its shared memories and its users').
The instance is the embedded one of the settings (``TENANTRY_DSN``, ``--instance``) or, against a server
(``--url``), the one of the API key.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Annotated
from typing import Any
from typing import Literal
from typing import TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .._version import __version__
from ..errors import TenantryError

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Receive
    from starlette.types import Scope as AsgiScope
    from starlette.types import Send

    from ..sdk import Tenantry

__all__ = ["Binding", "BearerGuard", "build_server"]

T = TypeVar("T")

CustomerId = Annotated[str | None, Field(description="customer (tenant organisation) id; omit for the client scope")]
UserId = Annotated[str | None, Field(description="end-user id (in a b2b instance: with its customer_id)")]
MemoryId = Annotated[str, Field(description="a memory id, as search_memories or list_memories return it")]

_INSTRUCTIONS = """\
Long-term memory scoped per customer and user. Call search_memories before answering questions that may depend on
what the user said before; call add_memory with facts, preferences or events worth remembering. Writes are
extracted in the background: add_memory waits for them unless wait is false (then poll ingestion_status)."""


@dataclass(frozen=True, slots=True)
class Binding:
    """The scope the server's configuration fixes: none (the model names ids), a customer, or one user."""

    customer_id: str | None = None
    user_id: str | None = None

    def ids(self, customer_id: str | None, user_id: str | None) -> tuple[str | None, str | None]:
        """The ids a tool call acts with. Raises :class:`ToolError` when the call names ids outside the binding."""
        if self.user_id is not None:
            if (customer_id not in (None, self.customer_id)) or (user_id not in (None, self.user_id)):
                raise ToolError(f"this memory server is bound to {self._label()}; it cannot reach another scope")
            return self.customer_id, self.user_id
        if self.customer_id is not None:
            if customer_id not in (None, self.customer_id):
                raise ToolError(f"this memory server is bound to {self._label()}; it cannot reach another customer")
            return self.customer_id, user_id
        return customer_id, user_id

    def _label(self) -> str:
        who = f"user {self.user_id!r}" if self.user_id else ""
        of = f"customer {self.customer_id!r}" if self.customer_id else ""
        return " of ".join(p for p in (who, of) if p)


async def _call(work: Awaitable[T]) -> T:
    """A tenantry error becomes a tool error the model can read (code and message)."""
    try:
        return await work
    except TenantryError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc


def _item(it: Any) -> dict[str, Any]:
    d = it.model_dump(mode="json", exclude_none=True)
    kind = {"TemporalEvent": "temporal_event"}.get(type(it).__name__, type(it).__name__.lower())
    text = d.get("content") or d.get("summary") or d.get("context") or ""
    out = {"id": d["id"], "type": kind, "content": text, "scope": d.get("source", "")}
    for k in ("score", "event_date", "extracted_at"):
        if k in d:
            out[k] = d[k]
    return out


def _memory(m: Any) -> dict[str, Any]:
    d: dict[str, Any] = m.model_dump(mode="json", exclude_none=True)
    return d


def build_server(sdk: Callable[[], Tenantry], binding: Binding | None = None) -> MCPServer:
    """The MCP server over the SDK ``sdk()`` returns (opened by the caller), acting within ``binding``."""
    bound = binding or Binding()
    server: MCPServer = MCPServer("tenantry", instructions=_INSTRUCTIONS, version=__version__)

    @server.tool()
    async def add_memory(
        content: Annotated[str, Field(description="what to remember: a note, a document or a chat excerpt")],
        customer_id: CustomerId = None,
        user_id: UserId = None,
        document_type: Annotated[
            Literal["document", "ai-chat-conversation", "email", "note"],
            Field(description="how to read the content"),
        ] = "document",
        document_id: Annotated[
            str | None, Field(description="your id for this content: the same id again is not stored twice")
        ] = None,
        wait: Annotated[bool, Field(description="wait until the memories are extracted (a second or two)")] = True,
    ) -> dict[str, Any]:
        """Store content in long-term memory; it is extracted into facts, preferences and events."""
        c, u = bound.ids(customer_id, user_id)
        doc_type = "document" if document_type == "note" else document_type
        created = await _call(
            sdk().memories.create(content, customer_id=c, user_id=u, document_type=doc_type, document_id=document_id)
        )
        if not wait:
            return created.model_dump(mode="json", exclude_none=True)
        done = await _call(sdk().memories.wait_for_completion(created.ingestion_id, timeout_seconds=60))
        return done.model_dump(mode="json", exclude_none=True)

    @server.tool()
    async def ingestion_status(
        ingestion_id: Annotated[str, Field(description="the ingestion_id add_memory returned")],
    ) -> dict[str, Any]:
        """Where the extraction of an add_memory call is: queued, processing, completed or failed."""
        status = await _call(sdk().memories.status(ingestion_id))
        return status.model_dump(mode="json", exclude_none=True)

    @server.tool()
    async def search_memories(
        query: Annotated[str, Field(description="what to recall, in plain words")],
        customer_id: CustomerId = None,
        user_id: UserId = None,
        max_results: Annotated[int, Field(ge=1, le=50, description="how many memories at most")] = 10,
        types: Annotated[
            list[Literal["fact", "preference", "episode", "emotion", "temporal_event"]] | None,
            Field(description="only these kinds of memory"),
        ] = None,
    ) -> dict[str, Any]:
        """Recall the memories most relevant to a query: the user's, their customer's and the shared ones."""
        c, u = bound.ids(customer_id, user_id)
        api = sdk()
        if u:
            ctx = await _call(api.user.context.fetch(u, c, search_query=[query], max_results=max_results, types=types))
        elif c:
            ctx = await _call(api.customer.context.fetch(c, search_query=[query], max_results=max_results, types=types))
        else:
            ctx = await _call(api.client.context.fetch(search_query=[query], max_results=max_results, types=types))
        return {"results": [_item(i) for i in ctx.items()]}

    @server.tool()
    async def get_memory(memory_id: MemoryId, customer_id: CustomerId = None, user_id: UserId = None) -> dict[str, Any]:
        """One memory by id, if the scope may see it."""
        c, u = bound.ids(customer_id, user_id)
        return _memory(await _call(sdk().memories.get(memory_id, user_id=u, customer_id=c)))

    @server.tool()
    async def list_memories(
        customer_id: CustomerId = None,
        user_id: UserId = None,
        page: Annotated[int, Field(ge=1, description="page number, from 1")] = 1,
        page_size: Annotated[int, Field(ge=1, le=100, description="memories per page")] = 20,
    ) -> dict[str, Any]:
        """The memories a scope can see, newest first, a page at a time."""
        c, u = bound.ids(customer_id, user_id)
        res = await _call(sdk().memories.list(user_id=u, customer_id=c, page=page, page_size=page_size))
        return {
            "memories": [_memory(m) for m in res.data],
            "page": res.page,
            "total": res.total,
            "total_pages": res.total_pages,
        }

    @server.tool()
    async def delete_memory(
        memory_id: MemoryId, customer_id: CustomerId = None, user_id: UserId = None
    ) -> dict[str, Any]:
        """Forget one memory."""
        c, u = bound.ids(customer_id, user_id)
        deleted = await _call(sdk().memories.delete(memory_id, user_id=u, customer_id=c))
        return dict(deleted)

    return server


class BearerGuard:
    """ASGI wrapper: every HTTP request must carry ``Authorization: Bearer <token>`` (else 401)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        import hmac

        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "unauthorized: send Authorization: Bearer <TENANTRY_MCP_TOKEN>"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
