"""The store sits below the pipeline: it imports plain types from ``tenantry.types``, never ``tenantry.pipeline``
(nor the service on top of both); and the one content hash is the same object wherever it is imported from."""

from __future__ import annotations

import ast
from pathlib import Path

import tenantry.store
from tenantry.pipeline import base as pipeline_base
from tenantry.pipeline import ingest
from tenantry.types import MemoryDraft, Vectors, content_hash

STORE = Path(tenantry.store.__file__).parent
FORBIDDEN = ("tenantry.pipeline", "tenantry.service", "tenantry.retrieval")


def _imported_modules(source: str) -> set[str]:
    """Absolute names of what ``source`` (a module of ``tenantry.store``) imports, relative imports resolved."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ["tenantry", "store"][: max(0, 2 - (node.level - 1))] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)
    return out


def test_the_store_imports_neither_pipeline_nor_service() -> None:
    offenders = {
        f"{path.name}: {mod}"
        for path in sorted(STORE.glob("*.py"))
        for mod in _imported_modules(path.read_text())
        if mod.startswith(FORBIDDEN)
    }
    assert not offenders


def test_the_layering_check_resolves_relative_imports() -> None:
    mods = _imported_modules("from ..pipeline.base import Vectors\nfrom . import migrations\nimport numpy as np\n")
    assert {"tenantry.pipeline.base", "tenantry.store.migrations", "numpy"} <= mods


def test_one_content_hash() -> None:
    assert ingest.content_hash is content_hash
    assert pipeline_base.MemoryDraft is MemoryDraft and pipeline_base.Vectors is Vectors
    assert content_hash("Alice  likes\ttea ") == content_hash("alice likes tea")
    assert content_hash("alice likes tea") != content_hash("alice likes coffee")
