"""Export and import over HTTP: the JSON Lines stream, the paged route, the CLI against a server, the admin API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from tests.server.conftest import ServerFactory
from tests.server.helpers import admin_create_instance
from typer.testing import CliRunner

from tenantry.cli import app

runner = CliRunner()


def test_export_and_import_over_http(thread_server: ServerFactory, tmp_path: Path) -> None:
    server = thread_server()
    key = admin_create_instance(server.url, "exp")["key"]["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.post(
        f"{server.url}/api/v1/memories/create",
        json={"document": "User: I play the cello.", "customer_id": "acme", "user_id": "ann"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    res = runner.invoke(
        app,
        [
            "memories",
            "add",
            "Acme ships on Fridays.",
            "--customer-id",
            "acme",
            "--url",
            server.url,
            "--api-key",
            key,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    ingestion = r.json()["ingestion_id"]
    for _ in range(200):
        if (
            httpx.get(f"{server.url}/api/v1/memories/status/{ingestion}", headers=headers).json()["status"]
            == "completed"
        ):
            break
    whole = httpx.get(f"{server.url}/v1/data/export.jsonl", headers=headers)
    assert whole.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in whole.text.splitlines()]
    assert lines[0]["kind"] == "header" and {r["kind"] for r in lines[1:]} == {"document", "memory"}
    res = runner.invoke(
        app, ["export", "--url", server.url, "--api-key", key, "--customer-id", "acme", "--user-id", "ann"]
    )
    assert res.exit_code == 0, res.output
    ann = [json.loads(line) for line in res.stdout.splitlines()]
    assert {(r["scope"]["user_id"]) for r in ann[1:]} == {"ann"}
    bad = httpx.post(f"{server.url}/v1/data/export", json={"cursor": "garbage"}, headers=headers)
    assert bad.status_code == 400
    # The admin API imports into another instance of the same server.
    other = admin_create_instance(server.url, "copy")["instance"]["instance_id"]
    admin = {"Authorization": "Bearer test-admin-token"}
    imported = httpx.post(
        f"{server.url}/admin/v1/instances/{other}/data/import", json={"records": lines}, headers=admin
    ).json()
    # Memory ids are unique per SQLite database: the copy keeps documents, and says why it skips the memories.
    assert imported["imported"]["documents"] == 2
    assert all("used in this database" in s["reason"] for s in imported["skipped"])
