"""Operator tasks shared by the CLI and the admin HTTP API: instances and API keys (:class:`Admin`).

API keys look like ``tn_`` + 32 URL-safe random characters (192 bits). Only their SHA-256 hash and a short display
prefix are stored; the key itself is shown once, when it is issued. A key belongs to exactly one instance; an
instance may have several keys, each revocable on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from ..errors import ContextNotFoundError
from ..errors import InvalidInputError
from ..models import Instance
from ..scope import Relationship
from ..scope import validate_id
from ..store.base import AsyncStore
from ..store.base import InstanceRecord
from ..store.base import KeyRecord

__all__ = [
    "KEY_PREFIX",
    "Admin",
    "IssuedKey",
    "generate_api_key",
    "hash_api_key",
    "instance_dict",
    "key_dict",
    "key_display_prefix",
    "tokens_equal",
]

KEY_PREFIX = "tn_"
_KEY_RANDOM_BYTES = 24  # token_urlsafe(24) -> 32 characters


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued key: ``api_key`` is the secret, shown once and never stored."""

    api_key: str
    record: KeyRecord


def generate_api_key() -> str:
    """Return a new random API key (``tn_`` + 32 URL-safe characters)."""
    return KEY_PREFIX + secrets.token_urlsafe(_KEY_RANDOM_BYTES)


def hash_api_key(api_key: str) -> str:
    """Return the hex SHA-256 of a key: the only form in which keys are stored and looked up."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def key_display_prefix(api_key: str) -> str:
    """Return the first characters of a key (``tn_`` + 5), enough for a human to tell keys apart."""
    return api_key[: len(KEY_PREFIX) + 5]


def tokens_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class Admin:
    """Operator tasks over a store: instances and their API keys. Needs no embedder: the CLI builds it on a bare
    store (``Admin(store)``), the engine holds one as ``service.admin``."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store

    async def get_instance(self, ref: str) -> InstanceRecord:
        """Look an instance up by ``inst_`` id or name.

        Raises:
            ContextNotFoundError: no such instance (code ``instance_not_found``).
        """
        inst = await self.store.get_instance(ref)
        if inst is None:
            raise ContextNotFoundError(f"no instance named or numbered {ref!r}", code="instance_not_found")
        return inst

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        return await self.store.list_instances(include_archived=include_archived)

    async def create_instance(self, name: str, relationship: Relationship | str) -> InstanceRecord:
        """Create an instance (``b2b`` or ``b2c``, fixed for its lifetime).

        Raises:
            InvalidInputError: bad name or relationship.
            ConflictError: an instance with that name exists.
        """
        validate_id(name, "name", required=True)
        if name.startswith("inst_"):
            raise InvalidInputError(
                "an instance name may not start with 'inst_' (reserved for ids)", code="invalid_name"
            )
        try:
            rel = Relationship(relationship)
        except ValueError:
            raise InvalidInputError("relationship must be 'b2b' or 'b2c'", details={"field": "relationship"}) from None
        return await self.store.create_instance(name, rel)

    async def create_instance_with_key(
        self, name: str, relationship: Relationship | str, *, key_name: str = "default"
    ) -> tuple[InstanceRecord, IssuedKey]:
        """Create an instance and its first API key (the secret is in the result only)."""
        inst = await self.create_instance(name, relationship)
        return inst, await self.issue_key(inst.instance_id, key_name)

    async def archive_instance(self, ref: str) -> InstanceRecord:
        """Archive an instance (its keys stop working; its data stays until deleted) and revoke all its keys."""
        inst = await self.get_instance(ref)
        await self.store.archive_instance(inst.instance_id)
        for k in await self.store.list_keys(inst.instance_id):
            if k.revoked_at is None:
                await self.store.revoke_key(k.key_id)
        inst.archived = True
        return inst

    async def issue_key(self, instance_ref: str, name: str = "default") -> IssuedKey:
        """Create a key for an instance and return it with the secret (the only time the secret is visible).

        Raises:
            InvalidInputError: the name is not a valid id, or the instance is archived.
            ContextNotFoundError: no such instance.
        """
        validate_id(name, "name", required=True)
        inst = await self.get_instance(instance_ref)
        if inst.archived:
            raise InvalidInputError(f"instance {inst.instance_id} is archived; it cannot get new keys", code="archived")
        api_key = generate_api_key()
        rec = await self.store.create_key(inst.instance_id, name, hash_api_key(api_key), key_display_prefix(api_key))
        return IssuedKey(api_key, rec)

    async def list_keys(self, instance_ref: str) -> list[KeyRecord]:
        inst = await self.get_instance(instance_ref)
        return await self.store.list_keys(inst.instance_id)

    async def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke a live key; returns its record. ``ContextNotFoundError`` (``key_not_found``) otherwise."""
        validate_id(key_id, "key_id", required=True)
        if not await self.store.revoke_key(key_id):
            raise ContextNotFoundError(f"no live key {key_id}", code="key_not_found")
        for inst in await self.store.list_instances(include_archived=True):
            for k in await self.store.list_keys(inst.instance_id):
                if k.key_id == key_id:
                    return k
        raise ContextNotFoundError(f"no key {key_id}", code="key_not_found")  # pragma: no cover - revoked above

    async def queue_depth(self, status: str) -> int:
        """How many ingestion jobs of every instance are in ``status`` (``queued``, ``processing``)."""
        return await self.store.count_jobs(statuses=(status,))

    async def authenticate_key(self, api_key: str) -> tuple[KeyRecord, InstanceRecord] | None:
        """Return the (live) key record and its instance for a presented key, or ``None``.

        Revoked keys and keys of archived instances do not authenticate."""
        if not api_key.startswith(KEY_PREFIX) or len(api_key) > 256:
            return None
        found = await self.store.find_key(hash_api_key(api_key))
        if found is None:
            return None
        key, inst = found
        if key.revoked_at is not None or inst.archived:
            return None
        return key, inst


def instance_dict(inst: InstanceRecord) -> dict[str, Any]:
    """JSON-ready view of an instance."""
    return Instance.model_validate(inst, from_attributes=True).model_dump(mode="json")


def key_dict(key: KeyRecord) -> dict[str, Any]:
    """JSON-ready view of a key record (never the secret, never the hash)."""
    return key.model_dump(mode="json")
