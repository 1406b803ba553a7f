"""crewai's Synap memory (``maximem-synap-crewai``) against ``tenantry serve``: ``remember`` (its metadata carries
``user_id``, refused before as a scope key) and ``recall``, and the same user id under a second customer recalls
nothing. crewai 1.x requires ``mcp<2`` and ``pydantic<2.13``, so it cannot share the project's environment (mcp 2.x):
``make integrations`` builds ``.venv-crewai`` (≈ 1 GB, ≈ 5 minutes), and this test runs its scenario there; without
that environment it is skipped."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.server.helpers import REPO
from tests.server.helpers import synap_server

CREWAI_PYTHON = Path(os.environ.get("TENANTRY_CREWAI_PYTHON", REPO / ".venv-crewai" / "bin" / "python"))

SCENARIO = """
import json, time
from maximem_synap import MaximemSynapSDK, SDKConfig
from synap_integrations_common import run_async
from synap_crewai import SynapMemory, SynapStorageBackend

sdk = MaximemSynapSDK(config=SDKConfig(storage_path="STORAGE"), _force_new=True)
run_async(sdk.initialize())

def memory(customer):
    return SynapMemory(storage=SynapStorageBackend(sdk=sdk, user_id="isha", customer_id=customer), llm=None)

memory("acme").remember("Isha is vegetarian and lives in Lisbon", scope="/diet", categories=["preference"])
found = []
for _ in range(50):
    found = [m.record.content for m in memory("acme").recall("What does Isha eat?")]
    if found:
        break
    time.sleep(0.2)
other = [m.record.content for m in memory("globex").recall("What does Isha eat?")]
print(json.dumps({"acme": found, "globex": other}))
"""


@pytest.mark.skipif(not CREWAI_PYTHON.exists(), reason="no crewai environment: `make integrations` builds it")
def test_crewai_remember_and_recall(tmp_path: Path) -> None:
    with synap_server(tmp_path, "crewai") as (server, api_key):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "SYNAP_", "PYTHON"))}
        env |= {
            "SYNAP_BASE_URL": server.url,
            "SYNAP_API_KEY": api_key,
            "SYNAP_AUTO_LISTEN": "false",
            "SYNAP_SDK_LOCAL_MODEL": "off",
            "CREWAI_DISABLE_TELEMETRY": "true",
            "OTEL_SDK_DISABLED": "true",
        }
        script = SCENARIO.replace("STORAGE", str(tmp_path / "synap"))
        run = subprocess.run([str(CREWAI_PYTHON), "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        got = json.loads(run.stdout.strip().splitlines()[-1])
        assert any("vegetarian" in c for c in got["acme"]), got
        assert not any("vegetarian" in c for c in got["globex"]), got
