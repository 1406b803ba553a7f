"""First-run papercuts: offline /docs, an honest `db check`, id errors that say the length, plain CLI help."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tenantry.cli import app
from tenantry.db_cli import redact_dsn
from tenantry.errors import InvalidInputError
from tenantry.scope import validate_id
from tenantry.server.app import create_app
from tenantry.settings import Settings

runner = CliRunner()


async def test_docs_page_loads_its_assets_from_the_server(tmp_path: Path) -> None:
    settings = Settings(dsn=f"sqlite:///{tmp_path / 'd.db'}", embedder="hashing", workers=0)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "/docs/assets/swagger-ui-bundle.js" in page.text
        js = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("sqlite:////etc/hostname/x.db", "is not a directory"),
    ],
)
def test_db_check_fails_where_the_store_would(dsn: str, says: str) -> None:
    res = runner.invoke(app, ["db", "check", "--dsn", dsn])
    assert res.exit_code == 1 and says in res.output and "everything tenantry needs" not in res.output


def test_db_check_passes_a_creatable_path(tmp_path: Path) -> None:
    res = runner.invoke(app, ["db", "check", "--dsn", f"sqlite:///{tmp_path / 'new' / 'x.db'}"])
    assert res.exit_code == 0 and "created on first use" in res.output


def test_id_errors_say_the_length() -> None:
    with pytest.raises(InvalidInputError, match=r"got 300 characters: 'aaaa.*'\.\.\."):
        validate_id("a" * 299 + " ", "user_id")


def test_help_shows_flags_without_a_type() -> None:
    res = runner.invoke(app, ["memories", "list", "--help"])
    assert "--json" in res.output and "<bool>" not in res.output


def test_dsns_are_said_without_their_password() -> None:
    assert (
        redact_dsn("postgresql://app:s3cret@db.internal:5432/tenantry") == "postgresql://app@db.internal:5432/tenantry"
    )
    assert redact_dsn("postgresql://p%40ss:x@y@h/db") == "postgresql://p%40ss@h/db"
    assert redact_dsn("sqlite:////var/lib/t.db") == "sqlite:////var/lib/t.db"


def test_a_database_that_cannot_be_opened_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """The commands after a failing ``db check`` say why in one line (exit 1): the data CLI, ``serve`` (before it
    binds anything) and the ``tenantry`` entry point itself."""
    import subprocess
    import sys

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    dsn = f"sqlite:///{blocker / 'x.db'}"
    for args in (["memories", "list", "--dsn", dsn], ["instance", "list", "--dsn", dsn], ["serve", "--dsn", dsn]):
        done = subprocess.run(
            [sys.executable, "-m", "tenantry.cli", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TENANTRY_GRPC_PORT": "0"},
        )
        assert done.returncode == 1, (args, done.stderr[-2000:])
        said = f"{blocker} is not a directory" in done.stderr or f"cannot create the directory {blocker}" in done.stderr
        assert said and "Traceback" not in done.stderr, (args, done.stderr[-2000:])
