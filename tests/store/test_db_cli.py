"""``tenantry db upgrade`` / ``db check`` on both backends, and what ``check`` says when something is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from tests.pg import PgServer
from typer.testing import CliRunner

from tenantry.db_cli import register
from tenantry.store.migrations import POSTGRES
from tenantry.store.migrations import POSTGRES_RLS_TABLES

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return app


@pytest.mark.postgres
def test_pg_check_then_upgrade_then_check(pg_server: PgServer) -> None:
    dsn = pg_server.create_database(migrated=False)
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 0, res.output
    versions = [v for v, _ in POSTGRES]
    assert f"migrations pending: {versions}" in res.output and "[ok  ] pgvector: installed" in res.output
    res = runner.invoke(_app(), ["db", "upgrade", "--dsn", dsn])
    assert res.exit_code == 0, res.output
    assert f"applied migrations {versions}" in res.output
    res = runner.invoke(_app(), ["db", "upgrade", "--dsn", dsn])
    assert "already up to date" in res.output
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 0, res.output
    assert f"row-level security: enabled and forced on all {len(POSTGRES_RLS_TABLES)} tables" in res.output
    assert "can SET ROLE tenantry_app" in res.output
    if pg_server.citus is None:
        assert "FAIL" not in res.output and "WARN" not in res.output
        assert "[ok  ] citus: not a Citus database" in res.output
        res = runner.invoke(_app(), ["db", "distribute", "--dsn", dsn])
        assert res.exit_code == 1 and "no citus extension" in res.output, res.output
        return
    # Citus: the schema is there but not distributed yet; `db distribute` lays it out, once.
    assert "FAIL" not in res.output and "[WARN] layout: not distributed yet" in res.output, res.output
    by = pg_server.citus
    res = runner.invoke(_app(), ["db", "distribute", "--dsn", dsn, "--by", by, "--shard-count", "4"])
    assert res.exit_code == 0 and "distributed instances, api_keys, ingestions, scopes" in res.output, res.output
    res = runner.invoke(_app(), ["db", "distribute", "--dsn", dsn, "--by", by])
    assert res.exit_code == 0 and f"already laid out --by {by}: nothing to do" in res.output, res.output
    other = "customer" if by == "instance" else "instance"
    res = runner.invoke(_app(), ["db", "distribute", "--dsn", dsn, "--by", other])
    assert res.exit_code == 1 and "already laid out differently" in res.output, res.output
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 0 and "FAIL" not in res.output and "WARN" not in res.output, res.output
    assert f"[ok  ] layout: distributed --by {by}" in res.output and "[ok  ] citus: Citus " in res.output


@pytest.mark.postgres
def test_pg_check_says_what_is_missing(pg_server: PgServer) -> None:
    if pg_server.external and not pg_server.citus:  # a Citus cluster: superuser DSN, owner role made here
        pytest.skip("needs a non-superuser owner role on the private test server")
    dsn = pg_server.create_database(migrated=False, vector=False)
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 1, res.output
    assert "[FAIL] pgvector: available" in res.output and "CREATE EXTENSION vector" in res.output
    res = runner.invoke(_app(), ["db", "upgrade", "--dsn", dsn])
    assert res.exit_code != 0
    assert "vector" in str(res.exception)
    res = runner.invoke(_app(), ["db", "check", "--dsn", "postgresql://nobody@127.0.0.1:1/none"])
    assert res.exit_code == 1 and "cannot connect" in res.output


def test_sqlite_check_and_upgrade(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'x.db'}"
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 0 and "does not exist yet" in res.output, res.output
    res = runner.invoke(_app(), ["db", "upgrade", "--dsn", dsn])
    assert res.exit_code == 0 and "applied migrations [" in res.output, res.output
    res = runner.invoke(_app(), ["db", "check", "--dsn", dsn])
    assert res.exit_code == 0 and "up to date (migrations [" in res.output, res.output
