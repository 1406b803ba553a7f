"""Real servers on 127.0.0.1 for tests: ``create_app`` under uvicorn in a thread, or ``tenantry serve`` as a
subprocess; plus admin-API helpers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tenantry.server.app import create_app
from tenantry.server.config import ServerSettings
from tenantry.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ThreadServer:
    """``create_app(settings, server_settings)`` served by uvicorn on a loopback port, in a daemon thread."""

    def __init__(self, settings: Settings, server_settings: ServerSettings) -> None:
        self.app = create_app(settings, server_settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws="none", loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self, timeout: float = 30.0) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class SubprocessServer:
    """``python -m tenantry.cli serve`` on a loopback port, with the given environment; stopped with SIGINT."""

    def __init__(self, env: dict[str, str], log_path: Path, *, extra_args: list[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "SYNAP_"))}
        # No gRPC stream unless a test asks: two servers would share 50051 (SO_REUSEPORT)
        self.env = {**inherited, "PYTHONPATH": str(REPO / "src"), "TENANTRY_GRPC_PORT": "0", **env}
        self.log_path = log_path
        self.args = [sys.executable, "-m", "tenantry.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.args += extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SubprocessServer:
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def admin_create_instance(url: str, name: str, relationship: str = "b2b", token: str = ADMIN_TOKEN) -> dict[str, Any]:
    """Create an instance (and its first key) through the admin API; returns the JSON answer."""
    r = httpx.post(
        f"{url}/admin/v1/instances",
        json={"name": name, "relationship": relationship},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    r.raise_for_status()
    data: dict[str, Any] = r.json()
    return data


@contextmanager
def synap_server(
    tmp: Path, name: str, relationship: str = "b2b", *, env: dict[str, str] | None = None
) -> Iterator[tuple[SubprocessServer, str]]:
    """``tenantry serve`` on a fresh SQLite file (hashing embedder) with one instance; yields the server and the
    instance's API key. On the way out the server must stop cleanly, without a traceback in its log."""
    env = {
        "TENANTRY_DSN": f"sqlite:///{tmp / 'tenantry.db'}",
        "TENANTRY_EMBEDDER": "hashing",
        "TENANTRY_ADMIN_TOKEN": ADMIN_TOKEN,
        "TENANTRY_WORKERS": "2",
        **(env or {}),
    }
    server = SubprocessServer(env, tmp / "server.log").start()
    try:
        yield server, admin_create_instance(server.url, name, relationship)["key"]["api_key"]
    finally:
        code, log = server.stop(), server.log()
        assert "Traceback" not in log, log[-4000:]
        assert code == 0, log[-2000:]
