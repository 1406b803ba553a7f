"""schemathesis against ``/openapi.json`` of a live server: for every operation, generated requests (valid and
invalid by the schema) never get a 5xx and every response matches the declared schema, status and content type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance
from tests.server.helpers import ADMIN_TOKEN
from tests.server.helpers import ThreadServer
from tests.server.helpers import admin_create_instance

from tenantry.server.config import ServerSettings
from tenantry.settings import Settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, str]]:
    db: Path = tmp_path_factory.mktemp("schema") / "schema.db"
    server = ThreadServer(
        Settings(dsn=f"sqlite:///{db}", embedder="hashing", extractor="rules", workers=1),
        ServerSettings(admin_token=ADMIN_TOKEN, rate_limit_per_second=0),
    ).start()
    key = admin_create_instance(server.url, "schema-test", "b2b")["key"]["api_key"]
    yield server, key
    server.stop()


def test_openapi_document_declares_responses(live: tuple[ThreadServer, str]) -> None:
    server, _ = live
    doc = httpx.get(f"{server.url}/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = op["responses"].get("200") or op["responses"].get("202")
            assert ok is not None, f"{method} {path} declares no success response"
            if path not in ("/health", "/metrics", "/v1/telemetry/batch"):
                assert {"400", "401", "404", "422", "429"} <= set(op["responses"]), f"{method} {path}"
            content = ok.get("content", {})
            assert content, f"{method} {path}: success response has no content schema"


def _hypothesis_test(
    op: Any, mode: GenerationMode, examples: int, url: str, headers: dict[str, str], succeeded: set[str]
) -> Any:
    label = f"{op.method.upper()} {op.path}"

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        resp = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)
        if resp.status_code < 300:
            succeeded.add(label)

    return run


def test_api_conforms_to_its_schema(live: tuple[ThreadServer, str]) -> None:
    server, key = live
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 25
    failures: list[str] = []
    succeeded: set[str] = set()
    for op in operations:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN if op.path.startswith('/admin/') else key}"}
        for mode, n in EXAMPLES.items():
            try:
                _hypothesis_test(op, mode, n, server.url, headers, succeeded)()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
            except Exception as exc:  # collect every operation's failure, then fail once
                failures.append(f"{op.method.upper()} {op.path} [{mode.value}]: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert len(succeeded) >= len(operations) // 2, sorted(succeeded)  # the generator reached the success paths


def test_stateful_sequences_follow_the_openapi_links(live: tuple[ThreadServer, str]) -> None:
    """schemathesis' state machine over the links (create → status → get / delete the memory; record a turn →
    read the conversation's turns): sequences of calls with real ids never get a 5xx or an off-schema answer."""
    server, key = live
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json").include(
        path_regex="^/(api/v1/memories|v1/conversations)"
    )
    calls: list[tuple[str, int]] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": server.url, "headers": {"Authorization": f"Bearer {key}"}, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            calls.append((f"{case.method} {case.path}", response.status_code))

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)  # the stateless test's checks (value checks → 400)

    Workflow.run(
        settings=settings(
            max_examples=30,
            stateful_step_count=5,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
    followed = {route for route, status in calls if status == 200 and "{" in route}
    assert any("status" in r for r in followed), sorted(set(calls))  # a real ingestion id from a create's answer
