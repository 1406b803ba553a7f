"""The export format: JSON Lines, one record per line, each with its scope and provenance.

``tenantry export`` (and :meth:`Tenantry.export_data <tenantry.sdk.Tenantry.export_data>`, ``POST /v1/data/export``,
the admin API) writes it; ``tenantry import`` reads it back into the same or another database. A file is::

    {"kind": "header", "format": "tenantry-export", "version": 1, "instance_id": ..., "relationship": "b2b", ...}
    {"kind": "document", "scope": {"level": "user", "customer_id": "acme", "user_id": "alice"}, "document_id": ...}
    {"kind": "memory", "scope": {...}, "memory_id": ..., "memory_type": "fact", "content": ..., "document_id": ...}
    {"kind": "message", "scope": {...}, "conversation_id": ..., "message_id": ..., "role": "user", "content": ...}

- ``scope`` is where the row lives: ``level`` (``user``, ``customer``, ``client``) and the ids that level uses
  (``""`` where it uses none). Import puts each record in the same scope of the target instance.
- Provenance: a memory names the document (``document_id``), the conversation and the ingestion it came from, the
  source segments (``source_evidence``) and the memory that superseded it; a message names its conversation.
- Vectors and lexical index rows are not exported: import rebuilds them with the target's embedder.

Nothing here does I/O: the store produces and consumes these models; the service checks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal
from typing import TypeAlias

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import TypeAdapter

from .scope import Scope
from .scope import ScopeLevel

__all__ = [
    "EXPORT_KINDS",
    "FORMAT",
    "VERSION",
    "DocumentLine",
    "ExportLine",
    "HeaderLine",
    "MemoryLine",
    "MessageLine",
    "Record",
    "ScopeRef",
    "parse_line",
]

FORMAT = "tenantry-export"
VERSION = 1
EXPORT_KINDS = ("document", "memory", "message")  # the order an export writes them in


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeRef(_Line):
    """A scope without its instance (the instance is the one exported from, or imported into)."""

    level: Literal["user", "customer", "client"]
    customer_id: str = ""
    user_id: str = ""

    @classmethod
    def of(cls, scope: Scope) -> ScopeRef:
        return cls(level=scope.level.value, customer_id=scope.customer_id, user_id=scope.user_id)  # type: ignore[arg-type]

    def within(self, instance_id: str) -> Scope:
        """The scope in ``instance_id``. Raises :class:`~tenantry.errors.InvalidScopeError` for ids that do not fit
        the level."""
        return Scope(instance_id, ScopeLevel(self.level), self.customer_id, self.user_id)

    @property
    def label(self) -> str:
        if self.level == "user":
            return f"user:{self.customer_id + '/' if self.customer_id else ''}{self.user_id}"
        return f"customer:{self.customer_id}" if self.level == "customer" else "client"


class HeaderLine(_Line):
    kind: Literal["header"] = "header"
    format: Literal["tenantry-export"] = "tenantry-export"
    version: int = VERSION
    instance_id: str
    instance_name: str | None = None
    relationship: Literal["b2b", "b2c"]
    scope: ScopeRef | None = None  # what was exported: one scope (with what is under it), or the whole instance
    exported_at: datetime


class DocumentLine(_Line):
    """A source document as stored (its text, for a chat its turns as ``speaker: text`` lines)."""

    kind: Literal["document"] = "document"
    scope: ScopeRef
    document_id: str
    document_type: str
    content: str
    content_hash: str = ""
    document_created_at: datetime | None = None
    conversation_id: str | None = None
    created_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryLine(_Line):
    kind: Literal["memory"] = "memory"
    scope: ScopeRef
    memory_id: str
    memory_type: Literal["fact", "preference", "episode", "emotion", "temporal_event"]
    content: str
    confidence: float = Field(ge=0, le=1)
    category: str | None = None
    event_date: datetime | None = None
    valid_until: datetime | None = None
    temporal_category: str | None = None
    subject: str | None = None
    attribute: str | None = None
    entities: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # provenance
    document_id: str | None = None
    conversation_id: str | None = None
    ingestion_id: str | None = None
    source_evidence: list[str] = Field(default_factory=list)
    superseded_by: str | None = None
    mention_count: int = Field(default=1, ge=1)
    created_at: datetime
    updated_at: datetime | None = None


class MessageLine(_Line):
    """One recorded turn; ``scope`` is the binding of its conversation."""

    kind: Literal["message"] = "message"
    scope: ScopeRef
    conversation_id: str
    message_id: str
    role: str
    content: str
    session_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    recorded_at: datetime


Record: TypeAlias = DocumentLine | MemoryLine | MessageLine
ExportLine: TypeAlias = Annotated[HeaderLine | Record, Field(discriminator="kind")]
_LINE: TypeAdapter[HeaderLine | Record] = TypeAdapter(ExportLine)


def parse_line(data: object) -> HeaderLine | Record:
    """One decoded JSON line as its model. Raises :class:`pydantic.ValidationError` (the caller reports it with the
    line number)."""
    return _LINE.validate_python(data)
