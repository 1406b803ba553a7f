"""A blocking facade over the async SDK for scripts: ``with SyncTenantry() as sdk: sdk.memories.create(...)``.

The async SDK runs on a private event-loop thread; every coroutine method reached through the facade is run there
and waited for. There is no second implementation: the facade wraps the same objects.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .sdk import Tenantry

__all__ = ["SyncTenantry"]

T = TypeVar("T")


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


class _Proxy:
    def __init__(self, target: Any, runner: _LoopThread) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._runner.run(value(*args, **kwargs))

            call.__doc__ = value.__doc__
            call.__name__ = name
            return call
        if hasattr(value, "__dict__") and type(value).__module__.startswith("tenantry."):
            return _Proxy(value, self._runner)
        return value


class SyncTenantry(_Proxy):
    """Blocking twin of :class:`~tenantry.sdk.Tenantry`; same arguments, same namespaces, same errors."""

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

    def close(self) -> None:
        if self._runner.loop.is_running():
            self._runner.run(self._target.shutdown())
            self._runner.stop()

    def __enter__(self) -> SyncTenantry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
