"""Rules of the package's layout, read from the source (ast), not from imports at run time:

- product modules never import ``tenantry.bench`` (benchmarks and evaluations); the CLI shell may;
- only ``tenantry/settings.py`` reads the environment (``os.environ``, ``os.getenv`` ...): everything else gets its
  configuration from a ``Settings`` passed down to it;
- the store sits below the pipeline: it imports plain types from ``tenantry.types``, never ``tenantry.pipeline``,
  ``tenantry.retrieval`` nor the service on top of them; and there is one content hash.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import tenantry
from tenantry.pipeline import base as pipeline_base
from tenantry.pipeline import ingest
from tenantry.types import MemoryDraft
from tenantry.types import Vectors
from tenantry.types import content_hash

PACKAGE = Path(tenantry.__file__).resolve().parent
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = ["tenantry", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved, nested ones included."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # ``from tenantry import bench`` names the package too
                yield node.lineno, f"{base}.{alias.name}"


def _reads_environment(path: Path) -> Iterator[int]:
    """Lines of ``path`` that touch the process environment through :mod:`os`."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ENV_NAMES:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                yield node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(alias.name in ENV_NAMES for alias in node.names):
                yield node.lineno


def _is_bench(name: str) -> bool:
    return name == "tenantry.bench" or name.startswith("tenantry.bench.")


def test_the_walk_sees_the_whole_package() -> None:
    names = {_module_name(p) for p in _modules()}
    assert {"tenantry.cli", "tenantry.settings", "tenantry.service", "tenantry.bench.cli"} <= names
    cli_imports = {m for p in _modules() if _module_name(p) == "tenantry.cli" for _, m in _imported(p)}
    assert "tenantry.bench.cli" in cli_imports, "relative imports are resolved"


def test_product_modules_do_not_import_the_bench_package() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in _modules()
        if not _is_bench(_module_name(path)) and _module_name(path) != "tenantry.cli"
        for line, name in _imported(path)
        if _is_bench(name)
    ]
    assert not offenders, "\n".join(offenders)


def test_only_settings_reads_the_environment() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in _modules()
        if _module_name(path) != "tenantry.settings"
        for line in _reads_environment(path)
    ]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        pytest.param("import os\nx = os.environ.get('A')\n", [2], id="environ"),
        pytest.param("import os\nos.environ['A'] = 'b'\n", [2], id="environ-write"),
        pytest.param("import os\nx = os.getenv('A')\n", [2], id="getenv"),
        pytest.param("from os import environ\n", [1], id="from-os"),
        pytest.param("import os\nx = os.path.join('a', 'b')\n", [], id="other-os"),
    ],
)
def test_environment_reads_are_found(tmp_path: Path, source: str, lines: list[int]) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert list(_reads_environment(path)) == lines


def test_the_store_imports_neither_pipeline_retrieval_nor_service() -> None:
    below = ("tenantry.pipeline", "tenantry.retrieval", "tenantry.service")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for path in _modules()
        if _module_name(path).startswith("tenantry.store")
        for line, name in _imported(path)
        if name.startswith(below)
    ]
    assert not offenders, "\n".join(offenders)


def test_one_content_hash() -> None:
    assert ingest.content_hash is content_hash
    assert pipeline_base.MemoryDraft is MemoryDraft and pipeline_base.Vectors is Vectors
    assert content_hash("Alice  likes\ttea ") == content_hash("alice likes tea")
    assert content_hash("alice likes tea") != content_hash("alice likes coffee")
