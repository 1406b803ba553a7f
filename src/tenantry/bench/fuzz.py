"""``tenantry fuzz``: random and hostile requests over every route of a live server; counts the 5xx answers and
measures ``/health`` throughout.

Two sources of requests, half each by default:

- **hostile text** (:func:`hostile_requests`): every write and fetch route, its text fields filled with random
  Unicode from an alphabet weighted towards what breaks servers (lone surrogates, NUL, right-to-left overrides,
  combining marks, byte-order marks, astral characters), its numbers with extremes (``NaN``, ``Infinity``, 2^62, -1);
  sent as raw JSON, as a client can send it;
- **schemathesis** over ``/openapi.json``: for every operation, cases valid and invalid by the schema.

While they run, a child process asks ``/health`` every 50 ms (one tenant's bad input must not stall the server for the
others). The server is ``tenantry serve`` in a child process on a temporary SQLite database, with the default (real)
embedder. Prints the status classes, the 5xx answers (route and status), and ``/health`` latency percentiles.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..server.config import ServerSettings
from ..settings import Settings
from ._common import pct

__all__ = ["HOSTILE_CHARS", "ROUTES", "Request", "hostile_requests", "hostile_text", "run_fuzz"]

# What breaks servers, weighted in: lone surrogates (no UTF-8 form), NUL, bidi overrides, combining marks, zero-width
# and byte-order marks, an astral emoji, a Hangul syllable, ASCII quotes and backslashes.
HOSTILE_CHARS = (
    "\ud800",
    "\udfff",
    "\x00",
    "\u202e",
    "\u200f",
    "\u0301",
    "\u0336",
    "\ufeff",
    "\u200b",
    "\U0001f600",
    "\ud55c",
    '"',
    "\\",
    "\n",
)
EXTREME_NUMBERS: tuple[Any, ...] = (float("nan"), float("inf"), -float("inf"), 2**62, 10**20, -1, 0, 1.5)

Request = tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]  # method, path, JSON body, query params


def hostile_text(rng: random.Random, *, max_len: int = 24) -> str:
    """A random string, half of its characters from :data:`HOSTILE_CHARS`, the rest printable ASCII."""
    return "".join(
        rng.choice(HOSTILE_CHARS) if rng.random() < 0.5 else chr(rng.randrange(32, 127))
        for _ in range(rng.randrange(0, max_len + 1))
    )


def _routes(t: Callable[[], str], n: Callable[[], Any]) -> list[Request]:
    """One request per write and fetch route, text slots filled by ``t()``, number slots by ``n()``."""
    ids = {"customer_id": "acme", "user_id": "alice"}
    conv = "conv-fuzz"
    fetch = {"search_query": [t()], "max_results": n(), "filters": {t(): t()}, "as_of": t(), "mode": t()}
    return [
        ("POST", "/api/v1/memories/create", {"document": t(), "metadata": {t(): t(), "n": n()}, **ids}, None),
        ("POST", "/api/v1/memories/create", {"document": {"messages": [{"role": "user", "content": t()}]}}, None),
        ("POST", "/api/v1/memories/create", {"document": "User: hi", "document_created_at": t(), **ids}, None),
        ("POST", "/api/v1/memories/batch", {"documents": [{"document": t(), "metadata": {"k": t()}}]}, None),
        ("PATCH", f"/api/v1/memories/{t()}", {"document": t(), "metadata": {"k": n()}}, ids),
        ("GET", "/api/v1/memories", None, {"page": n(), "page_size": n(), "types": t(), **ids}),
        ("GET", f"/api/v1/memories/{t()}", None, ids),
        ("DELETE", f"/api/v1/memories/{t()}", None, {"user_id": t()}),
        ("GET", f"/api/v1/memories/status/{t()}", None, None),
        ("POST", "/v1/conversations/messages", {"conversation_id": conv, "role": "user", "content": t(), **ids}, None),
        ("POST", "/v1/conversations/messages/batch", {"messages": [{"conversation_id": t(), "content": t()}]}, None),
        ("POST", "/v1/conversations/ingest", {"conversation_id": conv, "transcript": t(), **ids}, None),
        ("GET", f"/v1/conversations/{conv}/messages", None, {"start": n(), "limit": n(), "user_id": t()}),
        ("GET", f"/v1/conversations/{conv}/context-for-prompt", None, {"limit": n(), "style": t()}),
        ("POST", "/v1/context/user/fetch", {**fetch, **ids}, None),
        ("POST", "/v1/context/customer/fetch", {**fetch, "customer_id": t()}, None),
        ("POST", "/v1/context/client/fetch", {**fetch, "token_budget": n()}, None),
        ("POST", "/v1/context/conversation/fetch", {**fetch, "conversation_id": conv, "recent_turns": n()}, None),
        ("POST", "/v1/context/fetch", {**fetch, **ids, "conversation_id": t(), "scopes": [t()]}, None),
        ("GET", f"/v1/users/{t()}/profile", None, {"customer_id": t()}),
        ("POST", "/v1/data/delete", {"scope": "conversation", "conversation_id": t(), "dry_run": True}, None),
    ]


ROUTES = len(_routes(lambda: "", lambda: 0))


def hostile_requests(rng: random.Random, count: int) -> Iterator[Request]:
    """``count`` requests cycling through every write and fetch route, each with fresh hostile values."""
    for i in range(count):

        def number() -> Any:
            return rng.choice(EXTREME_NUMBERS) if rng.random() < 0.7 else rng.randrange(1, 20)

        yield _routes(lambda: hostile_text(rng), number)[i % ROUTES]


def _quote(value: Any) -> str:
    """A URL component, percent-encoded byte by byte (a lone surrogate as the bytes a careless client sends)."""
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def send(http: httpx.Client, request: Request) -> httpx.Response:
    """Send ``request`` as a client may really send it: JSON with lone surrogates as ``\\ud800`` escapes and
    ``NaN`` literals (what Python's json writes and httpx's own encoder refuses), URL parts percent-encoded from
    their bytes."""
    method, path, body, params = request
    url = "/".join(_quote(part) if i > 2 else part for i, part in enumerate(path.split("/")))
    if params:
        url += "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())
    content = None if body is None else json.dumps(body)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return http.request(method, url, content=content, headers=headers)


def _status(http: httpx.Client, request: Request) -> int:
    """The status ``request`` got, or 0 when the server dropped the connection instead of answering (counted with
    the 5xx: uvicorn closes a connection after an exception escaped the app)."""
    try:
        return send(http, request).status_code
    except httpx.TransportError:
        return 0


def _probe_health(url: str, every: float, stop: Any, out: Any) -> None:
    """In a process of its own (the load generator's GIL does not delay it): ask ``/health`` every ``every``
    seconds until ``stop`` is set, then send the latencies (ms) and the number of failures through ``out``."""
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=url, timeout=5.0) as http:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ok = http.get("/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += not ok
            stop.wait(every)
    out.send((latencies, failures))
    out.close()


class _HealthProbe:
    """Asks ``/health`` every ``every`` seconds from a child process until stopped; keeps the latencies (ms) and
    the failures. A thread of the load generator would count the generator's own pauses (schemathesis builds its
    cases in Python) as the server's."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop_event = ctx.Event()
        self._receive, send_end = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_probe_health, args=(url, every, self._stop_event, send_end), name="tenantry-fuzz-health"
        )
        self.latencies: list[float] = []
        self.failures = 0

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        if self._process.pid is None:  # never started (the server did not come up)
            return
        self._stop_event.set()
        if self._receive.poll(30):
            self.latencies, self.failures = self._receive.recv()
        self._process.join(timeout=10)


def _schemathesis_requests(url: str, key: str, admin: str, total: int, seed: int, record: Callable[..., None]) -> int:
    """Run about ``total`` schemathesis cases (valid and invalid by the schema) spread over every operation."""
    import schemathesis
    from hypothesis import HealthCheck
    from hypothesis import given
    from hypothesis import settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    per_op = max(1, total // (2 * len(operations)))
    sent = 0

    def cases(op: Any, mode: GenerationMode, token: str) -> None:
        label = f"{op.method.upper()} {op.path}"

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=per_op, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def run(case: Any) -> None:
            nonlocal sent
            try:
                status = case.call(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code
            except OSError:  # requests' connection errors: the server dropped the connection
                status = 0
            sent += 1
            record(label, status)

        try:
            run()
        except Unsatisfiable:  # an operation with nothing to make invalid
            pass

    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases(op, mode, admin if op.path.startswith("/admin/") else key)
    return sent


def run_fuzz(
    *,
    requests: int = 10_000,
    seed: int = 7,
    schemathesis_share: float = 0.5,
    dsn: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start a server (on ``dsn``, else a fresh SQLite file), send ``requests`` requests (``schemathesis_share`` of
    them from schemathesis, the rest hostile-text requests), watch ``/health``; returns the figures."""
    from .server import _free_port
    from .server import _Server

    admin = "fuzz-admin-token"
    with tempfile.TemporaryDirectory(prefix="tenantry-fuzz-") as tmp:
        settings = Settings(dsn=dsn or f"sqlite:///{Path(tmp) / 'fuzz.db'}", workers=1)
        quiet = ServerSettings(admin_token=admin, rate_limit_per_second=0)
        server = _Server(settings, _free_port(), Path(tmp) / "serve.log", server_settings=quiet)
        probe = _HealthProbe(server.url)
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()

        def record(route: str, status: int) -> None:
            statuses[status] += 1
            if status >= 500 or status == 0:
                errors[f"{route} -> {status or 'connection dropped'}"] += 1

        try:
            asyncio.run(server.wait_ready())
            created = httpx.post(
                f"{server.url}/admin/v1/instances",
                json={"name": "fuzz", "relationship": "b2b"},
                headers={"Authorization": f"Bearer {admin}"},
                timeout=30,
            ).json()
            key = created["key"]["api_key"]
            probe.start()
            t0 = time.perf_counter()
            hostile = requests - int(requests * schemathesis_share)
            rng = random.Random(seed)
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
                for i, req in enumerate(hostile_requests(rng, hostile), 1):
                    record(f"{req[0]} {req[1].split('/')[1:4]}", _status(http, req))
                    if i % 1000 == 0:
                        log(f"hostile text: {i}/{hostile}")
            sent = _schemathesis_requests(server.url, key, admin, requests - hostile, seed, record)
            log(f"schemathesis: {sent} cases")
            # schemathesis runs out of distinct cases on small operations: hostile requests make up the count.
            extra = max(0, requests - hostile - sent)
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
                for req in hostile_requests(rng, extra):
                    record(f"{req[0]} {req[1].split('/')[1:4]}", _status(http, req))
            hostile += extra
            seconds = time.perf_counter() - t0
        finally:
            probe.stop()  # also when a request raised: the probe's process must not outlive the run
            server.stop()
    lat = probe.latencies
    return {
        "backend": "postgresql" if settings.resolved_dsn().startswith("postgres") else "sqlite",
        "requests": sum(statuses.values()),
        "hostile_text": hostile,
        "schemathesis": sent,
        "seconds": round(seconds, 1),
        "status_classes": dict(
            sorted(Counter(f"{s // 100}xx" if s else "dropped" for s in statuses.elements()).items())
        ),
        "server_errors": dict(errors),
        "health_checks": len(lat),
        "health_failures": probe.failures,
        "health_ms": {"p50": round(pct(lat, 50), 1), "p99": round(pct(lat, 99), 1), "max": round(max(lat), 1)},
    }
