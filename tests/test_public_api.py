"""The public surface: ``tenantry.__all__`` is sorted and complete; errors are importable from ``tenantry``;
the Synap alias is the same class; the sync facade exposes the same namespaces."""

from __future__ import annotations

import inspect

import tenantry
from tenantry import errors


def test_all_is_sorted_and_complete() -> None:
    public = sorted(tenantry.__all__, key=str.lower)
    assert tenantry.__all__ == sorted(tenantry.__all__)
    for name in public:
        assert hasattr(tenantry, name), name


def test_every_error_class_is_exported_from_the_package() -> None:
    for name, obj in vars(errors).items():
        if inspect.isclass(obj) and issubclass(obj, errors.TenantryError):
            assert getattr(tenantry, name) is obj, name


def test_error_tree() -> None:
    assert issubclass(tenantry.InvalidInputError, tenantry.PermanentError)
    assert issubclass(tenantry.RateLimitError, tenantry.TransientError)
    assert issubclass(tenantry.TranscriptConflictError, tenantry.ConflictError)
    assert tenantry.InvalidInputError("x").status_code == 400
    assert tenantry.ConflictError("x").status_code == 409


def test_error_round_trip_through_status_and_code() -> None:
    for cls in (
        errors.InvalidInputError,
        errors.InvalidScopeError,
        errors.PayloadTooLargeError,
        errors.AuthenticationError,
        errors.PermissionDeniedError,
        errors.MemoryNotFoundError,
        errors.ContextNotFoundError,
        errors.ConflictError,
        errors.TranscriptConflictError,
        errors.RateLimitError,
        errors.ServiceUnavailableError,
        errors.DeadlineExceededError,
    ):
        err = cls("boom")
        back = errors.error_from_status(err.status_code, "boom", code=err.code)
        assert type(back) is cls, (cls, type(back))


def test_synap_alias() -> None:
    assert tenantry.MaximemSynapSDK is tenantry.Tenantry


def test_sdk_namespaces_match_the_synap_client() -> None:
    sdk = tenantry.Tenantry(dsn="sqlite:///:memory:", embedder="hashing")
    for path in (
        "memories.create",
        "memories.batch_create",
        "memories.status",
        "memories.wait_for_completion",
        "memories.get",
        "memories.update",
        "memories.delete",
        "memories.list",
        "memories.create_from_file",
        "conversation.record_message",
        "conversation.record_messages_batch",
        "conversation.ingest_transcript",
        "conversation.context.fetch",
        "conversation.context.get_context_for_prompt",
        "user.context.fetch",
        "customer.context.fetch",
        "client.context.fetch",
        "fetch",
        "initialize",
        "shutdown",
    ):
        obj: object = sdk
        for part in path.split("."):
            obj = getattr(obj, part)
        assert inspect.iscoroutinefunction(obj), path
