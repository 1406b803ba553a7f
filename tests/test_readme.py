"""The README's "Use it with…" examples, run as written: the MCP client configuration (launched with the mcp client),
the LangGraph graph, and the Synap client against ``tenantry serve``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.server.helpers import SubprocessServer

REPO = Path(__file__).resolve().parents[1]


def example(name: str) -> str:
    text = (REPO / "README.md").read_text()
    found = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"README has no example {name!r}"
    return found.group(1)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "SYNAP_"))}
    bin_dir = str(Path(sys.executable).parent)  # where the `tenantry` script is installed
    return {
        **inherited,
        "PATH": f"{bin_dir}:{inherited.get('PATH', '')}",
        "PYTHONPATH": str(REPO / "src"),
        "TENANTRY_HOME": str(tmp_path),
        "TENANTRY_EMBEDDER": "hashing",
        **extra,
    }


async def test_mcp_client_configuration(tmp_path: Path) -> None:
    pytest.importorskip("mcp")
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    server = json.loads(example("mcp-config"))["mcpServers"]["memory"]
    assert set(server["env"]) == {"TENANTRY_DSN"}
    env = _env(tmp_path, TENANTRY_DSN=f"sqlite:///{tmp_path / 'mcp.db'}")  # the example's variable, not its home
    command = server["command"]
    if not (Path(sys.executable).parent / command).exists():  # running from a checkout without the script
        command, server["args"] = sys.executable, ["-m", "tenantry.cli", *server["args"]]
    async with Client(StdioServerParameters(command=command, args=server["args"], env=env)) as client:
        added = await client.call_tool("add_memory", {"content": "I prefer window seats."})
        assert not added.is_error, added.content
        refused = await client.call_tool("search_memories", {"query": "seats", "user_id": "bob"})
        assert refused.is_error


def test_langgraph_example(tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    script = tmp_path / "graph.py"
    script.write_text(example("langgraph"))
    env = _env(tmp_path, TENANTRY_DSN=f"sqlite:///{tmp_path / 'lg.db'}")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "vegetarian, loves spicy food"


def test_synap_client_example(tmp_path: Path) -> None:
    pytest.importorskip("maximem_synap")
    env = _env(tmp_path, TENANTRY_DSN=f"sqlite:///{tmp_path / 'srv.db'}", TENANTRY_WORKERS="1")
    made = subprocess.run(
        [sys.executable, "-m", "tenantry.cli", "instance", "create", "demo", "--relationship", "b2b", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(made.stdout)["api_key"]
    server = SubprocessServer(env, tmp_path / "server.log").start()
    try:
        script = example("synap").replace("http://127.0.0.1:8000", server.url).replace("tn_...", key)
        script = script.replace("python -c", f"{sys.executable} -c")
        out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    finally:
        server.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("completed"), out.stdout
