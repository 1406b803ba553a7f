"""First-run papercuts: offline /docs, an honest `db check`, id errors that say the length, plain CLI help."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tenantry.cli import app
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
