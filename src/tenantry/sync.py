"""A blocking facade over the async SDK for scripts: ``with SyncTenantry() as sdk: sdk.memories.create(...)``.

The async SDK runs on a private event-loop thread; every method of the facade runs the async method of the same
name there and waits for it. There is no second implementation, and no second signature either: each blocking
method is declared as ``blocking(AsyncNamespace.method)``, whose type (a ``ParamSpec``) carries the async method's
parameters and its awaited result, so IDEs and mypy see the real signatures (``tests/test_contract.py`` compares
them with the async SDK's).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable
from collections.abc import Coroutine
from typing import Any
from typing import Concatenate
from typing import Generic
from typing import ParamSpec
from typing import TypeVar
from typing import overload

from .sdk import ClientContextNamespace
from .sdk import ConversationContextNamespace
from .sdk import ConversationNamespace
from .sdk import CustomerContextNamespace
from .sdk import MemoriesNamespace
from .sdk import Tenantry
from .sdk import UserContextNamespace
from .sdk import UserNamespace

__all__ = ["SyncTenantry"]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="tenantry-sync", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class _Blocking(Generic[P, T]):
    """Descriptor: the coroutine method ``method`` of an async object, run to completion on the loop thread."""

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> _Blocking[P, T]: ...

    @overload
    def __get__(self, obj: _Sync[Any], owner: type) -> Callable[P, T]: ...

    def __get__(self, obj: _Sync[Any] | None, owner: type) -> _Blocking[P, T] | Callable[P, T]:
        if obj is None:
            return self
        method, target, runner = self.method, obj._target, obj._runner

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return runner.run(method(target, *args, **kwargs))

        call.__signature__ = inspect.signature(getattr(target, method.__name__))  # type: ignore[attr-defined]
        return call


def blocking(method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]) -> _Blocking[P, T]:
    """Declare the blocking twin of an async method: ``create = blocking(MemoriesNamespace.create)``."""
    return _Blocking(method)


class _Sync(Generic[A]):
    """A blocking view of one async object of the SDK."""

    def __init__(self, target: A, runner: _LoopThread) -> None:
        self._target = target
        self._runner = runner


class SyncMemories(_Sync[MemoriesNamespace]):
    create = blocking(MemoriesNamespace.create)
    batch_create = blocking(MemoriesNamespace.batch_create)
    create_from_file = blocking(MemoriesNamespace.create_from_file)
    status = blocking(MemoriesNamespace.status)
    wait_for_completion = blocking(MemoriesNamespace.wait_for_completion)
    get = blocking(MemoriesNamespace.get)
    update = blocking(MemoriesNamespace.update)
    delete = blocking(MemoriesNamespace.delete)
    list = blocking(MemoriesNamespace.list)


class SyncConversationContext(_Sync[ConversationContextNamespace]):
    fetch = blocking(ConversationContextNamespace.fetch)
    get_context_for_prompt = blocking(ConversationContextNamespace.get_context_for_prompt)


class SyncConversation(_Sync[ConversationNamespace]):
    record_message = blocking(ConversationNamespace.record_message)
    record_messages_batch = blocking(ConversationNamespace.record_messages_batch)
    ingest_transcript = blocking(ConversationNamespace.ingest_transcript)
    get_messages = blocking(ConversationNamespace.get_messages)

    def __init__(self, target: ConversationNamespace, runner: _LoopThread) -> None:
        super().__init__(target, runner)
        self.context = SyncConversationContext(target.context, runner)


class SyncUserContext(_Sync[UserContextNamespace]):
    fetch = blocking(UserContextNamespace.fetch)


class SyncUser(_Sync[UserNamespace]):
    get_profile = blocking(UserNamespace.get_profile)

    def __init__(self, target: UserNamespace, runner: _LoopThread) -> None:
        super().__init__(target, runner)
        self.context = SyncUserContext(target.context, runner)


class SyncCustomerContext(_Sync[CustomerContextNamespace]):
    fetch = blocking(CustomerContextNamespace.fetch)


class SyncClientContext(_Sync[ClientContextNamespace]):
    fetch = blocking(ClientContextNamespace.fetch)


class _SyncHolder(Generic[A]):
    """``sdk.customer`` / ``sdk.client``: each carries a blocking ``context``."""

    def __init__(self, context: A) -> None:
        self.context = context


def _init_of(
    init: Callable[Concatenate[Any, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Give a constructor the parameters of ``init`` (for mypy through ``P``, for ``inspect`` by ``__signature__``)."""

    def decorate(fn: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        fn.__signature__ = inspect.signature(init)  # type: ignore[attr-defined]
        fn.__doc__ = init.__doc__
        return fn

    return decorate


class SyncTenantry(_Sync[Tenantry]):
    """Blocking twin of :class:`~tenantry.sdk.Tenantry`: same arguments, same namespaces, same errors. It is open
    once constructed; :meth:`close` (or leaving the ``with`` block) finishes queued work and closes it."""

    fetch = blocking(Tenantry.fetch)
    delete_data = blocking(Tenantry.delete_data)
    export_page = blocking(Tenantry.export_page)
    import_data = blocking(Tenantry.import_data)

    @_init_of(Tenantry.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        runner = _LoopThread()

        async def build() -> Tenantry:
            sdk = Tenantry(*args, **kwargs)
            await sdk.initialize()
            return sdk

        try:
            sdk = runner.run(build())
        except BaseException:
            runner.stop()
            raise
        super().__init__(sdk, runner)
        self.memories = SyncMemories(sdk.memories, runner)
        self.conversation = SyncConversation(sdk.conversation, runner)
        self.user = SyncUser(sdk.user, runner)
        self.customer = _SyncHolder(SyncCustomerContext(sdk.customer.context, runner))
        self.client = _SyncHolder(SyncClientContext(sdk.client.context, runner))

    @property
    def sdk(self) -> Tenantry:
        """The async SDK this facade drives (its ``instance_id``, ``client_id``, ``settings``)."""
        return self._target

    @property
    def instance_id(self) -> str | None:
        return self._target.instance_id

    @property
    def client_id(self) -> str | None:
        return self._target.client_id

    def close(self) -> None:
        if self._runner.loop.is_running():
            self._runner.run(self._target.shutdown())
            self._runner.stop()

    def __enter__(self) -> SyncTenantry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
