"""``tenantry instance ...`` and ``tenantry key ...`` on the database named by TENANTRY_DSN; key hashing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantry.cli import app
from tenantry.service.admin import Admin
from tenantry.service.admin import generate_api_key
from tenantry.service.admin import hash_api_key
from tenantry.service.admin import key_display_prefix
from tenantry.store.sqlite import SQLiteStore

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "admin.db"
    monkeypatch.setenv("TENANTRY_DSN", f"sqlite:///{path}")
    return path


def _json(*args: str) -> dict[str, Any]:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def _authenticates(db: Path, key: str) -> bool:
    async def run() -> bool:
        store = SQLiteStore(f"sqlite:///{db}")
        await store.open()
        try:
            return await Admin(store).authenticate_key(key) is not None
        finally:
            await store.close()

    return asyncio.run(run())


def test_key_format_and_hash() -> None:
    key = generate_api_key()
    assert key.startswith("tn_") and len(key) == 35 and generate_api_key() != key
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key_display_prefix(key) == key[:8]


def test_instance_and_key_lifecycle(db: Path) -> None:
    made = _json("instance", "create", "support-bot", "--relationship", "b2b")
    iid, key = made["instance_id"], made["api_key"]
    assert iid.startswith("inst_") and len(iid) == 21 and key.startswith("tn_") and made["relationship"] == "b2b"
    assert _authenticates(db, key)

    with sqlite3.connect(db) as conn:  # only the hash is stored
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
        assert rows and all(key not in [str(c) for c in r] for r in rows)
        assert conn.execute("SELECT count(*) FROM api_keys WHERE key_hash = ?", (hash_api_key(key),)).fetchone()[0]

    human = runner.invoke(app, ["instance", "create", "shop", "--relationship", "b2c"])
    assert human.exit_code == 0 and "api_key   tn_" in human.stdout and "not shown again" in human.stdout

    dup = runner.invoke(app, ["instance", "create", "support-bot", "--relationship", "b2b"])
    assert dup.exit_code == 1 and "instance_exists" in dup.output
    bad = runner.invoke(app, ["instance", "create", "x", "--relationship", "b2x"])
    assert bad.exit_code != 0

    names = {i["name"]: i for i in _json("instance", "list")["instances"]}
    assert set(names) == {"support-bot", "shop"} and names["shop"]["relationship"] == "b2c"
    shown = _json("instance", "show", "support-bot")
    assert shown["instance_id"] == iid and [k["key_id"] for k in shown["keys"]] == [made["key_id"]]

    second = _json("key", "create", iid, "--name", "ci")
    assert second["name"] == "ci" and second["api_key"] != key and _authenticates(db, second["api_key"])
    keys = _json("key", "list", "support-bot")["keys"]
    assert len(keys) == 2 and all("api_key" not in k for k in keys)

    rev = runner.invoke(app, ["key", "revoke", second["key_id"]])
    assert rev.exit_code == 0 and not _authenticates(db, second["api_key"]) and _authenticates(db, key)
    again = runner.invoke(app, ["key", "revoke", second["key_id"]])
    assert again.exit_code == 1 and "key_not_found" in again.output

    arch = runner.invoke(app, ["instance", "archive", "support-bot"])
    assert arch.exit_code == 0 and not _authenticates(db, key)
    assert [i["name"] for i in _json("instance", "list")["instances"]] == ["shop"]
    assert {i["name"] for i in _json("instance", "list", "--all")["instances"]} == {"support-bot", "shop"}
    missing = runner.invoke(app, ["instance", "show", "nope"])
    assert missing.exit_code == 1 and "instance_not_found" in missing.output


def test_existing_commands_are_kept() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("demo", "bench", "serve", "bench-server", "instance", "key"):
        assert cmd in res.stdout
