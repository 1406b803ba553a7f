"""The public Synap framework integrations, each with its own package from PyPI and the unmodified ``maximem-synap``
client, against ``tenantry serve`` (a real subprocess on 127.0.0.1; no LLM): LangGraph's store, LangChain's
retriever, Agno's user-memory database, and the MCP server's tools. Each also checks that the same user id under a
second customer sees nothing of the first's.

crewai (``maximem-synap-crewai``) is in ``test_synap_crewai.py``: crewai 1.x requires ``mcp<2`` and ``pydantic<2.13``,
which cannot be installed beside this project's ``mcp==2.3``, so it runs from an environment of its own.
``maximem-synap-mcp-server`` also pins ``mcp<2``; its tools (``tools.py``, ``client.py``, ``stream.py``) do not import
``mcp``, so the package is installed without its dependencies (Makefile) and its tools are registered on this
project's MCP server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from maximem_synap import MaximemSynapSDK
from maximem_synap import SDKConfig
from tests.server.helpers import SubprocessServer
from tests.server.helpers import synap_server

synap_langgraph = pytest.importorskip("synap_langgraph")
synap_langchain = pytest.importorskip("synap_langchain")
synap_agno = pytest.importorskip("synap_agno")
synap_mcp_tools = pytest.importorskip("synap_mcp_server.tools")


class Deployment:
    def __init__(self, server: SubprocessServer, api_key: str) -> None:
        self.server, self.api_key = server, api_key


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with synap_server(tmp_path_factory.mktemp("integrations"), "integrations") as (server, api_key):
        yield Deployment(server, api_key)


@pytest.fixture
def synap_env(deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNAP_BASE_URL", deployment.server.url)
    monkeypatch.setenv("SYNAP_API_KEY", deployment.api_key)
    monkeypatch.setenv("SYNAP_AUTO_LISTEN", "false")
    monkeypatch.setenv("SYNAP_SDK_LOCAL_MODEL", "off")
    return tmp_path


async def _sdk(storage: Path) -> Any:
    sdk = MaximemSynapSDK(config=SDKConfig(storage_path=str(storage / "synap")), _force_new=True)
    await sdk.initialize()
    return sdk


async def _eventually(read: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    """``read()`` until ``ok`` holds of its answer (ingestion is asynchronous) or ``timeout`` passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await read()
        if ok(got) or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.2)


def _user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_langgraph_store(synap_env: Path) -> None:
    from synap_langgraph import SynapStore

    async def scenario() -> None:
        sdk = await _sdk(synap_env)
        user = _user("lg")
        try:
            store = SynapStore(sdk, user_id=user, customer_id="acme")
            ns = ("memories", user)
            await store.aput(ns, "food", {"likes": "sushi and ramen"})
            await store.aput(ns, "city", {"lives_in": "Lisbon"})
            found = await _eventually(
                lambda: store.asearch(("memories",), query="sushi ramen"),
                lambda got: any(i.value.get("likes") == "sushi and ramen" for i in got),
            )
            assert any(i.value.get("likes") == "sushi and ramen" for i in found), found
            await store.adelete(ns, "food")  # the integration's delete (a documented no-op): must not fail
            other = SynapStore(sdk, user_id=user, customer_id="globex")
            assert not [i for i in await other.asearch(("memories",), query="sushi ramen") if "sushi" in str(i.value)]
        finally:
            await sdk.shutdown()

    asyncio.run(scenario())


def test_langgraph_store_get_by_key(synap_env: Path) -> None:
    from synap_langgraph import SynapStore

    async def scenario() -> None:
        sdk = await _sdk(synap_env)
        user = _user("lgget")
        try:
            store = SynapStore(sdk, user_id=user, customer_id="acme")
            await store.aput(("prefs", user), "drink", {"likes": "green tea"})
            item = await _eventually(lambda: store.aget(("prefs", user), "drink"), lambda got: got is not None)
            assert item is not None and item.value == {"likes": "green tea"}
        finally:
            await sdk.shutdown()

    asyncio.run(scenario())


def test_langchain_retriever_and_history(synap_env: Path) -> None:
    from langchain_core.messages import AIMessage
    from langchain_core.messages import HumanMessage
    from synap_langchain import SynapChatMessageHistory
    from synap_langchain import SynapRetriever

    async def scenario() -> None:
        sdk = await _sdk(synap_env)
        user = _user("lc")
        try:
            r = await sdk.memories.create(
                "User: I am training for the Berlin marathon.", user_id=user, customer_id="acme"
            )
            await sdk.memories.wait_for_completion(r.ingestion_id, timeout_seconds=30, poll_interval_seconds=0.1)
            docs = await SynapRetriever(sdk=sdk, user_id=user, customer_id="acme").ainvoke("marathon training")
            assert any("marathon" in d.page_content.lower() for d in docs), docs
            other = await SynapRetriever(sdk=sdk, user_id=user, customer_id="globex").ainvoke("marathon training")
            assert not any("marathon" in d.page_content.lower() for d in other)
            # The chat history: turns written through it come back as LangChain messages, in order.
            conv = str(uuid.uuid4())
            history = SynapChatMessageHistory(sdk=sdk, conversation_id=conv, user_id=user, customer_id="acme")
            await history.aadd_messages([HumanMessage("Which shoes for a marathon?"), AIMessage("Cushioned ones.")])
            got = await history.aget_messages()
            assert [(type(m).__name__, m.content) for m in got] == [
                ("HumanMessage", "Which shoes for a marathon?"),
                ("AIMessage", "Cushioned ones."),
            ]
            theirs = SynapChatMessageHistory(sdk=sdk, conversation_id=conv, user_id=user, customer_id="globex")
            with pytest.raises(Exception, match="the turn was not recorded"):  # the server refused it (bound to acme)
                await theirs.aadd_messages([HumanMessage("globex writing into acme's conversation")])
        finally:
            await sdk.shutdown()

    asyncio.run(scenario())


def test_agno_user_memory(synap_env: Path) -> None:
    from agno.db.schemas.memory import UserMemory
    from synap_agno import AsyncSynapDb

    async def scenario() -> None:
        sdk = await _sdk(synap_env)
        user = _user("agno")
        try:
            db = AsyncSynapDb(sdk, customer_id="acme", mode="fast")
            # (its metadata holds user_id: refused with 400 scope_in_metadata before; a memory written in the third
            # person by Agno's LLM, "User loves ...", is found once context items carry verbatim passages)
            await db.upsert_user_memory(UserMemory(memory="I love climbing in Sintra.", user_id=user))
            found = await _eventually(
                lambda: db.get_user_memories(user_id=user, search_content="climbing Sintra"),
                lambda got: any("climbing" in m.memory.lower() for m in got),
            )
            assert any("climbing" in m.memory.lower() for m in found), found
            other = AsyncSynapDb(sdk, customer_id="globex", mode="fast")
            assert not any("climbing" in m.memory.lower() for m in await other.get_user_memories(user_id=user))
        finally:
            await sdk.shutdown()

    asyncio.run(scenario())


def test_mcp_server_tools(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """``log_exchange`` (with event streaming on: ``/v1/events/batch``) and ``recall_context``, registered on this
    project's MCP server and called through it."""
    from mcp.server.mcpserver import MCPServer
    from synap_mcp_server import client
    from synap_mcp_server import config
    from synap_mcp_server import stream
    from synap_mcp_server import tools
    from synap_mcp_server.context import set_token

    settings = config.Settings(synap_api_url=deployment.server.url, stream_events=True)
    for module in (client, stream, tools):
        monkeypatch.setattr(module, "settings", settings)
    server = MCPServer("synap")
    tools.register(server)
    user, conv = _user("mcp"), str(uuid.uuid4())

    async def call(name: str, **arguments: Any) -> str:
        set_token(deployment.api_key)
        result = await server.call_tool(name, arguments)
        assert not result.is_error, result
        return " ".join(getattr(b, "text", "") for b in result.content)

    async def scenario() -> None:
        logged = await call(
            "log_exchange",
            user_message="I'm vegetarian and I live in Porto.",
            assistant_message="Noted!",
            conversation_id=conv,
            user_id=user,
            customer_id="acme",
            wait_for_processing=True,
        )
        assert "Logged to memory" in logged and "Processing complete" in logged, logged
        recalled = await call("recall_context", query="vegetarian Porto", user_id=user, customer_id="acme")
        assert "vegetarian" in recalled.lower() and "Nothing remembered yet" not in recalled, recalled
        other = await call("recall_context", query="vegetarian Porto", user_id=user, customer_id="globex")
        assert "vegetarian" not in other.lower()

    asyncio.run(scenario())
