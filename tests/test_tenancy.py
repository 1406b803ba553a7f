"""SPEC §1 through the engine: where writes land, what each read returns and never returns, conversation binding,
and a hypothesis property over random writes and fetches by 3 customers × 3 users."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from tests.conftest import Engine

from tenantry.contract import MemoryRef
from tenantry.errors import ContextNotFoundError
from tenantry.errors import InvalidInputError
from tenantry.errors import MemoryNotFoundError
from tenantry.scope import ReadChain
from tenantry.store.base import SearchFilters


async def write(e: Engine, text: str, **ids: Any) -> list[str]:
    r = await e.sdk.memories.create(text, document_type="document", **ids)
    await e.svc.workers.run_pending()
    st_ = await e.sdk.memories.status(r.ingestion_id)
    assert st_.status == "completed", st_
    return st_.memory_ids


def contents(resp: Any) -> set[str]:
    return {getattr(i, "content", None) or getattr(i, "summary", "") for i in resp.items()}


async def seed_b2b(e: Engine) -> None:
    await write(e, "alice at acme likes green tea", customer_id="acme", user_id="alice")
    await write(e, "alice at globex likes black coffee", customer_id="globex", user_id="alice")
    await write(e, "bob at acme likes sparkling water", customer_id="acme", user_id="bob")
    await write(e, "acme policy: tea is free in the kitchen", customer_id="acme")
    await write(e, "globex policy: coffee is free in the kitchen", customer_id="globex")
    await write(e, "client handbook: every drink is logged", customer_id=None)


ALL = {
    "alice at acme likes green tea",
    "alice at globex likes black coffee",
    "bob at acme likes sparkling water",
    "acme policy: tea is free in the kitchen",
    "globex policy: coffee is free in the kitchen",
    "client handbook: every drink is logged",
}


async def test_b2b_write_rows_land_where_the_table_says(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    rows, _ = await e.svc.store.list_memories(
        ReadChain.instance(e.inst.instance_id), offset=0, limit=100, filters=SearchFilters()
    )
    where = {r.content: r.scope.source for r in rows}
    assert where == {
        "alice at acme likes green tea": "user:alice",
        "alice at globex likes black coffee": "user:alice",
        "bob at acme likes sparkling water": "user:bob",
        "acme policy: tea is free in the kitchen": "customer:acme",
        "globex policy: coffee is free in the kitchen": "customer:globex",
        "client handbook: every drink is logged": "client",
    }
    by_content = {r.content: r.scope for r in rows}
    assert by_content["alice at acme likes green tea"].customer_id == "acme"
    assert by_content["alice at globex likes black coffee"].customer_id == "globex"


async def test_b2b_user_without_customer_stores_nothing(make_service: Any) -> None:
    svc, _, _, sdk = await make_service("b2b")
    with pytest.raises(InvalidInputError) as exc:
        await sdk.memories.create("orphan user memory", user_id="alice")
    assert exc.value.code == "customer_id_required"
    assert await svc.store.count_jobs(statuses=("queued", "processing", "completed", "failed")) == 0


async def test_user_read_returns_exact_user_plus_customer_plus_client(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    got = contents(
        await e.sdk.user.context.fetch(
            user_id="alice", customer_id="acme", search_query=["drink tea coffee water kitchen"], max_results=50
        )
    )
    assert got == {
        "alice at acme likes green tea",
        "acme policy: tea is free in the kitchen",
        "client handbook: every drink is logged",
    }


async def test_user_read_items_carry_their_source(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    resp = await e.sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=["tea"], max_results=50)
    sources = {f.content: f.source for f in resp.facts}
    assert sources["alice at acme likes green tea"] == "user:alice"
    assert sources["acme policy: tea is free in the kitchen"] == "customer:acme"
    assert sources["client handbook: every drink is logged"] == "client"


async def test_customer_read_returns_customer_plus_client_never_users(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    got = contents(
        await e.sdk.customer.context.fetch("acme", search_query=["tea coffee water drink kitchen"], max_results=50)
    )
    assert got == {"acme policy: tea is free in the kitchen", "client handbook: every drink is logged"}


async def test_customer_read_of_unknown_customer_is_404(make_service: Any) -> None:
    e = await make_service("b2b")
    with pytest.raises(ContextNotFoundError):
        await e.sdk.customer.context.fetch("nobody", search_query=["x"])


async def test_client_read_returns_client_only(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    got = contents(
        await e.sdk.client.context.fetch(search_query=["tea coffee water drink kitchen logged"], max_results=50)
    )
    assert got == {"client handbook: every drink is logged"}


async def test_empty_query_reads_are_scoped_too(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    got = contents(await e.sdk.user.context.fetch(user_id="alice", customer_id="globex", max_results=50))
    assert got == {
        "alice at globex likes black coffee",
        "globex policy: coffee is free in the kitchen",
        "client handbook: every drink is logged",
    }


async def test_world_only_when_asked(make_service: Any) -> None:
    e = await make_service("b2b")
    svc, sdk = e.svc, e.sdk
    await seed_b2b(e)
    ids = await svc.memories.add_world_knowledge("world fact: water boils at 100 C at sea level")
    assert len(ids) == 1
    q = ["water boils sea level"]
    assert "world fact: water boils at 100 C at sea level" not in contents(
        await sdk.user.context.fetch(user_id="alice", customer_id="acme", search_query=q, max_results=50)
    )
    resp = await sdk.user.context.fetch(
        user_id="alice", customer_id="acme", search_query=q, max_results=50, include_world=True
    )
    assert "world fact: water boils at 100 C at sea level" in contents(resp)
    assert {f.source for f in resp.facts if f.content.startswith("world fact")} == {"world"}
    for fetch in (
        sdk.customer.context.fetch("acme", search_query=q, max_results=50, include_world=True),
        sdk.client.context.fetch(search_query=q, max_results=50, include_world=True),
    ):
        assert "world fact: water boils at 100 C at sea level" in contents(await fetch)
    # world memories are not part of any instance: by-id access through an instance key does not reach them
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.get(ids[0])


async def test_b2c_rows(make_service: Any) -> None:
    e = await make_service("b2c")
    await write(e, "carol likes jazz", user_id="carol")
    await write(e, "dave likes rock", user_id="dave", customer_id="dave")
    await write(e, "app-wide note: concerts on fridays")
    got = contents(
        await e.sdk.user.context.fetch(user_id="carol", search_query=["likes concerts jazz rock"], max_results=50)
    )
    assert got == {"carol likes jazz", "app-wide note: concerts on fridays"}
    got = contents(await e.sdk.client.context.fetch(search_query=["likes concerts jazz rock"], max_results=50))
    assert got == {"app-wide note: concerts on fridays"}


async def test_conversation_read_uses_binding_and_rejects_mismatch(make_service: Any) -> None:
    e = await make_service("b2b")
    svc, sdk = e.svc, e.sdk
    await seed_b2b(e)
    await sdk.conversation.record_message("conv-1", "user", "hello there", customer_id="acme", user_id="alice")
    await svc.workers.run_pending()
    resp = await sdk.conversation.context.fetch("conv-1", search_query=["tea coffee drink kitchen"], max_results=50)
    assert contents(resp) >= {"alice at acme likes green tea"}
    assert "alice at globex likes black coffee" not in contents(resp)
    assert "bob at acme likes sparkling water" not in contents(resp)
    assert (
        resp.conversation_context is not None and resp.conversation_context.recent_turns[0]["content"] == "hello there"
    )
    with pytest.raises(InvalidInputError):
        await sdk.conversation.context.fetch("conv-1", user_id="alice", customer_id="globex")
    with pytest.raises(InvalidInputError):
        await sdk.conversation.context.fetch("conv-1", user_id="bob", customer_id="acme")


async def test_unbound_conversation_uses_ids_passed(make_service: Any) -> None:
    e = await make_service("b2b")
    await seed_b2b(e)
    resp = await e.sdk.conversation.context.fetch(
        "conv-new", user_id="alice", customer_id="globex", search_query=["coffee"], max_results=50
    )
    assert "alice at globex likes black coffee" in contents(resp)
    assert "alice at acme likes green tea" not in contents(resp)


async def test_conversation_is_bound_by_first_write(make_service: Any) -> None:
    sdk = (await make_service("b2b")).sdk
    await sdk.memories.create("first", customer_id="acme", user_id="alice", metadata={"conversation_id": "c9"})
    with pytest.raises(InvalidInputError) as exc:
        await sdk.memories.create("second", customer_id="globex", user_id="alice", metadata={"conversation_id": "c9"})
    assert exc.value.code == "conversation_scope_mismatch"
    with pytest.raises(InvalidInputError):
        await sdk.conversation.record_message("c9", "user", "hi", customer_id="acme", user_id="bob")


async def test_scope_cannot_come_from_metadata(make_service: Any) -> None:
    sdk = (await make_service("b2b")).sdk
    for key in ("user_id", "customer_id", "instance_id", "scope"):
        with pytest.raises(InvalidInputError):
            await sdk.memories.create("sneaky", customer_id="acme", metadata={key: "globex"})


async def test_by_id_access_is_scope_checked(make_service: Any) -> None:
    e = await make_service("b2b")
    svc, sdk = e.svc, e.sdk
    (mid,) = await write(e, "alice at acme secret", customer_id="acme", user_id="alice")
    assert (await sdk.memories.get(mid, user_id="alice", customer_id="acme")).content == "alice at acme secret"
    for ids in (
        {"user_id": "alice", "customer_id": "globex"},
        {"user_id": "bob", "customer_id": "acme"},
        {"customer_id": "acme"},
    ):
        with pytest.raises(MemoryNotFoundError):
            await sdk.memories.get(mid, **ids)
        with pytest.raises(MemoryNotFoundError):
            await sdk.memories.delete(mid, **ids)
    other_svc_inst = await svc.create_instance("other", "b2b")
    with pytest.raises(MemoryNotFoundError):
        await svc.api(other_svc_inst).get_memory(MemoryRef(memory_id=mid))
    await sdk.memories.delete(mid, user_id="alice", customer_id="acme")
    with pytest.raises(MemoryNotFoundError):
        await sdk.memories.get(mid)


async def test_narrower_scope_wins_on_conflict(make_service: Any) -> None:
    from tenantry.pipeline.base import MemoryDraft
    from tenantry.scope import Scope
    from tenantry.scope import ScopeLevel
    from tenantry.store.base import NewMemory
    from tenantry.store.base import ProcessedJob

    svc, inst, _, sdk = await make_service("b2b")
    for scope, text, mid in (
        (Scope(inst.instance_id, ScopeLevel.CUSTOMER, "acme"), "reply language: English", "m-cust"),
        (Scope(inst.instance_id, ScopeLevel.USER, "acme", "alice"), "reply language: French", "m-user"),
    ):
        draft = MemoryDraft("preference", text, subject="user", attribute="reply_language")
        vec = (await svc.embed_documents([text]))[0]
        await svc.store.complete_job(
            ProcessedJob(f"op-{mid}", None, scope, f"doc-{mid}", None, [NewMemory(mid, draft, vec, mid)], [], [])
        )
    resp = await sdk.user.context.fetch(
        user_id="alice", customer_id="acme", search_query=["reply language"], max_results=10
    )
    assert [p.content for p in resp.preferences] == ["reply language: French"]
    assert resp.preferences[0].metadata["shadows"] == ["m-cust"]
    resp = await sdk.customer.context.fetch("acme", search_query=["reply language"], max_results=10)
    assert [p.content for p in resp.preferences] == ["reply language: English"]


CUSTOMERS = ["c1", "c2", "c3"]
USERS = ["u1", "u2", "u3"]
writes = st.lists(
    st.tuples(
        st.sampled_from([*CUSTOMERS, None]),
        st.sampled_from([*USERS, None]),
        st.sampled_from(["tea", "coffee", "juice"]),
    ),
    min_size=1,
    max_size=12,
)
reads = st.lists(
    st.tuples(
        st.sampled_from(["user", "customer", "client", "conversation"]),
        st.sampled_from(CUSTOMERS),
        st.sampled_from(USERS),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ws=writes, rs=reads)
async def test_property_no_fetch_leaves_its_chain(make_service: Any, ws: list[Any], rs: list[Any]) -> None:
    svc, inst, _, sdk = await make_service("b2b")
    owner: dict[str, tuple[str, str]] = {}  # content -> (customer or "", user or "")
    for i, (cust, user, word) in enumerate(ws):
        text = f"w{i} {word} note"
        if user and not cust:
            with pytest.raises(InvalidInputError):
                await sdk.memories.create(text, document_type="document", user_id=user)
            continue
        await sdk.memories.create(text, document_type="document", customer_id=cust, user_id=user)
        owner[text] = (cust or "", (user or "") if cust else "")
    await svc.workers.run_pending()
    for kind, cust, user in rs:
        if kind == "user":
            resp = await sdk.user.context.fetch(
                user_id=user, customer_id=cust, search_query=["tea coffee juice note"], max_results=50
            )
            allowed = {(cust, user), (cust, ""), ("", "")}
        elif kind == "customer":
            if not await svc.store.customer_exists(inst.instance_id, cust):
                continue
            resp = await sdk.customer.context.fetch(cust, search_query=["tea coffee juice note"], max_results=50)
            allowed = {(cust, ""), ("", "")}
        elif kind == "client":
            resp = await sdk.client.context.fetch(search_query=["tea coffee juice note"], max_results=50)
            allowed = {("", "")}
        else:
            resp = await sdk.conversation.context.fetch(
                f"conv-{cust}-{user}",
                user_id=user,
                customer_id=cust,
                search_query=["tea coffee juice note"],
                max_results=50,
            )
            allowed = {(cust, user), (cust, ""), ("", "")}
        for item in resp.items():
            content = getattr(item, "content", None) or getattr(item, "summary", "")
            assert owner[content] in allowed, (kind, cust, user, content, owner[content])
        # and everything allowed that exists is reachable (max_results 50 > writes)
        expected = {c for c, o in owner.items() if o in allowed}
        assert contents(resp) == expected
