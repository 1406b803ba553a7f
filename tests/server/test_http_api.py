"""The HTTP layer itself, against real servers on 127.0.0.1: auth and keys, admin guard, error bodies, limits,
correlation ids, metrics, and the wire shapes the Synap client depends on."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.sample_files import GOOD
from tests.sample_files import MALFORMED
from tests.sample_files import REFUND
from tests.server.conftest import ServerFactory
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import admin_create_instance

from tenantry.server.ratelimit import TokenBucketLimiter

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(thread_server: ServerFactory) -> Iterator[tuple[str, str, dict[str, Any]]]:
    server = thread_server(rate_limit_per_second=0)
    created = admin_create_instance(server.url, "acme-app", "b2b")
    yield server.url, created["key"]["api_key"], created


def _wait(url: str, key: str, ingestion_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st: dict[str, Any] = httpx.get(f"{url}/api/v1/memories/status/{ingestion_id}", headers=_auth(key)).json()
        if st["status"] in ("completed", "failed", "partial_success"):
            return st
        time.sleep(0.05)
    raise AssertionError("ingestion did not finish")


def test_keys_are_hashed_shown_once_and_revocable(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, created = api
    assert key.startswith("tn_") and len(key) == 35
    iid = created["instance"]["instance_id"]
    who = httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(key)).json()
    assert who["instance_id"] == iid and who["client_id"].startswith("cli_") and "user_context_isolation" not in who

    second = httpx.post(f"{url}/admin/v1/instances/{iid}/keys", json={"name": "ci"}, headers=ADMIN).json()
    assert second["api_key"] != key and second["name"] == "ci"
    listed = httpx.get(f"{url}/admin/v1/instances/{iid}/keys", headers=ADMIN).json()
    assert {k["key_id"] for k in listed} == {created["key"]["key_id"], second["key_id"]}
    assert all("api_key" not in k and "key_hash" not in k for k in listed)
    assert httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(second["api_key"])).status_code == 200

    revoked = httpx.post(f"{url}/admin/v1/keys/{second['key_id']}/revoke", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    r = httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(second["api_key"]))
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    assert httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(key)).status_code == 200  # the other key lives on
    assert httpx.post(f"{url}/admin/v1/keys/{second['key_id']}/revoke", headers=ADMIN).status_code == 404

    archived = httpx.post(f"{url}/admin/v1/instances/{iid}/archive", headers=ADMIN).json()
    assert archived["archived"] is True
    assert httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(key)).status_code == 401
    names = [i["name"] for i in httpx.get(f"{url}/admin/v1/instances", headers=ADMIN).json()]
    assert "acme-app" not in names
    all_names = [i["name"] for i in httpx.get(f"{url}/admin/v1/instances?include_archived=true", headers=ADMIN).json()]
    assert "acme-app" in all_names


def test_auth_errors(api: tuple[str, str, dict[str, Any]]) -> None:
    url, _, _ = api
    r = httpx.post(f"{url}/api/v1/memories/create", json={"document": "x"})
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "missing_api_key" and body["type"] == "AuthenticationError" and body["detail"]
    r = httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth("not-a-key"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    r = httpx.get(f"{url}/admin/v1/instances", headers=_auth("wrong"))
    assert r.status_code == 401 and r.json()["code"] == "invalid_admin_token"


def test_admin_api_is_disabled_without_a_token(thread_server: ServerFactory) -> None:
    server = thread_server(admin_token=None)
    r = httpx.get(f"{server.url}/admin/v1/instances", headers=ADMIN)
    assert r.status_code == 403 and r.json()["code"] == "admin_disabled"
    assert "TENANTRY_ADMIN_TOKEN" in r.json()["message"]


def test_instance_comes_from_the_key_only(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, created = api
    other = admin_create_instance(url, "other-app", "b2b")
    r = httpx.post(
        f"{url}/api/v1/memories/create",
        json={
            "document": "Our office is in Oslo.",
            "customer_id": "acme",
            "document_type": "document",
            "instance_id": other["instance"]["instance_id"],
        },  # ignored: not a field
        headers=_auth(key),
    )
    assert r.status_code == 200
    st = _wait(url, key, r.json()["ingestion_id"])
    assert st["status"] == "completed"
    assert (
        httpx.get(
            f"{url}/api/v1/memories/status/{st['ingestion_id']}", headers=_auth(other["key"]["api_key"])
        ).status_code
        == 404
    )
    r = httpx.post(
        f"{url}/v1/data/delete",
        json={"instance_id": other["instance"]["instance_id"], "customer_id": "a"},
        headers=_auth(key),
    )
    assert r.status_code == 403 and r.json()["code"] == "instance_mismatch"
    claimed = {**_auth(key), "X-Instance-ID": other["instance"]["instance_id"]}
    r = httpx.get(f"{url}/api/v1/memories/status/{st['ingestion_id']}", headers=claimed)
    assert r.status_code == 403 and r.json()["code"] == "instance_mismatch"
    assert httpx.get(f"{url}/api/v1/auth/whoami", headers={**_auth(key), "X-Instance-ID": ""}).status_code == 200


def test_error_bodies_follow_the_synap_conventions(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, _ = api
    h = {**_auth(key), "X-Correlation-ID": "syn_inst_0_1_abcdef"}
    r = httpx.post(f"{url}/api/v1/memories/create", json={"document": "User: hi", "user_id": "u1"}, headers=h)
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] == body["message"] and body["code"] == "customer_id_required"
    assert body["type"] == "InvalidInputError" and body["correlation_id"] == "syn_inst_0_1_abcdef"
    assert r.headers["x-correlation-id"] == "syn_inst_0_1_abcdef"

    turns = [{"role": "user", "content": "hi"}]
    body1 = {"conversation_id": "call-1", "user_id": "u1", "customer_id": "acme", "transcript": turns}
    assert httpx.post(f"{url}/v1/conversations/ingest", json=body1, headers=h).json()["status"] == "queued"
    r = httpx.post(f"{url}/v1/conversations/ingest", json={**body1, "transcript": "User: other"}, headers=h)
    assert r.status_code == 409
    assert r.json()["detail"] == {"code": "transcript_conflict", "message": r.json()["message"]}

    r = httpx.post(f"{url}/api/v1/memories/create", content=b"{not json", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_error" and isinstance(r.json()["detail"], str)

    r = httpx.post(f"{url}/api/v1/memories/create/", json={"document": "x"}, headers=h)
    assert r.status_code == 404 and r.json()["code"] == "route_not_found"  # no trailing-slash redirect

    generated = httpx.get(f"{url}/health").headers["x-correlation-id"]
    assert generated.startswith("req_")


def test_body_size_limit(thread_server: ServerFactory) -> None:
    server = thread_server(max_request_bytes=4096, rate_limit_per_second=0)
    key = admin_create_instance(server.url, "small", "b2b")["key"]["api_key"]
    big = {"document": "x" * 5000, "customer_id": "acme"}
    r = httpx.post(f"{server.url}/api/v1/memories/create", json=big, headers=_auth(key))
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large" and r.json()["details"]["limit"] == 4096

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
        data = json.dumps(big).encode()
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    r = httpx.post(f"{server.url}/api/v1/memories/create", content=chunks(), headers=_auth(key))
    assert r.status_code == 413
    ok = httpx.post(
        f"{server.url}/api/v1/memories/create", json={"document": "small", "customer_id": "a"}, headers=_auth(key)
    )
    assert ok.status_code == 200


def test_rate_limit_per_key(thread_server: ServerFactory) -> None:
    server = thread_server(rate_limit_per_second=0.5, rate_limit_burst=3)
    a = admin_create_instance(server.url, "a", "b2b")["key"]["api_key"]
    b = admin_create_instance(server.url, "b", "b2b")["key"]["api_key"]
    codes = [httpx.get(f"{server.url}/api/v1/auth/whoami", headers=_auth(a)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = httpx.get(f"{server.url}/api/v1/auth/whoami", headers=_auth(a))
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and r.json()["type"] == "RateLimitError"
    assert int(r.headers["retry-after"]) >= 1
    assert httpx.get(f"{server.url}/api/v1/auth/whoami", headers=_auth(b)).status_code == 200  # per key
    assert httpx.get(f"{server.url}/health").status_code == 200  # unauthenticated routes are not limited
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "tenantry_rate_limited_total 1.0" in metrics


def test_token_bucket() -> None:
    now = [0.0]
    lim = TokenBucketLimiter(2.0, 2, clock=lambda: now[0])
    assert lim.acquire("k") is None and lim.acquire("k") is None
    wait = lim.acquire("k")
    assert wait is not None and abs(wait - 0.5) < 1e-9
    now[0] = 0.5
    assert lim.acquire("k") is None
    assert TokenBucketLimiter(0, 1).acquire("k") is None  # disabled


def test_metrics_health_and_telemetry(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, _ = api
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    t = httpx.post(f"{url}/v1/telemetry/batch", json={"events": [{"event_type": "sdk_init"}], "sdk_version": "0.6.9"})
    assert t.status_code == 202 and t.json() == {"accepted": 1, "stored": False}
    httpx.get(f"{url}/api/v1/auth/whoami", headers=_auth(key))
    m = httpx.get(f"{url}/metrics")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    assert 'tenantry_http_requests_total{method="GET",route="/api/v1/auth/whoami",status="200"}' in m.text
    assert 'tenantry_ingestion_jobs{status="queued"}' in m.text


def test_memory_routes_wire_shapes(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, _ = api
    h = _auth(key)
    form = {
        "user_id": "u1",
        "customer_id": "acme",
        "relationship_type": "b2c",
        "mode": "long-range",
        "text": "User: I live in Lisbon and I love hiking.",
    }
    r = httpx.post(f"{url}/api/v1/memories/upload", data=form, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    files = {"file": ("notes.txt", b"Our refund policy allows returns within 30 days.")}
    r2 = httpx.post(
        f"{url}/api/v1/memories/upload",
        data={"user_id": "u1", "customer_id": "acme", "metadata": json.dumps({"origin": "upload"})},
        files=files,
        headers=h,
    )
    assert r2.status_code == 200, r2.text
    r3 = httpx.post(
        f"{url}/api/v1/memories/upload",
        data={"user_id": "u1", "customer_id": "acme"},
        files={"file": ("x.pdf", b"%PDF-\xff\xfe\x00")},
        headers=h,
    )
    assert r3.status_code == 400 and r3.json()["code"] == "unreadable_file" and "PDF" in r3.json()["message"]
    r4 = httpx.post(
        f"{url}/api/v1/memories/upload",
        data={"customer_id": "acme"},
        files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00")},
        headers=h,
    )
    assert r4.status_code == 400 and r4.json()["code"] == "unsupported_file_type"

    st = _wait(url, key, r.json()["ingestion_id"])
    assert st["status"] == "completed" and st["memory_ids"]
    assert _wait(url, key, r2.json()["ingestion_id"])["status"] == "completed"

    batch = httpx.post(
        f"{url}/api/v1/memories/batch",
        json={
            "documents": [
                {"document": "Globex pays monthly.", "customer_id": "globex"},
                {"document": "User: hi", "user_id": "lonely"},
            ],
            "fail_fast": False,
        },
        headers=h,
    ).json()
    assert (batch["total"], batch["succeeded"], batch["failed"]) == (2, 1, 1)
    bad = batch["results"][1]
    assert bad["ingestion_id"] == "00000000-0000-0000-0000-000000000000" and bad["status"] == "failed"
    assert bad["code"] == "customer_id_required" and bad["queued_at"]

    page = httpx.get(f"{url}/api/v1/memories", params={"user_id": "u1", "customer_id": "acme"}, headers=h).json()
    assert page["total"] >= 2 and page["page"] == 1

    prof = httpx.get(f"{url}/v1/users/u1/profile", params={"customer_id": "acme"}, headers=h)
    assert prof.status_code == 200 and prof.json()["profile"]["_meta"]["source"] == "tenantry"
    none = httpx.get(f"{url}/v1/users/nobody/profile", params={"customer_id": "acme"}, headers=h)
    assert none.status_code == 404 and none.json()["code"] == "profile_not_found"

    ctx = httpx.post(
        f"{url}/v1/context/user/fetch",
        headers=h,
        json={
            "user_id": "u1",
            "customer_id": "acme",
            "conversation_id": None,
            "search_query": ["hiking refund"],
            "max_results": 5,
            "types": ["all"],
            "mode": "fast",
            "precision_level": "medium",
            "response_shape": "ranked",
            "explain": True,
        },
    ).json()
    assert ctx["ttl_seconds"] == -1 and set(ctx["context"]) == {
        "facts",
        "preferences",
        "episodes",
        "emotions",
        "temporal_events",
        "items",  # response_shape="ranked": every item once, best first
    }
    ranked = ctx["context"]["items"]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(
        r["category"] in ("facts", "preferences", "episodes", "emotions", "temporal_events", "excerpts")
        and "rank_score" in r["metadata"]
        for r in ranked
    )
    items = [i for name, lst in ctx["context"].items() if name != "items" for i in lst]
    assert {i["id"] for i in items} == {r["id"] for r in ranked}
    assert items and all(isinstance(i["id"], str) and i["extracted_at"] and i["source"] for i in items)
    assert all(v is not None for i in items for v in i.values())  # nulls are left out
    assert all("explanation" in i for i in items)

    dry = httpx.post(
        f"{url}/v1/data/delete",
        json={"scope": "user", "user_id": "u1", "customer_id": "acme", "dry_run": True},
        headers=h,
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["status"] == "dry_run"
    assert httpx.get(f"{url}/api/v1/memories/{st['memory_ids'][0]}", headers=h).status_code == 200  # still there
    wrong = httpx.post(
        f"{url}/v1/data/delete",
        json={"scope": "user", "user_id": "u1", "customer_id": "acme", "confirm": "u2"},
        headers=h,
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "confirm_mismatch"
    done = httpx.post(
        f"{url}/v1/data/delete",
        json={"scope": "user", "user_id": "u1", "customer_id": "acme", "confirm": "u1"},
        headers=h,
    ).json()
    assert done["status"] == "complete" and done["fully_removed"] and done["counts"]["memories"] >= 1
    assert done["counts"] == dry.json()["counts"]  # the dry run counted exactly what the erasure removed
    assert httpx.get(f"{url}/api/v1/memories/{st['memory_ids'][0]}", headers=h).status_code == 404


def test_conversation_routes(api: tuple[str, str, dict[str, Any]]) -> None:
    url, key, _ = api
    h = _auth(key)
    conv = str(uuid.uuid4())
    msgs = [
        {"conversation_id": conv, "role": r, "content": c, "user_id": "u1", "customer_id": "acme", "metadata": {}}
        for r, c in (("user", "I want a window seat."), ("assistant", "Booked."))
    ]
    one = httpx.post(f"{url}/v1/conversations/messages", json=msgs[0], headers=h).json()
    assert one["conversation_message_count"] == 1 and one["recorded_at"]
    batch = httpx.post(f"{url}/v1/conversations/messages/batch", json={"messages": msgs}, headers=h).json()
    assert batch["succeeded"] == 2 and [x["conversation_message_count"] for x in batch["results"]] == [2, 3]

    p = httpx.get(f"{url}/v1/conversations/{conv}/context-for-prompt", params={"style": "structured"}, headers=h).json()
    assert p["available"] and p["total_message_count"] == 3 and p["recent_message_count"] == 3
    assert all(set(m) >= {"role", "content", "timestamp", "message_id"} for m in p["recent_messages"])
    assert p["formatted_context"].startswith("User: I want a window seat.")
    turns = httpx.get(f"{url}/v1/conversations/{conv}/messages", params={"start": 2, "limit": 5}, headers=h).json()
    assert [t["position"] for t in turns["turns"]] == [2, 3]
    # Ids passed to the read routes must be the conversation's: another customer's user reads nothing of it.
    for route in ("context-for-prompt", "messages"):
        for ids in ({"customer_id": "globex", "user_id": "u1"}, {"customer_id": "acme", "user_id": "u2"}):
            other = httpx.get(f"{url}/v1/conversations/{conv}/{route}", params=ids, headers=h)
            assert other.status_code == 400 and other.json()["code"] == "conversation_scope_mismatch", (route, ids)
        same = httpx.get(
            f"{url}/v1/conversations/{conv}/{route}", params={"customer_id": "acme", "user_id": "u1"}, headers=h
        )
        assert same.status_code == 200, route

    unknown = httpx.get(f"{url}/v1/conversations/{uuid.uuid4()}/context-for-prompt", headers=h).json()
    assert unknown["available"] is False and unknown["recent_messages"] == []

    assert httpx.get(f"{url}/v1/conversations/{conv}/compacted", headers=h).json()["code"] == "compaction_not_found"
    none_yet = httpx.get(f"{url}/v1/conversations/{conv}/compaction/status", headers=h).json()
    assert none_yet["conversation_id"] == conv and none_yet["status"] == "not_compacted"
    c = httpx.post(f"{url}/v1/conversations/compact", json={"conversation_id": conv, "force": False}, headers=h)
    assert c.status_code == 200 and c.json()["status"] == "completed" and c.json()["version"] == 1
    bad = httpx.post(f"{url}/v1/conversations/compact", json={"conversation_id": conv, "strategy": "lossy"}, headers=h)
    assert bad.status_code in (400, 422)
    got = httpx.get(f"{url}/v1/conversations/{conv}/compacted", params={"format": "injection"}, headers=h).json()
    assert got["compaction_id"] == c.json()["compaction_id"] and got["formatted_context"].startswith("<earlier_")
    s = httpx.get(f"{url}/v1/conversations/{conv}/compaction/status", headers=h).json()
    assert s["status"] == "completed" and s["latest_version"] == 1

    r = httpx.post(
        f"{url}/v1/context/conversation/fetch",
        headers=h,
        json={
            "conversation_id": conv,
            "search_query": ["seat"],
            "max_results": 10,
            "types": ["all"],
            "mode": "fast",
            "include_conversation_context": False,
        },
    )
    assert r.status_code == 200 and "conversation_context" not in r.json()
    r = httpx.post(f"{url}/v1/context/fetch", headers=h, json={"conversation_id": conv, "customer_id": "bad id!"})
    assert r.status_code == 400


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_upload_reads_each_file_format_and_refuses_a_malformed_one(
    api: tuple[str, str, dict[str, Any]], fmt: str
) -> None:
    """``POST /api/v1/memories/upload`` with a file part: the server reads it, headings kept; a file of the same
    format that cannot be read is a 400 naming the format, and nothing is queued."""
    url, key, _ = api
    h = _auth(key)
    name, data = GOOD[fmt]
    ids = {"customer_id": "acme", "document_id": f"kb/{name} (v2)#1", "metadata": json.dumps({"origin": fmt})}
    r = httpx.post(f"{url}/api/v1/memories/upload", data=ids, files={"file": (name, data)}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["document_id"] == f"kb/{name} (v2)#1"
    assert _wait(url, key, r.json()["ingestion_id"])["status"] == "completed"
    found = httpx.post(
        f"{url}/v1/context/customer/fetch",
        json={"customer_id": "acme", "search_query": ["how long do I have for a refund"], "max_results": 5},
        headers=h,
    ).json()["context"]["facts"]
    passage = next(f for f in found if REFUND in f["content"])
    assert passage["metadata"]["origin"] == fmt and passage["metadata"]["filename"] == name
    assert "Refund policy" in passage["metadata"].get("headings", []) or passage["content"].startswith("Refund")

    bad_name, bad = MALFORMED[fmt]
    before = httpx.get(f"{url}/api/v1/memories", params={"customer_id": "acme"}, headers=h).json()["total"]
    r = httpx.post(
        f"{url}/api/v1/memories/upload", data={"customer_id": "acme"}, files={"file": (bad_name, bad)}, headers=h
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "unreadable_file" and body["details"]["format"] == fmt
    assert bad_name in body["message"]
    after = httpx.get(f"{url}/api/v1/memories", params={"customer_id": "acme"}, headers=h).json()["total"]
    assert after == before
