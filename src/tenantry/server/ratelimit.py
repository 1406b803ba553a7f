"""Per-key token-bucket rate limiting (in process; each server process limits on its own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TokenBucketLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """A token bucket per key: ``rate`` tokens per second refill a bucket of ``burst`` tokens; each request takes one.

    Args:
        rate: sustained requests per second per key; ``0`` disables limiting.
        burst: bucket capacity.
        clock: monotonic clock (injectable for tests).
        max_keys: buckets kept; the oldest idle ones are dropped beyond this (a dropped bucket restarts full).
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, key: str) -> float | None:
        """Take one token for ``key``. Returns ``None`` when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return None
        now = self._clock()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self._max_keys:
                self._evict(now)
            b = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            b.tokens = min(float(self.burst), b.tokens + (now - b.updated) * self.rate)
            b.updated = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return None
        return (1.0 - b.tokens) / self.rate

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.rate
        stale = [k for k, b in self._buckets.items() if now - b.updated >= full_after]
        for k in stale or list(self._buckets)[: max(1, len(self._buckets) // 10)]:
            del self._buckets[k]
