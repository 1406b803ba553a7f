"""The seed recipe (verbatim but for its import line) runs on tenantry and keeps tenants apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tenantry.demo import run_demo


@pytest.mark.model
async def test_seed_recipe_demo_runs_and_isolates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await run_demo(customers=5, users=5, dsn=f"sqlite:///{tmp_path / 'demo.db'}")
    out = capsys.readouterr().out
    assert "running 3 × 2" in out  # the scripts' limits are said, not silently applied
    assert "globex's users searching for acme's users' words: none" in out  # the negative isolation check
    # The playbook is kept whole: the refund policy reaches the "Customer org context" of the refund question.
    org = [
        " ".join(part.split("About this user:")[0].replace("│", " ").split())
        for part in out.split("Customer org context:")[1:]
    ]
    assert any("customers can get a full refund within 30 days of purchase." in block for block in org), out
    lines = re.findall(r"user (\w+) of (\w+): (\d+) items from \[(.*)\]", out)
    assert len(lines) == 6
    for user, customer, n, sources in lines:
        assert int(n) > 0
        assert set(re.findall(r"'([^']+)'", sources)) <= {f"user:{user}", f"customer:{customer}", "client"}
