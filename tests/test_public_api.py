"""The public surface: ``memstrata.__all__`` is sorted and complete; errors are importable from ``memstrata``;
the Synap alias is the same class; the sync facade exposes the same namespaces."""

from __future__ import annotations

import inspect

import memstrata
from memstrata import errors


def test_all_is_sorted_and_complete() -> None:
    public = sorted(memstrata.__all__, key=str.lower)
    assert memstrata.__all__ == sorted(memstrata.__all__)
    for name in public:
        assert hasattr(memstrata, name), name


def test_every_error_class_is_exported_from_the_package() -> None:
    for name, obj in vars(errors).items():
        if inspect.isclass(obj) and issubclass(obj, errors.MemstrataError):
            assert getattr(memstrata, name) is obj, name


def test_error_tree() -> None:
    assert issubclass(memstrata.InvalidInputError, memstrata.PermanentError)
    assert issubclass(memstrata.RateLimitError, memstrata.TransientError)
    assert issubclass(memstrata.TranscriptConflictError, memstrata.ConflictError)
    assert memstrata.InvalidInputError("x").status_code == 400
    assert memstrata.ConflictError("x").status_code == 409


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
    assert memstrata.MaximemSynapSDK is memstrata.Memstrata


def test_sdk_namespaces_match_the_synap_client() -> None:
    sdk = memstrata.Memstrata(dsn="sqlite:///:memory:", embedder="hashing")
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
