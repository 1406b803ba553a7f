"""Instances and API keys, written once for both SQL backends (PostgreSQL runs them as ``tenantry_admin``, which
cannot read memories)."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

from ..errors import ConflictError
from ..scope import Relationship
from . import _rows
from ._plan import Dialect
from ._plan import Op
from ._plan import Plan
from ._plan import PlanStore
from .base import InstanceRecord
from .base import KeyRecord


def _create_instance_plan(d: Dialect, rec: InstanceRecord) -> Plan[None]:
    inserted = yield Op(
        f"INSERT INTO instances (instance_id, name, relationship, client_id, created_at) VALUES ({d.marks(5)}) "
        "ON CONFLICT (name) DO NOTHING RETURNING 1",
        (rec.instance_id, rec.name, rec.relationship.value, rec.client_id, d.ts(rec.created_at)),
    )
    if not inserted.rows:
        raise ConflictError(f"an instance named {rec.name!r} already exists", code="instance_exists")


def _instance_plan(d: Dialect, ref: str) -> Plan[InstanceRecord | None]:
    found = yield Op(
        f"SELECT {_rows.INSTANCE_COLS} FROM instances WHERE instance_id = {d.p} OR name = {d.p} "
        f"ORDER BY (instance_id = {d.p}) DESC LIMIT 1",
        (ref, ref, ref),
    )
    return _rows.instance(found.first) if found.first else None


def _instances_plan(include_archived: bool) -> Plan[list[InstanceRecord]]:
    where = "" if include_archived else " WHERE NOT archived"
    found = yield Op(f"SELECT {_rows.INSTANCE_COLS} FROM instances{where} ORDER BY created_at")
    return [_rows.instance(r) for r in found.rows]


def _update_instance_plan(d: Dialect, instance_id: str, **values: object) -> Plan[None]:
    sets = ", ".join(f"{column} = {d.p}" for column in values)
    yield Op(f"UPDATE instances SET {sets} WHERE instance_id = {d.p}", (*values.values(), instance_id))


def _create_key_plan(d: Dialect, rec: KeyRecord, key_hash: str) -> Plan[None]:
    yield Op(
        f"INSERT INTO api_keys (key_id, instance_id, name, key_hash, prefix, created_at) VALUES ({d.marks(6)})",
        (rec.key_id, rec.instance_id, rec.name, key_hash, rec.prefix, d.ts(rec.created_at)),
    )


def _find_key_plan(d: Dialect, key_hash: str) -> Plan[tuple[KeyRecord, InstanceRecord] | None]:
    found = yield Op(
        f"SELECT {_rows.KEY_COLS} FROM api_keys WHERE key_hash = {d.p} AND revoked_at IS NULL", (key_hash,)
    )
    if found.first is None:
        return None
    key = _rows.key(found.first)
    inst = yield Op(f"SELECT {_rows.INSTANCE_COLS} FROM instances WHERE instance_id = {d.p}", (key.instance_id,))
    return (key, _rows.instance(inst.first)) if inst.first else None


def _keys_plan(d: Dialect, instance_id: str) -> Plan[list[KeyRecord]]:
    found = yield Op(
        f"SELECT {_rows.KEY_COLS} FROM api_keys WHERE instance_id = {d.p} ORDER BY created_at", (instance_id,)
    )
    return [_rows.key(r) for r in found.rows]


def _revoke_plan(d: Dialect, key_id: str) -> Plan[bool]:
    revoked = yield Op(
        f"UPDATE api_keys SET revoked_at = {d.p} WHERE key_id = {d.p} AND revoked_at IS NULL RETURNING 1",
        (d.ts(datetime.now(UTC)), key_id),
    )
    return len(revoked.rows) == 1


class _AdminMixin(PlanStore):
    """Instances and keys (every transaction as ``tenantry_admin`` on PostgreSQL)."""

    async def create_instance(self, name: str, relationship: Relationship) -> InstanceRecord:
        rec = InstanceRecord.new(name, relationship, datetime.now(UTC))
        await self._run(_create_instance_plan(self.dialect, rec), instance_id=None)
        return rec

    async def get_instance(self, ref: str) -> InstanceRecord | None:
        return await self._run(_instance_plan(self.dialect, ref), instance_id=None, write=False)

    async def list_instances(self, *, include_archived: bool = False) -> list[InstanceRecord]:
        return await self._run(_instances_plan(include_archived), instance_id=None, write=False)

    async def archive_instance(self, instance_id: str) -> None:
        await self._run(_update_instance_plan(self.dialect, instance_id, archived=True), instance_id=None)

    async def set_instance_embedder(self, instance_id: str, embedder: str, dimensions: int) -> None:
        plan = _update_instance_plan(self.dialect, instance_id, embedder=embedder, dimensions=dimensions)
        await self._run(plan, instance_id=None)

    async def create_key(self, instance_id: str, name: str, key_hash: str, prefix: str) -> KeyRecord:
        key_id = f"key_{uuid.uuid4().hex[:16]}"
        rec = KeyRecord(key_id=key_id, instance_id=instance_id, name=name, prefix=prefix, created_at=datetime.now(UTC))
        await self._run(_create_key_plan(self.dialect, rec, key_hash), instance_id=None)
        return rec

    async def find_key(self, key_hash: str) -> tuple[KeyRecord, InstanceRecord] | None:
        return await self._run(_find_key_plan(self.dialect, key_hash), instance_id=None, write=False)

    async def list_keys(self, instance_id: str) -> list[KeyRecord]:
        return await self._run(_keys_plan(self.dialect, instance_id), instance_id=None, write=False)

    async def revoke_key(self, key_id: str) -> bool:
        return await self._run(_revoke_plan(self.dialect, key_id), instance_id=None)
