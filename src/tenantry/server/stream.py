"""The Synap client's gRPC stream, ``synap.v1.SynapService/Listen``, served so that its framework integrations (which
open it on the first turn they report) get an answer at once instead of waiting out a 5 s connect timeout.

What it does with the stream: heartbeat pings are answered with pongs; ``user_message`` / ``assistant_message``
conversation events are recorded as the conversation's turns (as ``record_message`` would, extraction included) and
answered with an ``EventAck`` and the conversation's ``ConversationState`` (its message count); every other
conversation event (tool calls, reasoning ...) is acknowledged and dropped, and the audit events (``context_used``,
``context_assembled``, session control) are dropped. No context bundles are pushed: tenantry has no anticipation
agent, so the client's anticipation cache stays empty and its fetches go to the REST routes. An event id already
seen (the client replays what was not acknowledged when it reconnects) is acknowledged again and not recorded twice.

The messages are declared here, field numbers as the client's ``synap_service.proto`` has them (only the fields
used; protobuf skips the others), in a descriptor pool of their own.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from typing import Any

from ..contract import Message
from ..contract import RecordMessages
from ..errors import TenantryError

if TYPE_CHECKING:
    import grpc.aio

    from .deps import ServerState

__all__ = ["StreamServer"]

log = logging.getLogger("tenantry.server")

_STRING, _INT64, _MESSAGE = 9, 3, 11
_MESSAGES: dict[str, list[tuple[str, int, int, str | None, bool]]] = {  # name -> (field, number, type, of, repeated)
    "HeartbeatPing": [("timestamp_ms", 1, _INT64, None, False)],
    "ConversationEvent": [
        ("event_type", 1, _STRING, None, False),
        ("conversation_id", 2, _STRING, None, False),
        ("user_id", 3, _STRING, None, False),
        ("role", 4, _STRING, None, False),
        ("content", 5, _STRING, None, False),
        ("customer_id", 6, _STRING, None, False),
        ("session_id", 7, _STRING, None, False),
        ("event_id", 17, _STRING, None, False),
    ],
    "StreamEvent": [
        ("conversation_event", 1, _MESSAGE, "ConversationEvent", False),
        ("heartbeat_ping", 2, _MESSAGE, "HeartbeatPing", False),
    ],
    "HeartbeatPong": [("timestamp_ms", 1, _INT64, None, False)],
    "EventAck": [("event_ids", 1, _STRING, None, True), ("timestamp_ms", 2, _INT64, None, False)],
    "ConversationState": [("conversation_id", 1, _STRING, None, False), ("message_count", 2, _INT64, None, False)],
    "StreamResponse": [
        ("heartbeat_pong", 2, _MESSAGE, "HeartbeatPong", False),
        ("event_ack", 4, _MESSAGE, "EventAck", False),
        ("conversation_state", 5, _MESSAGE, "ConversationState", False),
    ],
}
_TURNS = {"user_message": "user", "assistant_message": "assistant"}
_SEEN = 100_000  # event ids remembered per process (replays after a reconnect are recorded once)


def _message_classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2
    from google.protobuf import descriptor_pool
    from google.protobuf import message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="tenantry_synap_stream.proto", package="synap.v1", syntax="proto3")
    for name, fields in _MESSAGES.items():
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, of, repeated in fields:
            f = msg.field.add(name=field_name, number=number, type=kind)
            f.label = f.LABEL_REPEATED if repeated else f.LABEL_OPTIONAL
            if of is not None:
                f.type_name = f".synap.v1.{of}"
    pool = descriptor_pool.DescriptorPool()  # not the default pool: the client's own classes may share the process
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"synap.v1.{name}")) for name in _MESSAGES}


class StreamServer:
    """A ``grpc.aio`` server on (host, port) answering ``Listen`` for the keys of this server's instances."""

    def __init__(self, state: ServerState, host: str, port: int) -> None:
        self._state, self.host, self.port = state, host, port
        self._types = _message_classes()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._server: grpc.aio.Server | None = None

    async def start(self) -> int:
        """Bind and start; returns the port (the one chosen when ``port`` was 0)."""
        import grpc

        handler = grpc.method_handlers_generic_handler(
            "synap.v1.SynapService",
            {
                "Listen": grpc.stream_stream_rpc_method_handler(
                    self._listen,
                    request_deserializer=self._types["StreamEvent"].FromString,
                    response_serializer=lambda m: m.SerializeToString(),
                )
            },
        )
        self._server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port(f"{self.host}:{self.port}")
        await self._server.start()
        return self.port

    async def stop(self, grace: float = 2.0) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop(grace)

    def _response(self, **payload: Any) -> Any:
        return self._types["StreamResponse"](**payload)

    async def _listen(self, events: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        import grpc

        metadata = {k.lower(): v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        auth = metadata.get("authorization", "")
        presented = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        svc = self._state.svc
        found = await svc.admin.authenticate_key(presented) if presented else None
        if found is None:
            self._state.metrics.auth_failures.inc()
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid, revoked or archived API key")
            return
        api = svc.api(await svc.instance(found[1].instance_id))
        async for event in events:
            now_ms = int(time.time() * 1000)
            if event.HasField("heartbeat_ping"):
                yield self._response(heartbeat_pong=self._types["HeartbeatPong"](timestamp_ms=now_ms))
                continue
            if not event.HasField("conversation_event"):
                continue  # audit events, session control: dropped
            ev = event.conversation_event
            state = await self._turn(api, ev) if ev.event_id not in self._seen else None
            if ev.event_id:
                self._seen[ev.event_id] = None
                while len(self._seen) > _SEEN:
                    self._seen.popitem(last=False)
                ack = self._types["EventAck"](event_ids=[ev.event_id], timestamp_ms=now_ms)
                yield self._response(event_ack=ack)
            if state is not None:
                yield self._response(conversation_state=state)

    async def _turn(self, api: Any, ev: Any) -> Any:
        """Record a user or assistant turn; the conversation's state after it (``None``: nothing recorded)."""
        role = _TURNS.get(ev.event_type) or (ev.role if ev.role in ("user", "assistant") else None)
        if role is None or not ev.conversation_id or not ev.content.strip():
            return None
        message = Message(
            conversation_id=ev.conversation_id,
            role=role,
            content=ev.content,
            user_id=ev.user_id or None,
            customer_id=ev.customer_id or None,
            session_id=ev.session_id or None,
        )
        try:
            (recorded,) = await api.record_messages(RecordMessages(messages=[message]))
        except TenantryError as exc:  # acknowledged all the same: a replay would be refused again
            log.warning("Listen: turn of conversation %s not recorded: %s", ev.conversation_id[:64], exc)
            return None
        count = recorded.conversation_message_count or 0
        return self._types["ConversationState"](conversation_id=ev.conversation_id, message_count=count)
