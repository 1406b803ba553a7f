"""Operator tasks shared by the CLI and the admin HTTP API: instances and API keys.

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

from .errors import ContextNotFoundError, InvalidInputError
from .scope import Relationship, validate_id
from .store.base import AsyncStore, InstanceRecord, KeyRecord

__all__ = [
    "KEY_PREFIX",
    "IssuedKey",
    "archive_instance",
    "authenticate_key",
    "create_instance_with_key",
    "generate_api_key",
    "get_instance",
    "hash_api_key",
    "instance_dict",
    "issue_key",
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


async def get_instance(store: AsyncStore, ref: str) -> InstanceRecord:
    """Look an instance up by ``inst_`` id or name.

    Raises:
        ContextNotFoundError: no such instance (code ``instance_not_found``).
    """
    inst = await store.get_instance(ref)
    if inst is None:
        raise ContextNotFoundError(f"no instance named or numbered {ref!r}", code="instance_not_found")
    return inst


async def issue_key(store: AsyncStore, instance_id: str, name: str = "default") -> IssuedKey:
    """Create a key for an instance and return it with the secret (the only time the secret is visible).

    Raises:
        InvalidInputError: the name is not a valid id, or the instance is archived.
        ContextNotFoundError: no such instance.
    """
    validate_id(name, "name", required=True)
    inst = await get_instance(store, instance_id)
    if inst.archived:
        raise InvalidInputError(f"instance {inst.instance_id} is archived; it cannot get new keys", code="archived")
    api_key = generate_api_key()
    rec = await store.create_key(inst.instance_id, name, hash_api_key(api_key), key_display_prefix(api_key))
    return IssuedKey(api_key, rec)


async def create_instance_with_key(
    store: AsyncStore, name: str, relationship: Relationship | str, *, key_name: str = "default"
) -> tuple[InstanceRecord, IssuedKey]:
    """Create an instance (``b2b`` or ``b2c``, fixed for its lifetime) and its first API key.

    Raises:
        InvalidInputError: bad name or relationship.
        ConflictError: an instance with that name exists.
    """
    validate_id(name, "name", required=True)
    if name.startswith("inst_"):
        raise InvalidInputError("an instance name may not start with 'inst_' (reserved for ids)", code="invalid_name")
    try:
        rel = Relationship(relationship)
    except ValueError:
        raise InvalidInputError("relationship must be 'b2b' or 'b2c'", details={"field": "relationship"}) from None
    inst = await store.create_instance(name, rel)
    key = await issue_key(store, inst.instance_id, key_name)
    return inst, key


async def archive_instance(store: AsyncStore, ref: str) -> InstanceRecord:
    """Archive an instance (its keys stop working; its data stays until deleted) and revoke all its keys."""
    inst = await get_instance(store, ref)
    await store.archive_instance(inst.instance_id)
    for k in await store.list_keys(inst.instance_id):
        if k.revoked_at is None:
            await store.revoke_key(k.key_id)
    inst.archived = True
    return inst


async def authenticate_key(store: AsyncStore, api_key: str) -> tuple[KeyRecord, InstanceRecord] | None:
    """Return the (live) key record and its instance for a presented key, or ``None``.

    Revoked keys and keys of archived instances do not authenticate."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 256:
        return None
    found = await store.find_key(hash_api_key(api_key))
    if found is None:
        return None
    key, inst = found
    if key.revoked_at is not None or inst.archived:
        return None
    return key, inst


def instance_dict(inst: InstanceRecord) -> dict[str, Any]:
    """JSON-ready view of an instance."""
    return {
        "instance_id": inst.instance_id,
        "name": inst.name,
        "relationship": inst.relationship.value,
        "client_id": inst.client_id,
        "created_at": inst.created_at.isoformat(),
        "archived": inst.archived,
        "embedder": inst.embedder,
        "dimensions": inst.dimensions,
    }


def key_dict(key: KeyRecord) -> dict[str, Any]:
    """JSON-ready view of a key record (never the secret, never the hash)."""
    return {
        "key_id": key.key_id,
        "instance_id": key.instance_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
    }
