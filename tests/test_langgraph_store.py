"""``TenantryStore`` as LangGraph uses it: a small graph (no LLM) whose nodes write and read memories through the
injected store; put/get round-trips a dict exactly; search with a query and a filter; delete; list_namespaces with
prefix and max_depth; the embedded and the remote store give the same results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import TypedDict

import pytest
from tests.server.conftest import ServerFactory
from tests.server.conftest import thread_server  # noqa: F401  (the fixture)
from tests.server.helpers import admin_create_instance

pytest.importorskip("langgraph")
from langgraph.graph import END
from langgraph.graph import START
from langgraph.graph import StateGraph
from langgraph.store.base import BaseStore

from tenantry.integrations.langgraph_store import TenantryStore

ALICE = ("customer", "acme", "user", "alice", "prefs")
BOB = ("customer", "acme", "user", "bob", "prefs")


class State(TypedDict):
    user: str
    answer: str


def remember(state: State, *, store: BaseStore) -> dict[str, Any]:
    ns = ("customer", "acme", "user", state["user"], "prefs")
    store.put(ns, "food", {"likes": "spicy ramen", "stars": 5, "tags": ["noodles", "hot"], "nested": {"a": [1, 2.5]}})
    store.put(ns, "drink", {"likes": "oolong tea", "stars": 3})
    store.put(("customer", "acme", "policies"), "refunds", {"text": "30-day refund window", "stars": 4})
    return {}


def recall(state: State, *, store: BaseStore) -> dict[str, Any]:
    ns = ("customer", "acme", "user", state["user"], "prefs")
    hits = store.search(ns, query="which spicy noodles", limit=1)
    return {"answer": hits[0].value["likes"] if hits else ""}


def graph(store: BaseStore) -> Any:
    g = StateGraph(State)
    g.add_node("remember", remember)
    g.add_node("recall", recall)
    g.add_edge(START, "remember")
    g.add_edge("remember", "recall")
    g.add_edge("recall", END)
    return g.compile(store=store)


def scenario(store: BaseStore) -> dict[str, Any]:
    """What the acceptance asks, as plain data (compared between the embedded and the remote store)."""
    out: dict[str, Any] = {}
    out["graph"] = graph(store).invoke({"user": "alice", "answer": ""})["answer"]
    graph(store).invoke({"user": "bob", "answer": ""})
    food = store.get(ALICE, "food")
    assert food is not None
    out["value"] = food.value
    out["by_query"] = [(i.key, i.namespace) for i in store.search(ALICE, query="tea")][:1]
    out["filtered"] = sorted(i.key for i in store.search(ALICE, filter={"stars": {"$gte": 4}}))
    out["eq"] = sorted(i.key for i in store.search(ALICE, filter={"likes": "oolong tea"}))
    out["bob_sees_alice"] = [i.value for i in store.search(BOB, query="spicy ramen") if i.namespace == ALICE]
    store.put(ALICE, "drink", {"likes": "green tea", "stars": 2})  # overwrite
    drink = store.get(ALICE, "drink")
    assert drink is not None
    out["overwritten"] = drink.value
    store.delete(ALICE, "food")
    out["deleted"] = store.get(ALICE, "food")
    out["namespaces"] = store.list_namespaces()
    out["prefix_depth"] = store.list_namespaces(prefix=("customer", "acme", "user"), max_depth=4)
    out["suffix"] = store.list_namespaces(suffix=("policies",))
    return out


EXPECTED = {
    "graph": "spicy ramen",
    "value": {"likes": "spicy ramen", "stars": 5, "tags": ["noodles", "hot"], "nested": {"a": [1, 2.5]}},
    "by_query": [("drink", ALICE)],
    "filtered": ["food"],
    "eq": ["drink"],
    "bob_sees_alice": [],
    "overwritten": {"likes": "green tea", "stars": 2},
    "deleted": None,
    "namespaces": [("customer", "acme", "policies"), ALICE, BOB],
    "prefix_depth": [("customer", "acme", "user", "alice"), ("customer", "acme", "user", "bob")],
    "suffix": [("customer", "acme", "policies")],
}


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[TenantryStore]:
    with TenantryStore(dsn=f"sqlite:///{tmp_path / 'lg.db'}", embedder="hashing", workers=0) as store:
        yield store


def test_embedded_store(embedded: TenantryStore) -> None:
    assert scenario(embedded) == EXPECTED


def test_remote_store_gives_the_same_results(thread_server: ServerFactory) -> None:  # noqa: F811
    server = thread_server()
    key = admin_create_instance(server.url, "lg")["key"]["api_key"]
    with TenantryStore(url=server.url, api_key=key) as store:
        assert scenario(store) == EXPECTED


async def test_async_api(embedded: TenantryStore) -> None:
    await embedded.aput(("notes",), "n1", {"text": "the launch is on Tuesday"})
    item = await embedded.aget(("notes",), "n1")
    assert item is not None and item.value == {"text": "the launch is on Tuesday"}
    hits = await embedded.asearch(("notes",), query="when is the launch")
    assert [h.key for h in hits] == ["n1"] and hits[0].score is not None
    await embedded.adelete(("notes",), "n1")
    assert await embedded.aget(("notes",), "n1") is None
    assert await embedded.alist_namespaces() == []
