"""Every write, read and delete leaves an audit entry with ids and counts, never content."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


async def test_audit_log_records_ids_not_content(make_service: Any) -> None:
    svc, inst, _, sdk = await make_service("b2b")
    r = await sdk.memories.create("alice secret: the vault code is 4711", customer_id="acme", user_id="alice")
    await svc.workers.run_pending()
    st = await sdk.memories.status(r.ingestion_id)
    await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["vault code"])
    await sdk.memories.delete(st.memory_ids[0])
    await sdk.delete_data(customer_id="acme", user_id="alice")
    path = svc.store.dsn.removeprefix("sqlite:///")

    def rows() -> list[tuple[str, str, str]]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT instance_id, action, detail FROM audit_log ORDER BY id").fetchall()

    # Writes and deletions are committed with their audit row (a kill -9 right after loses neither) ...
    assert [a for _, a, _ in rows()] == ["memory.create", "memory.delete", "data.delete"]
    # ... reads are buffered and written in batches.
    await svc.store.flush_audit()
    assert [a for _, a, _ in rows()] == ["memory.create", "memory.delete", "data.delete", "context.fetch"]
    rows_ = rows()
    assert {i for i, _, _ in rows_} == {inst.instance_id}
    for _, _, detail in rows_:
        assert "vault" not in detail and "4711" not in detail
        json.loads(detail)
