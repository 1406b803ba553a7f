"""Bad input gets a clear InvalidInputError (HTTP 400 family) and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tenantry.contract import CreateMemory
from tenantry.errors import InvalidInputError
from tenantry.errors import PayloadTooLargeError


async def assert_nothing_stored(svc: Any) -> None:
    assert await svc.store.count_jobs(statuses=("queued", "processing", "completed", "failed")) == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"document": "", "customer_id": "acme"}, "empty", id="empty-document"),
        pytest.param({"document": "   \n ", "customer_id": "acme"}, "empty", id="blank-document"),
        pytest.param({"document": 42, "customer_id": "acme"}, "must be a string", id="document-int"),
        pytest.param({"document": None, "customer_id": "acme"}, "must be a string", id="document-none"),
        pytest.param({"document": "x", "customer_id": "bad id!"}, "customer_id", id="malformed-customer"),
        pytest.param({"document": "x", "customer_id": "acme", "user_id": "a" * 200}, "user_id", id="oversize-user-id"),
        pytest.param({"document": "x", "customer_id": 7}, "must be a string", id="customer-int"),
        pytest.param({"document": "x", "user_id": "alice"}, "customer_id", id="b2b-user-without-customer"),
        pytest.param({"document": "x", "document_type": "spreadsheet"}, "document_type", id="bad-document-type"),
        pytest.param({"document": "x", "mode": "turbo"}, "mode", id="bad-mode"),
        pytest.param({"document": "x", "metadata": ["a"]}, "metadata", id="metadata-not-object"),
        pytest.param({"document": "x", "document_created_at": "next blursday"}, "document_created_at", id="bad-date"),
        pytest.param({"document": "x", "document_id": "two\nlines"}, "document_id", id="document-id-line-break"),
        pytest.param({"document": "x", "document_id": "d" * 513}, "document_id", id="document-id-too-long"),
        pytest.param({"document": "x", "document_id": 12}, "document_id", id="document-id-int"),
    ],
)
async def test_create_rejects_bad_input(make_service: Any, kwargs: dict[str, Any], fragment: str) -> None:
    svc, _, api, _ = await make_service("b2b")
    with pytest.raises(InvalidInputError) as exc:
        await api.create_memory(CreateMemory(**kwargs))
    assert fragment in str(exc.value)
    assert exc.value.status_code in (400, 413, 422)
    await assert_nothing_stored(svc)


async def test_oversize_document_limit_is_configurable(make_service: Any) -> None:
    sdk = (await make_service("b2b", max_document_bytes=1000)).sdk
    with pytest.raises(PayloadTooLargeError) as exc:
        await sdk.memories.create("x" * 1001, customer_id="acme")
    assert "1000" in str(exc.value) and isinstance(exc.value, InvalidInputError)
    await sdk.memories.create("x" * 1000, customer_id="acme")


async def test_default_limit_is_one_megabyte(make_service: Any) -> None:
    svc, _, _, sdk = await make_service("b2b")
    with pytest.raises(PayloadTooLargeError):
        await sdk.memories.create("y" * 1_000_001, customer_id="acme")
    await assert_nothing_stored(svc)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"max_results": 0}, "max_results", id="max-results-0"),
        pytest.param({"max_results": 51}, "max_results", id="max-results-51"),
        pytest.param({"max_results": "10"}, "max_results", id="max-results-str"),
        pytest.param({"mode": "slow"}, "mode", id="bad-mode"),
        pytest.param({"types": ["facts", "gossip"]}, "gossip", id="bad-type"),
        pytest.param({"search_query": [1, 2]}, "search_query", id="query-not-strings"),
        pytest.param({"filters": {"k": {"regex": "x"}}}, "operator", id="bad-filter-op"),
        pytest.param({"filters": {"bad key!": 1}}, "key", id="bad-filter-key"),
        pytest.param({"token_budget": 0}, "token_budget", id="bad-budget"),
        pytest.param({"frobnicate": True}, "unknown", id="unknown-param"),
    ],
)
async def test_fetch_rejects_bad_input(make_service: Any, kwargs: dict[str, Any], fragment: str) -> None:
    sdk = (await make_service("b2b")).sdk
    with pytest.raises(InvalidInputError) as exc:
        await sdk.user.context.fetch(user_id="alice", customer_id="acme", **kwargs)
    assert fragment in str(exc.value)


async def test_both_type_vocabularies_are_accepted(make_service: Any) -> None:
    sdk = (await make_service("b2b")).sdk
    for types in (["facts", "preferences"], ["fact", "preference"], ["temporal"], ["temporal_event"], ["all"]):
        await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["x"], types=types)


async def test_record_message_validation(make_service: Any) -> None:
    svc, _, _, sdk = await make_service("b2b")
    with pytest.raises(InvalidInputError):
        await sdk.conversation.record_message("c1", "system", "hi", customer_id="acme", user_id="alice")
    with pytest.raises(InvalidInputError):
        await sdk.conversation.record_message("c1", "user", "", customer_id="acme", user_id="alice")
    with pytest.raises(InvalidInputError) as exc:
        await sdk.conversation.record_message("c1", "user", "hi", user_id="alice")
    assert exc.value.code == "customer_id_required"
    await assert_nothing_stored(svc)
