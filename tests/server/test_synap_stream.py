"""The Synap client's gRPC stream (``synap.v1.SynapService/Listen``) served by ``tenantry serve``: with the client's
default settings (auto-listen on) an integration's first turn does not wait out the client's 5 s connect timeout,
and turns reported on the stream are the conversation's turns."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from maximem_synap import MaximemSynapSDK
from maximem_synap import SDKConfig
from tests.server.helpers import free_port
from tests.server.helpers import synap_server

stream_events = pytest.importorskip("synap_integrations_common.stream_events")


def test_first_turn_does_not_wait_and_streamed_turns_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    with synap_server(tmp_path, "stream", env={"TENANTRY_GRPC_PORT": str(port)}) as (server, api_key):
        for name, value in {
            "SYNAP_BASE_URL": server.url,
            "SYNAP_API_KEY": api_key,
            "SYNAP_GRPC_HOST": "127.0.0.1",
            "SYNAP_GRPC_PORT": str(port),
            "SYNAP_GRPC_USE_TLS": "false",
            "SYNAP_SDK_LOCAL_MODEL": "off",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SYNAP_AUTO_LISTEN", raising=False)  # the client's default: open the stream

        async def scenario() -> None:
            sdk = MaximemSynapSDK(config=SDKConfig(storage_path=str(tmp_path / "synap")), _force_new=True)
            await sdk.initialize()
            conv, ids = str(uuid.uuid4()), {"user_id": "alice", "customer_id": "acme"}
            try:
                t0 = time.perf_counter()
                await stream_events.record_turn(
                    sdk, role="user", content="I want a window seat.", conversation_id=conv, **ids
                )
                await sdk.user.context.fetch(search_query=["seat"], **ids)
                first_turn = time.perf_counter() - t0
                assert sdk.instance.is_listening  # the turn went on the stream, not over REST
                assert first_turn < 2.5, f"{first_turn:.2f} s: the client waited for its gRPC connect timeout (5 s)"
                await stream_events.record_turn(
                    sdk, role="assistant", content="Done: 14A.", conversation_id=conv, **ids
                )
                for _ in range(100):
                    prompt = await sdk.conversation.context.get_context_for_prompt(conv)
                    if len(prompt.recent_messages) == 2:
                        break
                    await asyncio.sleep(0.05)
                assert [(m.role, m.content) for m in prompt.recent_messages] == [
                    ("user", "I want a window seat."),
                    ("assistant", "Done: 14A."),
                ]
            finally:
                await sdk.shutdown()

        asyncio.run(scenario())
