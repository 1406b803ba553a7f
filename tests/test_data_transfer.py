"""Export and import (``tenantry.dataformat``): an export of one database imported into a new one reproduces every
memory, document and message with its scope; a second import writes nothing; bad lines are skipped with their line
numbers; a user's or a customer's export holds nothing of anyone else. Through the SDK, the CLI and HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tenantry import Tenantry
from tenantry.cli import app
from tenantry.store import sqlite_path

runner = CliRunner()

WRITES = [
    ("User: I moved to Lisbon last year and I love surfing.", "acme", "alice"),
    ("User: I am allergic to peanuts.", "acme", "bob"),
    ("Acme's support hours are 9 to 5 CET.", "acme", None),
    ("User: I drive a red Volvo.", "globex", "alice"),
    ("Every customer gets a 30-day refund window.", None, None),
]


def _key(record: dict[str, Any]) -> str:
    """A record without what differs between two databases (header, ingestion ids)."""
    return json.dumps({k: v for k, v in record.items() if k != "ingestion_id"}, sort_keys=True)


async def _fill(sdk: Tenantry) -> None:
    for text, customer, user in WRITES:
        r = await sdk.memories.create(text, customer_id=customer, user_id=user, document_type="document")
        assert (await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=60)).status == "completed"
    await sdk.conversation.record_message(
        "conv-1", "user", "Hi, I'm Carol", customer_id="globex", user_id="carol", extract=False
    )
    await sdk.conversation.record_message(
        "conv-1", "assistant", "Hello Carol!", customer_id="globex", user_id="carol", extract=False
    )


async def _records(sdk: Tenantry, **ids: str) -> list[dict[str, Any]]:
    return [r async for r in sdk.export_data(**ids)]


async def test_export_then_import_into_a_new_database_reproduces_everything(tmp_path: Path) -> None:
    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'a.db'}", embedder="hashing", workers=1) as source:
        await _fill(source)
        exported = await _records(source)
        first_page = await source.export_page(limit=3)
    header, *records = exported
    assert header["kind"] == "header" and header["relationship"] == "b2b"
    kinds = [r["kind"] for r in records]
    assert kinds == sorted(kinds, key=["document", "memory", "message"].index)
    assert kinds.count("document") == 5 and kinds.count("message") == 2 and kinds.count("memory") >= 5
    assert len(first_page.records) == 3 and first_page.next_cursor is not None
    scopes = {(r["scope"]["level"], r["scope"]["customer_id"], r["scope"]["user_id"]) for r in records}
    assert scopes >= {
        ("user", "acme", "alice"),
        ("user", "globex", "alice"),
        ("customer", "acme", ""),
        ("client", "", ""),
    }

    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'b.db'}", embedder="hashing", workers=0) as target:
        report = await target.import_data(exported)
        assert report.skipped == []
        assert report.imported == {"documents": 5, "memories": kinds.count("memory"), "messages": 2}
        again = await target.import_data(exported)
        assert again.imported == {"documents": 0, "memories": 0, "messages": 0}
        assert len(again.skipped) == len(records)  # the header is not a record
        reimported = await _records(target)
        assert sorted(map(_key, reimported[1:])) == sorted(map(_key, records))
        # Restored memories are searchable in their scope, and only there.
        ctx = await target.user.context.fetch("alice", "acme", search_query=["where does alice live"])
        assert any("Lisbon" in f.content for f in ctx.items() if hasattr(f, "content"))
        other = await target.user.context.fetch("alice", "globex", search_query=["Lisbon surfing"])
        assert not any("Lisbon" in getattr(f, "content", "") for f in other.items())
        turns = await target.conversation.get_messages("conv-1", customer_id="globex", user_id="carol")
        assert [t.content for t in turns] == ["Hi, I'm Carol", "Hello Carol!"]


async def test_a_users_or_customers_export_holds_only_their_data(tmp_path: Path) -> None:
    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'a.db'}", embedder="hashing", workers=1) as sdk:
        await _fill(sdk)
        alice = (await _records(sdk, customer_id="acme", user_id="alice"))[1:]
        acme = (await _records(sdk, customer_id="acme"))[1:]
    assert alice and {(r["scope"]["customer_id"], r["scope"]["user_id"]) for r in alice} == {("acme", "alice")}
    assert {(r["scope"]["customer_id"], r["scope"]["level"]) for r in acme} == {("acme", "user"), ("acme", "customer")}
    assert {r["scope"]["user_id"] for r in acme} == {"", "alice", "bob"}
    assert not any("Volvo" in json.dumps(r) or "Carol" in json.dumps(r) for r in alice + acme)


async def test_import_checks_each_record_against_the_target_instance(tmp_path: Path) -> None:
    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'a.db'}", embedder="hashing", workers=1) as sdk:
        await _fill(sdk)
        exported = await _records(sdk)
    async with Tenantry(dsn=f"sqlite:///{tmp_path / 'c.db'}", embedder="hashing", workers=0, relationship="b2c") as b2c:
        report = await b2c.import_data(exported)
    reasons = {s.reason for s in report.skipped}
    # b2c has no customer tier: customer-level rows and (customer, user) pairs do not exist there.
    assert any("does not exist in a b2c instance" in r for r in reasons)
    assert report.imported["documents"] == 1  # only the CLIENT document fits
    assert all(s.line is not None for s in report.skipped)


def test_cli_export_import_round_trip_and_bad_lines(tmp_path: Path) -> None:
    src, dst = f"sqlite:///{tmp_path / 'src.db'}", f"sqlite:///{tmp_path / 'dst.db'}"
    env = {"TENANTRY_EMBEDDER": "hashing"}
    for text, customer, user in WRITES[:3]:
        args = ["memories", "add", text, "--dsn", src, "--customer-id", customer]
        res = runner.invoke(app, args + (["--user-id", user] if user else []) + ["--json"], env=env)
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["status"] == "completed"
    out = tmp_path / "backup.jsonl"
    res = runner.invoke(app, ["export", "--dsn", src, "-o", str(out)], env=env)
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    good = len(lines) - 1  # records after the header
    with out.open("a") as fh:
        fh.write("this is not json\n\n")
        fh.write(json.dumps({"kind": "memory", "content": "no scope"}) + "\n")
        fh.write(json.dumps({**json.loads(lines[1]), "document_id": "bad id with spaces"}) + "\n")
    res = runner.invoke(app, ["import", str(out), "--dsn", dst, "--json"], env=env)
    assert res.exit_code == 2, res.output  # some lines were skipped
    report = json.loads(res.stdout)
    assert sum(report["imported"].values()) == good
    skipped = {s["line"]: s["reason"] for s in report["skipped"]}
    n = len(lines)
    assert set(skipped) == {n + 1, n + 3, n + 4}, skipped  # line n + 2 is blank
    assert skipped[n + 1].startswith("not JSON")
    assert "scope" in skipped[n + 3]
    assert "document_id" in skipped[n + 4]
    res = runner.invoke(app, ["memories", "list", "--dsn", dst, "--json"], env=env)
    assert res.exit_code == 0 and json.loads(res.stdout)["total"] == report["imported"]["memories"]
    res = runner.invoke(app, ["import", str(out), "--dsn", dst], env=env)  # twice: nothing new
    assert "imported 0 documents, 0 memories, 0 messages" in res.stdout


def test_cli_memories_commands(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'm.db'}"
    env = {"TENANTRY_EMBEDDER": "hashing"}

    def run(*args: str) -> Any:
        res = runner.invoke(app, [*args, "--dsn", dsn, "--json"], env=env)
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    run("memories", "add", "I love hiking in the Alps", "--customer-id", "acme", "--user-id", "alice")
    hits = run("memories", "search", "hiking", "--customer-id", "acme", "--user-id", "alice")["results"]
    assert hits and "hiking" in hits[0]["content"] and hits[0]["scope"] == "user:alice"
    assert run("memories", "search", "hiking", "--customer-id", "acme")["results"] == []
    mid = hits[0]["id"]
    before = runner.invoke(app, ["memories", "list", "--dsn", dsn], env=env).stdout
    assert run("memories", "get", mid)["content"] == hits[0]["content"]
    assert run("memories", "delete", mid, "--customer-id", "acme", "--user-id", "alice")["memory_id"] == mid
    res = runner.invoke(app, ["memories", "get", mid, "--dsn", dsn], env=env)
    assert res.exit_code == 1 and "error (memory_not_found)" in res.output
    table = runner.invoke(app, ["memories", "list", "--dsn", dsn], env=env)
    kept = int(before.split(" memories")[0].rsplit(" ", 1)[1])  # the note is kept whole beside its typed memory
    assert table.exit_code == 0 and f"{kept - 1} memories" in table.stdout and mid[:8] not in table.stdout


def test_a_typo_in_the_instance_name_is_an_error_not_a_new_instance(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = f"sqlite:///{tmp_path / 't.db'}"
    env = {"TENANTRY_EMBEDDER": "hashing"}
    res = runner.invoke(app, ["memories", "add", "hello there", "--dsn", dsn, "--instance", "suport"], env=env)
    assert res.exit_code == 1 and "no instance named or numbered 'suport'" in res.output
    res = runner.invoke(app, ["instance", "list", "--dsn", dsn, "--json"])
    assert json.loads(res.stdout)["instances"] == []
    res = runner.invoke(
        app, ["memories", "add", "hi there", "--dsn", dsn, "--instance", "support", "--create"], env=env
    )
    assert res.exit_code == 0, res.output
    assert "created instance 'support'" in caplog.text  # on stderr (the logging default) in a shell


def test_sqlite_dsn_convention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three slashes: relative to the working directory; four: absolute."""
    assert sqlite_path("sqlite:///data/mem.db") == "data/mem.db"
    assert sqlite_path("sqlite:////srv/mem.db") == "/srv/mem.db"
    assert sqlite_path("sqlite:///:memory:") == sqlite_path("sqlite://") == ":memory:"
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(
        app, ["memories", "add", "hello there", "--dsn", "sqlite:///rel.db"], env={"TENANTRY_EMBEDDER": "hashing"}
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rel.db").exists()
