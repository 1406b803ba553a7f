"""The base the PostgreSQL backend's mixins are written against: the store attributes and the transaction they
use (defined by ``PostgresStore``), and the scope version bump that queue completion and memory writes share."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from psycopg_pool import AsyncConnectionPool

from ._pg_rows import Conn
from .base import AsyncStore


class _PgBase(AsyncStore):
    """What ``PostgresStore`` gives its mixins (``_pg_admin``, ``_pg_queue``, ``_pg_partitions``)."""

    app_role: str
    admin_role: str
    _pool: AsyncConnectionPool[Conn] | None

    def _tx(self, instance_id: str | None) -> AbstractAsyncContextManager[Conn]:
        """One transaction as ``tenantry_app`` bound to ``instance_id``, or as ``tenantry_admin`` when ``None``."""
        raise NotImplementedError

    @staticmethod
    async def _bump(conn: Conn, keys: Sequence[tuple[str, str, str, str]], *, create: bool = False) -> None:
        """Increment the version of each scope (creating it with ``create``), in a fixed order (no deadlock)."""
        for k in sorted(set(keys)):
            if create:
                await conn.execute(
                    "INSERT INTO scopes (instance_id, customer_id, level, user_id, version) VALUES (%s,%s,%s,%s,1) "
                    "ON CONFLICT (instance_id, customer_id, level, user_id) DO UPDATE SET version = scopes.version + 1",
                    k,
                )
            else:
                await conn.execute(
                    "UPDATE scopes SET version = version + 1 WHERE instance_id = %s AND customer_id = %s "
                    "AND level = %s AND user_id = %s",
                    k,
                )
