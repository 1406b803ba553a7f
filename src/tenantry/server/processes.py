"""``tenantry serve --processes N``: N server processes on one port, each with its own listening socket.

uvicorn's own multi-process mode shares one listening socket between its workers, and whichever worker's event loop
is first to ``accept()`` takes every connection waiting: clients that open their keep-alive connections together
(a pool warming up, a load balancer reconnecting) all land on one process while the others stay idle (measured: 32
connections, 32 on one of two processes). Here each process binds the port itself with ``SO_REUSEPORT`` and the
kernel spreads new connections over the processes (measured: 14 / 18), so they share the request work.

The parent process supervises: it stops every process on SIGINT or SIGTERM (each drains its requests and its
ingestion workers, as a single server does), restarts a process that dies while serving, and gives up (exit 1) when
one dies during startup (a port taken by another program, a bad configuration). The parent's settings are handed to
every process as arguments (pickled by ``multiprocessing``), so a process never depends on what the parent's
environment held when it started.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from ..settings import Settings
    from .config import ServerSettings

__all__ = ["reuseport_socket", "run_processes", "serve", "uvicorn_options"]

log = logging.getLogger("tenantry.server")

STARTUP_SECONDS = 15.0  # a process that dies sooner is a startup failure: no restart


def uvicorn_options(host: str, port: int, log_level: str, graceful_seconds: int = 30) -> dict[str, Any]:
    """The uvicorn settings of every ``tenantry serve`` process (one process or several)."""
    return {
        "host": host,
        "port": port,
        "log_level": log_level,
        "lifespan": "on",
        "ws": "none",
        "server_header": False,
        "timeout_graceful_shutdown": graceful_seconds,
    }


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port) that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(
    settings: Settings,
    server_settings: ServerSettings | None = None,
    *,
    host: str,
    port: int,
    log_level: str,
    processes: int = 1,
) -> int:
    """What ``tenantry serve`` runs: one uvicorn server in this process, or ``processes`` supervised ones (see the
    module docstring). Returns the exit code once stopped.

    Raises:
        OSError, ValueError: with ``processes`` > 1, as :func:`run_processes`.
    """
    if processes > 1:
        return run_processes(processes, host, port, log_level, settings=settings, server_settings=server_settings)
    import uvicorn

    from .app import create_app

    # Bind before the app starts: a busy port is reported at once, not after the model has loaded (~10 s).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(create_app(settings, server_settings), **uvicorn_options(host, port, log_level))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def _serve_one(
    settings: Settings,
    server_settings: ServerSettings | None,
    host: str,
    port: int,
    log_level: str,
    graceful_seconds: int,
) -> None:
    """One server process (the target of each child): its own socket, its own app, its own ingestion workers."""
    import uvicorn

    from .app import create_app

    sock = reuseport_socket(host, port)
    app = create_app(settings, server_settings)
    config = uvicorn.Config(app, **uvicorn_options(host, port, log_level, graceful_seconds))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled, after its graceful shutdown
        pass
    finally:
        sock.close()


class _Supervisor:
    """The child processes and what to do when one of them exits."""

    def __init__(self, processes: int, args: tuple[Any, ...], graceful_seconds: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._args = args
        self._graceful = graceful_seconds
        self.procs: list[Any] = [None] * processes
        self.started = [0.0] * processes
        self.stopping = False
        self.code = 0

    def start(self, i: int) -> None:
        p = self._ctx.Process(target=_serve_one, args=self._args, name="tenantry-serve")
        p.start()
        self.procs[i], self.started[i] = p, time.monotonic()

    def stop(self, _signum: int = signal.SIGTERM, _frame: Any = None) -> None:
        self.stopping = True
        for p in self.procs:
            if p is not None and p.is_alive() and p.pid is not None:
                # SIGTERM, not SIGINT: a terminal's Ctrl-C already sent SIGINT to every process of the group, and
                # uvicorn takes a second SIGINT as "exit now, skip the graceful shutdown".
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)

    def check(self) -> None:
        """Restart a process that died while serving; stop everything when one dies during startup."""
        if self.stopping:  # exits are expected now (a signal may arrive while the caller sleeps)
            return
        for i, p in enumerate(self.procs):
            if p.is_alive():
                continue
            if time.monotonic() - self.started[i] < STARTUP_SECONDS:
                log.error("server process %s exited during startup (code %s): stopping", p.pid, p.exitcode)
                self.code = 1
                self.stop()
                return
            log.warning("server process %s exited (code %s): starting another", p.pid, p.exitcode)
            self.start(i)

    def wait_stopped(self) -> None:
        deadline = time.monotonic() + self._graceful + 30
        while any(p.is_alive() for p in self.procs):
            if time.monotonic() > deadline:
                for p in self.procs:
                    if p.is_alive():
                        p.kill()
                self.code = self.code or 1
                break
            time.sleep(0.2)
        for p in self.procs:
            p.join(timeout=5)


def run_processes(
    processes: int,
    host: str,
    port: int,
    log_level: str,
    *,
    settings: Settings,
    server_settings: ServerSettings | None = None,
    graceful_seconds: int = 30,
) -> int:
    """Run and supervise ``processes`` server processes until SIGINT/SIGTERM; returns the exit code.

    Every process builds its app from ``settings`` and ``server_settings`` (default: its own ``ServerSettings()``).

    Raises:
        OSError: the port cannot be bound (checked once in this process before any child starts).
        ValueError: port 0 (each process would get another port) or a platform without ``SO_REUSEPORT``.
    """
    if port == 0:
        raise ValueError("--processes needs a fixed --port (with port 0 each process would get its own)")
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("--processes needs SO_REUSEPORT (Linux, macOS, BSD)")
    reuseport_socket(host, port).close()  # fail here, with a clear error, if another program holds the port
    args = (settings, server_settings, host, port, log_level, graceful_seconds)
    sup = _Supervisor(processes, args, graceful_seconds)
    previous = {sig: signal.signal(sig, sup.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for i in range(processes):
            sup.start(i)
        while not sup.stopping:
            time.sleep(0.2)
            sup.check()
        sup.wait_stopped()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sup.code
