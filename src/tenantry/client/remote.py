"""``RemoteAPI``: the :class:`~tenantry.contract.TenantryAPI` contract over HTTP, against a tenantry server.

Each operation sends its request model to one route of :mod:`tenantry.server` (the body is the request's fields,
``None`` left out) and parses the answer into the same response model the engine returns, so embedded and remote
mode differ only by the wire. Errors come back as the tenantry exception the server's engine raised
(:mod:`tenantry.client._errors`). A 429 is retried (at most ``rate_limit_retries`` times, waiting ``Retry-After`` up
to 10 s); nothing else is retried.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json as jsonlib
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from pydantic_core import to_jsonable_python

from .._version import __version__
from ..contract import BatchCreate
from ..contract import ClientContextQuery
from ..contract import CompactConversation
from ..contract import CompactedQuery
from ..contract import CompactionStatusQuery
from ..contract import ConversationContextQuery
from ..contract import CreateFromFile
from ..contract import CreateMemory
from ..contract import CustomerContextQuery
from ..contract import DeleteData
from ..contract import ExportData
from ..contract import ImportData
from ..contract import IngestTranscript
from ..contract import ListMemories
from ..contract import MemoryRef
from ..contract import ProfileQuery
from ..contract import PromptContextQuery
from ..contract import RecordMessages
from ..contract import TenantryAPI
from ..contract import TurnsQuery
from ..contract import UnifiedContextQuery
from ..contract import UpdateMemory
from ..contract import UserContextQuery
from ..errors import AuthenticationError
from ..errors import RateLimitError
from ..models import BatchCreateResponse
from ..models import Compaction
from ..models import CompactionStatus
from ..models import CompactionTrigger
from ..models import ContextForPromptResponse
from ..models import ContextResponse
from ..models import CreateMemoryResponse
from ..models import DeletedMemory
from ..models import DeletionReceipt
from ..models import ExportPage
from ..models import Identity
from ..models import ImportReport
from ..models import Memory
from ..models import MemoryPage
from ..models import MemoryStatusResponse
from ..models import RecordedMessage
from ..models import TranscriptIngestion
from ..models import Turn
from ..models import UnifiedContextResponse
from ..models import UserProfile
from ._errors import error_from_response
from ._errors import transport_error

__all__ = ["RemoteAPI"]

_NIL_UUID = "00000000-0000-0000-0000-000000000000"  # ingestion id of a batch item that was refused
_UNIFIED_EXTRAS = ("scope_map", "formatted_context", "scopes_queried", "total_items", "conversation_context_for_prompt")


def _fields(request: object, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A request model's fields as JSON values, ``None`` left out."""
    return {
        f.name: to_jsonable_python(v)
        for f in dataclasses.fields(request)  # type: ignore[arg-type]
        if f.name not in skip and (v := getattr(request, f.name)) is not None
    }


def _seg(value: str) -> str:
    """An id as one URL path segment (a ``/`` or ``..`` in it can never reach another route)."""
    return quote(str(value), safe="")


def _context(data: dict[str, Any], *extras: str) -> dict[str, Any]:
    """A context envelope (typed lists under ``context``) back into the engine's response shape."""
    return {
        **(data.get("context") or {}),
        "conversation_context": data.get("conversation_context"),
        "metadata": data.get("metadata") or {},
        **{k: data[k] for k in extras if k in data},
    }


class RemoteAPI(TenantryAPI):
    """HTTP implementation of the contract (``Tenantry(url=..., api_key=...)``).

    Args:
        url: base URL of the server, e.g. ``http://127.0.0.1:8000`` (a path prefix is kept).
        api_key: the instance's API key (``tn_...``); the key alone decides the instance.
        timeout: seconds per request.
        rate_limit_retries: how often a 429 is retried after its ``Retry-After``.
        transport: an httpx transport (tests: ``httpx.ASGITransport``); default: the network.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        rate_limit_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.rate_limit_retries = rate_limit_retries
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------
    async def open(self) -> Identity:
        """Check the key with ``GET /api/v1/auth/whoami``.

        Raises:
            AuthenticationError: no key configured, or the server refuses it.
            ServiceUnavailableError: the server cannot be reached.
        """
        if not self.api_key:
            raise AuthenticationError(
                "remote mode needs an API key: Tenantry(url=..., api_key=...) or TENANTRY_API_KEY",
                code="missing_api_key",
            )
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.api_key}", "User-Agent": f"tenantry-python/{__version__}"},
                timeout=self.timeout,
                transport=self._transport,
            )
        try:
            who = await self._request("GET", "/api/v1/auth/whoami")
        except BaseException:
            await self.close()
            raise
        return Identity.model_validate({**who, "mode": "remote"})

    async def close(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> Any:
        if self._http is None:
            raise AuthenticationError("SDK not initialized: await sdk.initialize() first", code="not_initialized")
        attempt = 0
        while True:
            try:
                resp = await self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    data=form,
                    files=files,
                    headers={"X-Correlation-ID": f"tn_{uuid.uuid4().hex[:20]}"},
                )
            except httpx.HTTPError as exc:
                raise transport_error(exc, self.url) from exc
            if resp.is_success:
                return resp.json()
            err = error_from_response(resp)
            if isinstance(err, RateLimitError) and attempt < self.rate_limit_retries:
                attempt += 1
                await asyncio.sleep(min(err.retry_after, 10.0))
                continue
            raise err

    # -- memories -------------------------------------------------------------------------------------------------
    async def create_memory(self, request: CreateMemory) -> CreateMemoryResponse:
        data = await self._request("POST", "/api/v1/memories/create", json=_fields(request))
        return CreateMemoryResponse.model_validate(data)

    async def create_memory_from_file(self, request: CreateFromFile) -> CreateMemoryResponse:
        """A multipart ``POST /api/v1/memories/upload`` (the Synap client's form): the server reads the file."""
        form = {
            k: v if isinstance(v, str) else jsonlib.dumps(v)
            for k, v in _fields(request, skip=("filename", "content")).items()
        }
        files = {"file": (request.filename, bytes(request.content))}
        data = await self._request("POST", "/api/v1/memories/upload", form=form, files=files)
        return CreateMemoryResponse.model_validate(data)

    async def batch_create(self, request: BatchCreate) -> BatchCreateResponse:
        body = {"documents": [_fields(d) for d in request.documents], "fail_fast": request.fail_fast}
        data = await self._request("POST", "/api/v1/memories/batch", json=body)
        results: list[CreateMemoryResponse | dict[str, Any]] = []
        for r in data["results"]:
            if r.get("status") == "failed" and r.get("ingestion_id") == _NIL_UUID:
                results.append({k: r.get(k) for k in ("index", "status", "error_message", "code")})
            else:
                results.append(CreateMemoryResponse.model_validate({k: v for k, v in r.items() if k != "index"}))
        return BatchCreateResponse.model_validate({**data, "results": results})

    async def ingestion_status(self, ingestion_id: str) -> MemoryStatusResponse:
        data = await self._request("GET", f"/api/v1/memories/status/{_seg(ingestion_id)}")
        return MemoryStatusResponse.model_validate(data)

    async def get_memory(self, request: MemoryRef) -> Memory:
        path = f"/api/v1/memories/{_seg(request.memory_id)}"
        return Memory.model_validate(await self._request("GET", path, params=_fields(request, skip=("memory_id",))))

    async def update_memory(self, request: UpdateMemory) -> Memory:
        path = f"/api/v1/memories/{_seg(request.memory_id)}"
        return Memory.model_validate(await self._request("PATCH", path, json=_fields(request, skip=("memory_id",))))

    async def delete_memory(self, request: MemoryRef) -> DeletedMemory:
        path = f"/api/v1/memories/{_seg(request.memory_id)}"
        data = await self._request("DELETE", path, params=_fields(request, skip=("memory_id",)))
        return DeletedMemory.model_validate(data)

    async def list_memories(self, request: ListMemories) -> MemoryPage:
        params = _fields(request)
        if not params.get("include_superseded"):
            params.pop("include_superseded", None)
        return MemoryPage.model_validate(await self._request("GET", "/api/v1/memories", params=params))

    # -- conversations --------------------------------------------------------------------------------------------
    async def record_messages(self, request: RecordMessages) -> list[RecordedMessage]:
        body = {"messages": [_fields(m) for m in request.messages], "extract": request.extract}
        data = await self._request("POST", "/v1/conversations/messages/batch", json=body)
        return [RecordedMessage.model_validate(r) for r in data["results"]]

    async def ingest_transcript(self, request: IngestTranscript) -> TranscriptIngestion:
        data = await self._request("POST", "/v1/conversations/ingest", json=_fields(request))
        return TranscriptIngestion.model_validate(data)

    async def conversation_turns(self, request: TurnsQuery) -> list[Turn]:
        path = f"/v1/conversations/{_seg(request.conversation_id)}/messages"
        data = await self._request("GET", path, params=_fields(request, skip=("conversation_id",)))
        return [Turn.model_validate(t) for t in data["turns"]]

    async def context_for_prompt(self, request: PromptContextQuery) -> ContextForPromptResponse:
        path = f"/v1/conversations/{_seg(request.conversation_id)}/context-for-prompt"
        data = await self._request("GET", path, params=_fields(request, skip=("conversation_id",)))
        return ContextForPromptResponse.model_validate(data)

    async def compact_conversation(self, request: CompactConversation) -> CompactionTrigger:
        data = await self._request("POST", "/v1/conversations/compact", json=_fields(request))
        return CompactionTrigger.model_validate(data)

    async def get_compaction(self, request: CompactedQuery) -> Compaction:
        path = f"/v1/conversations/{_seg(request.conversation_id)}/compacted"
        data = await self._request("GET", path, params=_fields(request, skip=("conversation_id",)))
        return Compaction.model_validate(data)

    async def compaction_status(self, request: CompactionStatusQuery) -> CompactionStatus:
        path = f"/v1/conversations/{_seg(request.conversation_id)}/compaction/status"
        data = await self._request("GET", path, params=_fields(request, skip=("conversation_id",)))
        return CompactionStatus.model_validate(data)

    # -- context --------------------------------------------------------------------------------------------------
    async def _fetch(self, path: str, request: object) -> dict[str, Any]:
        data: dict[str, Any] = await self._request("POST", path, json=_fields(request))
        return data

    async def fetch_user(self, request: UserContextQuery) -> ContextResponse:
        return ContextResponse.model_validate(_context(await self._fetch("/v1/context/user/fetch", request)))

    async def fetch_customer(self, request: CustomerContextQuery) -> ContextResponse:
        return ContextResponse.model_validate(_context(await self._fetch("/v1/context/customer/fetch", request)))

    async def fetch_client(self, request: ClientContextQuery) -> ContextResponse:
        return ContextResponse.model_validate(_context(await self._fetch("/v1/context/client/fetch", request)))

    async def fetch_conversation(self, request: ConversationContextQuery) -> ContextResponse:
        data = await self._fetch("/v1/context/conversation/fetch", request)
        return ContextResponse.model_validate(_context(data))

    async def fetch(self, request: UnifiedContextQuery) -> UnifiedContextResponse:
        data = await self._fetch("/v1/context/fetch", request)
        return UnifiedContextResponse.model_validate(_context(data, *_UNIFIED_EXTRAS))

    # -- profiles and data ----------------------------------------------------------------------------------------
    async def get_user_profile(self, request: ProfileQuery) -> UserProfile:
        path = f"/v1/users/{_seg(request.user_id)}/profile"
        data = await self._request("GET", path, params=_fields(request, skip=("user_id",)))
        return UserProfile.model_validate(data["profile"])

    async def delete_data(self, request: DeleteData) -> DeletionReceipt:
        data = await self._request("POST", "/v1/data/delete", json=_fields(request))
        # The wire's ``deleted`` is empty for a dry run (the Synap shape); ``counts`` holds the counts either way.
        return DeletionReceipt.model_validate({**data, "deleted": data["counts"]})

    async def export_data(self, request: ExportData) -> ExportPage:
        return ExportPage.model_validate(await self._request("POST", "/v1/data/export", json=_fields(request)))

    async def import_data(self, request: ImportData) -> ImportReport:
        return ImportReport.model_validate(await self._request("POST", "/v1/data/import", json=_fields(request)))
