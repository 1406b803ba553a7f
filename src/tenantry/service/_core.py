"""``AsyncMemoryService``: what the parts of the engine share (settings, store, embedder, pipeline, retrieval) and
the parts themselves, one attribute each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from .._embedding import EmbeddingRunner
from ..errors import ConfigurationError
from ..errors import ContextNotFoundError
from ..pipeline.base import Embedder
from ..pipeline.base import Extractor
from ..pipeline.base import Vectors
from ..pipeline.ingest import IngestPipeline
from ..pipeline.registry import create_embedder
from ..pipeline.registry import create_extractor
from ..retrieval.engine import RetrievalEngine
from ..retrieval.features import Features
from ..scope import Relationship
from ..settings import Settings
from ..store import open_store
from ..store.base import AsyncStore
from ..store.base import InstanceRecord
from .admin import Admin
from .api import LocalAPI
from .context import Context
from .conversations import Conversations
from .erasure import Erasure
from .export import DataTransfer
from .memories import Memories
from .profiles import Profiles
from .workers import Workers

__all__ = ["AsyncMemoryService"]

log = logging.getLogger("tenantry")


class AsyncMemoryService:
    """The engine. Build it with :meth:`open` (reads :class:`Settings`), close it with :meth:`close`; reach it
    per instance through :meth:`api`."""

    def __init__(self, settings: Settings, store: AsyncStore, embedder: Embedder, extractor: Extractor) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.extractor = extractor
        # Queries and ingestion embed on separate threads, so a fetch never waits behind a large ingestion batch.
        self._embedding = EmbeddingRunner(embedder)
        features = Features(settings.ablate)
        self.pipeline = IngestPipeline(
            store, extractor, self.embed_documents, dedup_threshold=settings.dedup_threshold, features=features
        )
        self.engine = RetrievalEngine(store, self.embed, features=features)
        self.queued = asyncio.Event()  # set when a job is enqueued: wakes idle workers
        self._instances: dict[str, InstanceRecord] = {}
        self.admin = Admin(store)
        self.memories = Memories(self)
        self.conversations = Conversations(self)
        self.context = Context(self)
        self.profiles = Profiles(self)
        self.erasure = Erasure(self)
        self.data = DataTransfer(self)
        self.workers = Workers(self)

    @classmethod
    async def open(cls, settings: Settings | None = None, **overrides: Any) -> AsyncMemoryService:
        settings = settings or Settings(**overrides)
        store = open_store(settings.resolved_dsn())
        await store.open()
        try:
            embedder = create_embedder(settings.embedder, cache_dir=settings.model_cache)
            extractor = create_extractor(settings.extractor, features=Features(settings.ablate))
            svc = cls(settings, store, embedder, extractor)
        except Exception:
            await store.close()
            raise
        return svc

    async def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the workers (after the jobs they hold, when ``drain``) and close the store."""
        await self.workers.stop(drain=drain, timeout=timeout)
        await self.store.close()
        self._embedding.close()

    def api(self, instance: InstanceRecord) -> LocalAPI:
        """The contract's operations for one instance (what the server builds per request from the API key)."""
        return LocalAPI(self, instance)

    # -- embedding ------------------------------------------------------------------------------------------------
    async def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed ingestion text (large batches) on the ingestion thread."""
        return await self._embedding.documents(texts)

    async def embed(self, texts: Sequence[str], instance_id: str) -> Vectors:
        """Embed query text of one instance (micro-batched across concurrent fetches; repeated queries of the same
        instance are served from its cache)."""
        return await self._embedding.queries(texts, partition=instance_id)

    async def warm_up(self) -> None:
        """Load the embedder now (for ``minilm-int8`` on a new machine: build its model file, ~2 s), so the first
        request does not pay for it. Used by the server before it accepts connections."""
        await self._embedding.documents(["tenantry warm-up"])

    # -- instances ------------------------------------------------------------------------------------------------
    async def instance(self, ref: str, *, create: Relationship | None = None) -> InstanceRecord:
        """Look an instance up by id or name; with ``create``, make it on first use. Its embedder is checked against
        this process's (an instance keeps the embedder it was built with)."""
        cached = self._instances.get(ref)
        if cached is not None:
            return cached
        inst = await self.store.get_instance(ref)
        if inst is None and create is not None:
            if ref.startswith("inst_"):
                raise ContextNotFoundError(f"no instance {ref}", code="instance_not_found")
            try:
                inst = await self.store.create_instance(ref, create)
                # A typo in TENANTRY_INSTANCE would otherwise start an empty instance without a word.
                log.warning("tenantry: created instance %r (%s): no instance had that name", ref, create.value)
            except Exception:
                inst = await self.store.get_instance(ref)  # created concurrently by another process
        if inst is None:
            names = sorted(i.name for i in await self.store.list_instances())
            known = f"; instances here: {', '.join(names[:20])}" if names else "; this database has none yet"
            raise ContextNotFoundError(
                f"no instance named or numbered {ref!r}{known} (create one with `tenantry instance create`)",
                code="instance_not_found",
            )
        if inst.embedder is None:
            await self.store.set_instance_embedder(inst.instance_id, self.embedder.name, self.embedder.dimensions)
            inst.embedder, inst.dimensions = self.embedder.name, self.embedder.dimensions
        elif inst.dimensions != self.embedder.dimensions or inst.embedder != self.embedder.name:
            raise ConfigurationError(
                f"instance {inst.name} was built with embedder {inst.embedder} ({inst.dimensions}-d); this process "
                f"runs {self.embedder.name} ({self.embedder.dimensions}-d). Set TENANTRY_EMBEDDER={inst.embedder}."
            )
        self._instances[ref] = self._instances[inst.instance_id] = inst
        return inst

    async def create_instance(self, name: str, relationship: Relationship | str) -> InstanceRecord:
        """A new instance (``b2b`` or ``b2c``, fixed for its lifetime), ready for :meth:`api`."""
        inst = await self.admin.create_instance(name, relationship)
        return await self.instance(inst.instance_id)
