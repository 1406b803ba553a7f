"""Export and import of an instance's data in the JSON Lines records of :mod:`tenantry.dataformat`.

An export is read a page at a time (documents, then memories, then messages of what the caller's ids reach: a user,
a customer with its users, or the whole instance); the cursor names the kind and the key of the last row sent.
An import checks each record on its own (format, ids, scope against this instance's relationship, metadata), embeds
the memories with this instance's embedder and writes the batch in one transaction; what it skips, it reports with
the record's line number and the reason. Writing the same records twice writes nothing the second time.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING
from typing import Any

from pydantic import ValidationError

from ..contract import ExportData
from ..contract import ImportData
from ..dataformat import EXPORT_KINDS
from ..dataformat import HeaderLine
from ..dataformat import MemoryLine
from ..dataformat import MessageLine
from ..dataformat import Record
from ..dataformat import ScopeRef
from ..dataformat import parse_line
from ..errors import InvalidInputError
from ..models import ExportPage
from ..models import ImportReport
from ..models import ImportSkip
from ..scope import ReadChain
from ..scope import Target
from ..scope import Tenant
from ..scope import resolve_target
from ..scope import validate_id
from ..validation import check_metadata
from ..validation import utcnow

if TYPE_CHECKING:
    from ._core import AsyncMemoryService

__all__ = ["MAX_IMPORT", "DataTransfer"]

MAX_IMPORT = 1000
_PLURAL = {"document": "documents", "memory": "memories", "message": "messages"}


def _cursor(kind: str, after: list[Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, after]).encode()).decode()


def _uncursor(cursor: str) -> tuple[str, list[Any] | None]:
    try:
        kind, after = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidInputError("cursor is not one this server gave", details={"field": "cursor"}) from None
    ok = kind in EXPORT_KINDS and (after is None or isinstance(after, list))
    if not ok or (after is not None and kind != "document" and not (len(after) == 1 and isinstance(after[0], int))):
        raise InvalidInputError("cursor is not one this server gave", details={"field": "cursor"})
    if after is not None and kind == "document" and not (len(after) == 4 and all(isinstance(a, str) for a in after)):
        raise InvalidInputError("cursor is not one this server gave", details={"field": "cursor"})
    return kind, after


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


class DataTransfer:
    def __init__(self, svc: AsyncMemoryService) -> None:
        self._svc = svc

    async def export(self, target: Target, request: ExportData, *, instance_name: str | None = None) -> ExportPage:
        """One page of what ``target`` names: its scope and every scope under it, or the whole instance."""
        limit = request.limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be between 1 and 1000", details={"field": "limit"})
        chain = target.erasure if target.scope is not None else ReadChain.instance(target.instance_id)
        records: list[dict[str, Any]] = []
        if request.cursor is None:
            kind: str | None
            kind, after = "document", None
            header = HeaderLine(
                instance_id=target.instance_id,
                instance_name=instance_name,
                relationship=target.tenant.relationship.value,
                scope=ScopeRef.of(target.scope) if target.scope is not None else None,
                exported_at=utcnow(),
            )
            records.append(header.model_dump(mode="json"))
        else:
            kind, after = _uncursor(request.cursor)
        while kind is not None and len(records) < limit:
            want = limit - len(records)
            rows, last = await self._svc.store.export_page(chain, kind, after=after, limit=want)
            records.extend(r.model_dump(mode="json") for r in rows)
            if len(rows) < want:
                following = EXPORT_KINDS.index(kind) + 1
                kind, after = (EXPORT_KINDS[following] if following < len(EXPORT_KINDS) else None), None
            else:
                after = last
        await self._svc.store.audit(
            target.instance_id,
            "data.export",
            detail={"scope": target.scope.source if target.scope else "instance", "records": len(records)},
        )
        # The records are dumps of validated models: validating them again cost ~8 ms a page, on the event loop.
        return ExportPage.model_construct(
            records=records, next_cursor=_cursor(kind, after) if kind is not None else None
        )

    async def import_(self, tenant: Tenant, request: ImportData) -> ImportReport:
        """Check, embed and write up to :data:`MAX_IMPORT` records; report what was skipped and why."""
        records = list(request.records)
        if len(records) > MAX_IMPORT:
            raise InvalidInputError(f"at most {MAX_IMPORT} records per import call", details={"field": "records"})
        lines = list(request.lines) if request.lines is not None else list(range(1, len(records) + 1))
        if len(lines) != len(records):
            raise InvalidInputError("lines must give one line number per record", details={"field": "lines"})
        skipped: list[ImportSkip] = []
        accepted: list[tuple[int, Record]] = []
        for line, raw in zip(lines, records, strict=True):
            kind = raw.get("kind") if isinstance(raw, dict) else None
            try:
                record = parse_line(raw)
                if isinstance(record, HeaderLine):
                    continue
                self._check(tenant, record)
            except ValidationError as exc:
                skipped.append(ImportSkip(line=line, kind=str(kind) if kind else None, reason=_problem(exc)))
                continue
            except InvalidInputError as exc:
                skipped.append(ImportSkip(line=line, kind=record.kind, reason=exc.message))
                continue
            accepted.append((line, record))
        memories = [r for _, r in accepted if isinstance(r, MemoryLine)]
        vectors = iter(await self._svc.embed_documents([m.content for m in memories])) if memories else iter(())
        batch = [(r, next(vectors) if isinstance(r, MemoryLine) else None) for _, r in accepted]
        outcomes = await self._svc.store.restore(tenant.instance_id, batch) if batch else []
        imported = {"documents": 0, "memories": 0, "messages": 0}
        for (line, record), outcome in zip(accepted, outcomes, strict=True):
            if outcome is None:
                imported[_PLURAL[record.kind]] += 1
            else:
                skipped.append(ImportSkip(line=line, kind=record.kind, reason=outcome))
        skipped.sort(key=lambda s: s.line or 0)
        await self._svc.store.audit(
            tenant.instance_id, "data.import", detail={"imported": imported, "skipped": len(skipped)}
        )
        return ImportReport(imported=imported, skipped=skipped)

    @staticmethod
    def _check(tenant: Tenant, record: Record) -> None:
        """The record fits this instance: its scope exists in the instance's relationship, ids are well formed, and
        its metadata carries no scope keys."""
        ref = record.scope
        scope = ref.within(tenant.instance_id)
        target = resolve_target(tenant, customer_id=ref.customer_id or None, user_id=ref.user_id or None)
        if target.write_scope != scope:
            raise InvalidInputError(f"scope {ref.label} does not exist in a {tenant.relationship.value} instance")
        if isinstance(record, MemoryLine):
            validate_id(record.memory_id, "memory_id", required=True)
            validate_id(record.document_id, "document_id")
        elif isinstance(record, MessageLine):
            validate_id(record.message_id, "message_id", required=True)
            validate_id(record.conversation_id, "conversation_id", required=True)
        else:
            validate_id(record.document_id, "document_id", required=True)
        check_metadata(record.metadata)
