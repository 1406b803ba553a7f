"""SPEC §1 through the engine: where writes land, what each read returns and never returns, conversation binding,
and a hypothesis property over random writes and fetches by 3 customers × 3 users."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantry.errors import ContextNotFoundError, InvalidInputError, MemoryNotFoundError
from tenantry.service import AsyncMemoryService


async def write(svc: AsyncMemoryService, inst: Any, text: str, **ids: Any) -> list[str]:
    r = await svc.create_memory(inst, text, document_type="document", **ids)
    await svc.run_pending()
    st_ = await svc.ingestion_status(inst, r.ingestion_id)
    assert st_.status == "completed", st_
    return st_.memory_ids


def contents(resp: Any) -> set[str]:
    return {getattr(i, "content", None) or getattr(i, "summary", "") for i in resp.items()}


async def seed_b2b(svc: AsyncMemoryService, inst: Any) -> None:
    await write(svc, inst, "alice at acme likes green tea", customer_id="acme", user_id="alice")
    await write(svc, inst, "alice at globex likes black coffee", customer_id="globex", user_id="alice")
    await write(svc, inst, "bob at acme likes sparkling water", customer_id="acme", user_id="bob")
    await write(svc, inst, "acme policy: tea is free in the kitchen", customer_id="acme")
    await write(svc, inst, "globex policy: coffee is free in the kitchen", customer_id="globex")
    await write(svc, inst, "client handbook: every drink is logged", customer_id=None)


ALL = {
    "alice at acme likes green tea",
    "alice at globex likes black coffee",
    "bob at acme likes sparkling water",
    "acme policy: tea is free in the kitchen",
    "globex policy: coffee is free in the kitchen",
    "client handbook: every drink is logged",
}


async def test_b2b_write_rows_land_where_the_table_says(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    rows, _ = await svc.store.list_memories(
        __import__("tenantry.scope", fromlist=["ReadChain"]).ReadChain.instance(inst.instance_id),
        offset=0,
        limit=100,
        filters=__import__("tenantry.store.base", fromlist=["SearchFilters"]).SearchFilters(),
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
    svc, inst = await make_service("b2b")
    with pytest.raises(InvalidInputError):
        await svc.create_memory(inst, "orphan user memory", user_id="alice")
    assert await svc.store.count_jobs(statuses=("queued", "processing", "completed", "failed")) == 0


async def test_user_read_returns_exact_user_plus_customer_plus_client(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    got = contents(
        await svc.fetch_user(
            inst, "alice", customer_id="acme", search_query=["drink tea coffee water kitchen"], max_results=50
        )
    )
    assert got == {
        "alice at acme likes green tea",
        "acme policy: tea is free in the kitchen",
        "client handbook: every drink is logged",
    }


async def test_user_read_items_carry_their_source(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    resp = await svc.fetch_user(inst, "alice", customer_id="acme", search_query=["tea"], max_results=50)
    sources = {f.content: f.source for f in resp.facts}
    assert sources["alice at acme likes green tea"] == "user:alice"
    assert sources["acme policy: tea is free in the kitchen"] == "customer:acme"
    assert sources["client handbook: every drink is logged"] == "client"


async def test_customer_read_returns_customer_plus_client_never_users(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    got = contents(
        await svc.fetch_customer(inst, "acme", search_query=["tea coffee water drink kitchen"], max_results=50)
    )
    assert got == {"acme policy: tea is free in the kitchen", "client handbook: every drink is logged"}


async def test_customer_read_of_unknown_customer_is_404(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    with pytest.raises(ContextNotFoundError):
        await svc.fetch_customer(inst, "nobody", search_query=["x"])


async def test_client_read_returns_client_only(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    got = contents(await svc.fetch_client(inst, search_query=["tea coffee water drink kitchen logged"], max_results=50))
    assert got == {"client handbook: every drink is logged"}


async def test_empty_query_reads_are_scoped_too(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    got = contents(await svc.fetch_user(inst, "alice", customer_id="globex", max_results=50))
    assert got == {
        "alice at globex likes black coffee",
        "globex policy: coffee is free in the kitchen",
        "client handbook: every drink is logged",
    }


async def test_world_only_when_asked(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    ids = await svc.add_world_knowledge("world fact: water boils at 100 C at sea level")
    assert len(ids) == 1
    q = ["water boils sea level"]
    assert "world fact: water boils at 100 C at sea level" not in contents(
        await svc.fetch_user(inst, "alice", customer_id="acme", search_query=q, max_results=50)
    )
    resp = await svc.fetch_user(inst, "alice", customer_id="acme", search_query=q, max_results=50, include_world=True)
    assert "world fact: water boils at 100 C at sea level" in contents(resp)
    assert {f.source for f in resp.facts if f.content.startswith("world fact")} == {"world"}
    for fetch in (
        svc.fetch_customer(inst, "acme", search_query=q, max_results=50, include_world=True),
        svc.fetch_client(inst, search_query=q, max_results=50, include_world=True),
    ):
        assert "world fact: water boils at 100 C at sea level" in contents(await fetch)
    # world memories are not part of any instance: by-id access through an instance key does not reach them
    with pytest.raises(MemoryNotFoundError):
        await svc.get_memory(inst, ids[0])


async def test_b2c_rows(make_service: Any) -> None:
    svc, inst = await make_service("b2c")
    await write(svc, inst, "carol likes jazz", user_id="carol")
    await write(svc, inst, "dave likes rock", user_id="dave", customer_id="dave")
    await write(svc, inst, "app-wide note: concerts on fridays")
    got = contents(await svc.fetch_user(inst, "carol", search_query=["likes concerts jazz rock"], max_results=50))
    assert got == {"carol likes jazz", "app-wide note: concerts on fridays"}
    got = contents(await svc.fetch_client(inst, search_query=["likes concerts jazz rock"], max_results=50))
    assert got == {"app-wide note: concerts on fridays"}


async def test_conversation_read_uses_binding_and_rejects_mismatch(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    await svc.record_message(inst, "conv-1", "user", "hello there", customer_id="acme", user_id="alice")
    await svc.run_pending()
    resp = await svc.fetch_conversation(inst, "conv-1", search_query=["tea coffee drink kitchen"], max_results=50)
    assert contents(resp) >= {"alice at acme likes green tea"}
    assert "alice at globex likes black coffee" not in contents(resp)
    assert "bob at acme likes sparkling water" not in contents(resp)
    assert (
        resp.conversation_context is not None and resp.conversation_context.recent_turns[0]["content"] == "hello there"
    )
    with pytest.raises(InvalidInputError):
        await svc.fetch_conversation(inst, "conv-1", user_id="alice", customer_id="globex")
    with pytest.raises(InvalidInputError):
        await svc.fetch_conversation(inst, "conv-1", user_id="bob", customer_id="acme")


async def test_unbound_conversation_uses_ids_passed(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await seed_b2b(svc, inst)
    resp = await svc.fetch_conversation(
        inst, "conv-new", user_id="alice", customer_id="globex", search_query=["coffee"], max_results=50
    )
    assert "alice at globex likes black coffee" in contents(resp)
    assert "alice at acme likes green tea" not in contents(resp)


async def test_conversation_is_bound_by_first_write(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    await svc.create_memory(inst, "first", customer_id="acme", user_id="alice", metadata={"conversation_id": "c9"})
    with pytest.raises(InvalidInputError) as exc:
        await svc.create_memory(
            inst, "second", customer_id="globex", user_id="alice", metadata={"conversation_id": "c9"}
        )
    assert exc.value.code == "conversation_scope_mismatch"
    with pytest.raises(InvalidInputError):
        await svc.record_message(inst, "c9", "user", "hi", customer_id="acme", user_id="bob")


async def test_scope_cannot_come_from_metadata(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    for key in ("user_id", "customer_id", "instance_id", "scope"):
        with pytest.raises(InvalidInputError):
            await svc.create_memory(inst, "sneaky", customer_id="acme", metadata={key: "globex"})


async def test_by_id_access_is_scope_checked(make_service: Any) -> None:
    svc, inst = await make_service("b2b")
    (mid,) = await write(svc, inst, "alice at acme secret", customer_id="acme", user_id="alice")
    assert (await svc.get_memory(inst, mid, user_id="alice", customer_id="acme")).content == "alice at acme secret"
    for ids in (
        {"user_id": "alice", "customer_id": "globex"},
        {"user_id": "bob", "customer_id": "acme"},
        {"customer_id": "acme"},
    ):
        with pytest.raises(MemoryNotFoundError):
            await svc.get_memory(inst, mid, **ids)
        with pytest.raises(MemoryNotFoundError):
            await svc.delete_memory(inst, mid, **ids)
    other_svc_inst = await svc.create_instance("other", "b2b")
    with pytest.raises(MemoryNotFoundError):
        await svc.get_memory(other_svc_inst, mid)
    await svc.delete_memory(inst, mid, user_id="alice", customer_id="acme")
    with pytest.raises(MemoryNotFoundError):
        await svc.get_memory(inst, mid)


async def test_narrower_scope_wins_on_conflict(make_service: Any) -> None:
    from tenantry.pipeline.base import MemoryDraft
    from tenantry.scope import Scope, ScopeLevel
    from tenantry.store.base import NewMemory, ProcessedJob

    svc, inst = await make_service("b2b")
    for scope, text, mid in (
        (Scope(inst.instance_id, ScopeLevel.CUSTOMER, "acme"), "reply language: English", "m-cust"),
        (Scope(inst.instance_id, ScopeLevel.USER, "acme", "alice"), "reply language: French", "m-user"),
    ):
        draft = MemoryDraft("preference", text, subject="user", attribute="reply_language")
        vec = (await svc.embed([text]))[0]
        await svc.store.complete_job(
            ProcessedJob(f"op-{mid}", None, scope, f"doc-{mid}", None, [NewMemory(mid, draft, vec, mid)], [], [])
        )
    resp = await svc.fetch_user(inst, "alice", customer_id="acme", search_query=["reply language"], max_results=10)
    assert [p.content for p in resp.preferences] == ["reply language: French"]
    assert resp.preferences[0].metadata["shadows"] == ["m-cust"]
    resp = await svc.fetch_customer(inst, "acme", search_query=["reply language"], max_results=10)
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
    svc, inst = await make_service("b2b")
    owner: dict[str, tuple[str, str]] = {}  # content -> (customer or "", user or "")
    for i, (cust, user, word) in enumerate(ws):
        text = f"w{i} {word} note"
        if user and not cust:
            with pytest.raises(InvalidInputError):
                await svc.create_memory(inst, text, document_type="document", user_id=user)
            continue
        await svc.create_memory(inst, text, document_type="document", customer_id=cust, user_id=user)
        owner[text] = (cust or "", (user or "") if cust else "")
    await svc.run_pending()
    for kind, cust, user in rs:
        if kind == "user":
            resp = await svc.fetch_user(
                inst, user, customer_id=cust, search_query=["tea coffee juice note"], max_results=50
            )
            allowed = {(cust, user), (cust, ""), ("", "")}
        elif kind == "customer":
            if not await svc.store.customer_exists(inst.instance_id, cust):
                continue
            resp = await svc.fetch_customer(inst, cust, search_query=["tea coffee juice note"], max_results=50)
            allowed = {(cust, ""), ("", "")}
        elif kind == "client":
            resp = await svc.fetch_client(inst, search_query=["tea coffee juice note"], max_results=50)
            allowed = {("", "")}
        else:
            resp = await svc.fetch_conversation(
                inst,
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
