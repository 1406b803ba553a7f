"""The one contract: the embedded engine (``LocalAPI``) and the HTTP client (``RemoteAPI``) implement every operation of
``TenantryAPI`` with its exact signature; the SDK reaches every operation; the blocking SDK has a twin, with the same
signature, of every coroutine method of the async SDK, and mypy sees those signatures."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

import tenantry.sdk as sdk_module
from tenantry import SyncTenantry
from tenantry import Tenantry
from tenantry.client import RemoteAPI
from tenantry.contract import TenantryAPI
from tenantry.service import LocalAPI

SRC = Path(sdk_module.__file__).resolve().parent


def operations(cls: type) -> dict[str, inspect.Signature]:
    """The public coroutine methods of ``cls`` (inherited ones included) and their signatures."""
    return {
        name: inspect.signature(fn)
        for name, fn in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


def drift(contract: type, impl: type) -> list[str]:
    """How ``impl`` departs from ``contract``: operations it leaves to the base, or declares with another signature."""
    problems = []
    for name, sig in operations(contract).items():
        own = getattr(impl, name)
        if own is getattr(contract, name):
            problems.append(f"{impl.__name__}.{name} is not implemented")
        elif inspect.signature(own) != sig:
            problems.append(f"{impl.__name__}.{name}{inspect.signature(own)} != {sig}")
    return problems


@pytest.mark.parametrize("impl", [LocalAPI, RemoteAPI], ids=["local", "remote"])
def test_both_transports_implement_the_whole_contract_with_its_signatures(impl: type) -> None:
    assert operations(TenantryAPI), "the contract declares operations"
    assert drift(TenantryAPI, impl) == []


def test_the_drift_check_sees_a_missing_or_changed_operation() -> None:
    class Drifted(RemoteAPI):
        async def get_memory(self, request: object, extra: int = 1) -> object:  # type: ignore[override]
            raise NotImplementedError

    class Partial(TenantryAPI):
        async def open(self) -> object:  # type: ignore[override]
            raise NotImplementedError

    assert any("Drifted.get_memory" in p for p in drift(TenantryAPI, Drifted))
    assert any("Partial.create_memory is not implemented" in p for p in drift(TenantryAPI, Partial))


def test_the_sdk_reaches_every_operation() -> None:
    """Every contract operation is called by some SDK method (``self._api.<op>(...)`` or ``self.api.<op>(...)``)."""
    tree = ast.parse((SRC / "sdk.py").read_text())
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in ("_api", "api")
    }
    lifecycle = {"open", "close"}  # reached through initialize() / shutdown()
    assert set(operations(TenantryAPI)) - lifecycle - called == set()


NAMESPACES = ["", "memories", "conversation", "conversation.context", "user", "user.context"]
NAMESPACES += ["customer.context", "client.context"]


def _resolve(root: object, path: str) -> object:
    for part in filter(None, path.split(".")):
        root = getattr(root, part)
    return root


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tenantry, SyncTenantry]:
    db = tmp_path_factory.mktemp("parity") / "parity.db"
    blocking = SyncTenantry(dsn=f"sqlite:///{db}", embedder="hashing", extractor="rules", workers=0)
    yield blocking.sdk, blocking  # type: ignore[misc]
    blocking.close()


@pytest.mark.parametrize("path", NAMESPACES)
def test_blocking_sdk_mirrors_the_async_sdk(both: tuple[Tenantry, SyncTenantry], path: str) -> None:
    async_ns, sync_ns = _resolve(both[0], path), _resolve(both[1], path)
    async_methods = {
        name: inspect.signature(m)
        for name, m in inspect.getmembers(async_ns, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in ("initialize", "shutdown", "__aenter__", "__aexit__")
    }
    sync_methods = {
        name: inspect.signature(m)
        for name, m in inspect.getmembers(sync_ns, callable)
        if not name.startswith("_") and not inspect.isclass(m) and name not in ("close",)
    }
    assert async_methods, path
    assert set(sync_methods) == set(async_methods), f"{path}: async {sorted(async_methods)} sync {sorted(sync_methods)}"
    for name, sig in async_methods.items():
        assert sync_methods[name] == sig, f"{path}.{name}"


def test_blocking_constructor_takes_the_async_constructors_arguments() -> None:
    expected = list(inspect.signature(Tenantry).parameters)
    assert list(inspect.signature(SyncTenantry).parameters) == expected


def test_mypy_sees_the_blocking_signatures(tmp_path: Path) -> None:
    """The blocking twins are typed from the async methods: right calls check, wrong ones are errors."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "use_sync.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from typing import assert_type
            from tenantry import SyncTenantry
            from tenantry.models import ContextResponse, CreateMemoryResponse, Memory

            sdk = SyncTenantry(dsn="sqlite:///x.db", workers=0)
            assert_type(sdk.memories.create("User: hi", customer_id="acme"), CreateMemoryResponse)
            assert_type(sdk.memories.get("m1", user_id="u", customer_id="c"), Memory)
            assert_type(sdk.user.context.fetch("u", "c", search_query=["q"], explain=True), ContextResponse)
            assert_type(sdk.customer.context.fetch("c"), ContextResponse)
            sdk.memories.create(42)  # E: wrong document type
            sdk.user.context.fetch("u", bogus_option=1)  # E: unknown option
            SyncTenantry(dns="typo")  # E: unknown constructor argument
            """
        )
    )
    out, _err, status = api.run([str(snippet), "--strict", "--no-incremental", "--follow-imports=silent"])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out
    assert sorted(int(line.split(":")[1]) for line in errors) == [11, 12, 13], out


def test_sdk_public_signatures_have_no_any() -> None:
    """What callers pass to the SDK is typed: no parameter of a public SDK method is annotated with ``Any``."""
    untyped = []
    for node in ast.walk(ast.parse((SRC / "sdk.py").read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_"):
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg))]
            untyped += [f"{node.name}({p.arg})" for p in params if p.annotation and "Any" in ast.unparse(p.annotation)]
    assert untyped == []
