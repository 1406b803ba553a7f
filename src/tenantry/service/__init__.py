"""The engine: the only orchestration code. The embedded SDK and the HTTP server both reach it through
:class:`LocalAPI`, its implementation of the :class:`~tenantry.contract.TenantryAPI` contract.

The package is split by concern; each part's public methods take what a call addresses, already resolved by
:func:`tenantry.scope.resolve_target` (a :class:`~tenantry.scope.Target` or the caller's
:class:`~tenantry.scope.Tenant`), never an instance row plus loose ids:

- :mod:`.memories` — create (durable queue), batch, status, get / update / delete / list by id;
- :mod:`.context` — user, customer, client, conversation and unified context fetches;
- :mod:`.conversations` — recorded turns, transcripts, conversation bindings, prompt context;
- :mod:`.profiles` — user profiles built from a user's own memories;
- :mod:`.admin` — instances, API keys, erasure, operator (WORLD) knowledge;
- :mod:`.export` — export and import of a user's, a customer's or the instance's data (JSON Lines);
- :mod:`.workers` — the ingestion workers that drain the queue.
"""

from __future__ import annotations

from ._core import AsyncMemoryService
from .api import LocalAPI

__all__ = ["AsyncMemoryService", "LocalAPI"]
