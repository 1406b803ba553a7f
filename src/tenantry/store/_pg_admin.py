"""Instances and API keys of the PostgreSQL backend (run as ``tenantry_admin``)."""

from __future__ import annotations

import uuid

from psycopg.rows import dict_row

from ..errors import ConflictError
from ..scope import Relationship
from ._pg_base import _PgBase
from ._pg_rows import _instance, _key, _now
from .base import InstanceRecord, KeyRecord


class _AdminMixin(_PgBase):
    """Instances and keys: every transaction as ``tenantry_admin``, which cannot read memories."""

    # -- instances and keys (admin role) ------------------------------------------------------------------------------
    async def create_instance(self, name: str, relationship: Relationship) -> InstanceRecord:
        rec = InstanceRecord.new(name, relationship, _now())
        try:
            async with self._tx(None) as conn:
                await conn.execute(
                    "INSERT INTO instances (instance_id, name, relationship, client_id, created_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (rec.instance_id, name, relationship.value, rec.client_id, rec.created_at),
                )
        except ConflictError as exc:
            raise ConflictError(f"an instance named {name!r} already exists", code="instance_exists") from exc
        return rec

    async def get_instance(self, ref: str) -> InstanceRecord | None:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM instances WHERE instance_id = %s OR name = %s ORDER BY (instance_id = %s) DESC LIMIT 1",
                (ref, ref, ref),
            )
            row = await cur.fetchone()
        return _instance(row) if row else None

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        q = "SELECT * FROM instances" + ("" if include_archived else " WHERE NOT archived") + " ORDER BY created_at"
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(q)
            rows = await cur.fetchall()
        return [_instance(r) for r in rows]

    async def archive_instance(self, instance_id: str) -> None:
        async with self._tx(None) as conn:
            await conn.execute("UPDATE instances SET archived = true WHERE instance_id = %s", (instance_id,))

    async def set_instance_embedder(self, instance_id: str, embedder: str, dimensions: int) -> None:
        async with self._tx(None) as conn:
            await conn.execute(
                "UPDATE instances SET embedder = %s, dimensions = %s WHERE instance_id = %s",
                (embedder, dimensions, instance_id),
            )

    async def create_key(self, instance_id: str, name: str, key_hash: str, prefix: str) -> KeyRecord:
        rec = KeyRecord(f"key_{uuid.uuid4().hex[:16]}", instance_id, name, prefix, _now())
        async with self._tx(None) as conn:
            await conn.execute(
                "INSERT INTO api_keys (key_id, instance_id, name, key_hash, prefix, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (rec.key_id, instance_id, name, key_hash, prefix, rec.created_at),
            )
        return rec

    async def find_key(self, key_hash: str) -> tuple[KeyRecord, InstanceRecord] | None:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (key_hash,))
            key = await cur.fetchone()
            if key is None:
                return None
            await cur.execute("SELECT * FROM instances WHERE instance_id = %s", (key["instance_id"],))
            inst = await cur.fetchone()
        return (_key(key), _instance(inst)) if inst else None

    async def list_keys(self, instance_id: str) -> list[KeyRecord]:
        async with self._tx(None) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM api_keys WHERE instance_id = %s ORDER BY created_at", (instance_id,))
            rows = await cur.fetchall()
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str) -> bool:
        async with self._tx(None) as conn:
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL RETURNING 1",
                (_now(), key_id),
            )
            return len(await cur.fetchall()) == 1
