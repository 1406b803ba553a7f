"""The admin API (``/admin/v1``), guarded by ``Authorization: Bearer <TENANTRY_ADMIN_TOKEN>``; with no token
configured every admin route answers 403 ``admin_disabled``.

Instances (create with their first key, list, show, archive), API keys (issue, list, revoke), deletion, export and
import of a user's/customer's/conversation's data in any instance, and operator writes to the WORLD scope.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Response
from fastapi.responses import StreamingResponse

from ...contract import DeleteData
from ...contract import ExportData
from ...contract import ImportData
from ...models import ApiKey
from ...models import DeletionReceipt
from ...models import ExportPage
from ...models import ImportReport
from ...models import Instance
from ...models import InstanceCreated
from ...models import IssuedApiKey
from ...scope import Tenant
from ...service.admin import IssuedKey
from ...service.api import LocalAPI
from ...store.base import InstanceRecord
from ..deps import ServerState
from ..deps import admin_guard
from ..deps import get_state
from ..errors import ERROR_RESPONSES
from ..schemas import AdminDeleteDataBody
from ..schemas import CreateInstanceBody
from ..schemas import CreateKeyBody
from ..schemas import IdPath
from ..schemas import WorldBody
from ..schemas import WorldWritten
from ._common import json_response
from ._common import request_of
from .data import EXPORT_FILE
from .data import ExportBody
from .data import ImportBody
from .data import export_stream

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"], responses=ERROR_RESPONSES, dependencies=[admin_guard])


def _instance(record: InstanceRecord) -> Instance:
    return Instance.model_validate(record, from_attributes=True)


def _issued(key: IssuedKey) -> IssuedApiKey:
    return IssuedApiKey.model_validate({**key.record.model_dump(), "api_key": key.api_key})


@router.post("/instances", response_model=InstanceCreated, summary="Create an instance and its first API key")
async def create_instance(body: CreateInstanceBody, state: ServerState = Depends(get_state)) -> Response:
    """The relationship (``b2b``/``b2c``) is fixed for the instance's lifetime. The key is shown only here."""
    inst, key = await state.svc.admin.create_instance_with_key(body.name, body.relationship, key_name=body.key_name)
    return json_response(InstanceCreated(instance=_instance(inst), key=_issued(key)))


@router.get("/instances", response_model=list[Instance], summary="List instances")
async def list_instances(include_archived: bool = False, state: ServerState = Depends(get_state)) -> list[Instance]:
    """Active instances (and archived ones with ``include_archived``)."""
    rows = await state.svc.admin.list_instances(include_archived=include_archived)
    return [_instance(i) for i in rows]


@router.get("/instances/{ref}", response_model=Instance, summary="Show an instance (by id or name)")
async def show_instance(ref: IdPath, state: ServerState = Depends(get_state)) -> Response:
    """One instance."""
    return json_response(_instance(await state.svc.admin.get_instance(ref)))


@router.post("/instances/{ref}/archive", response_model=Instance, summary="Archive an instance")
async def archive_instance(ref: IdPath, state: ServerState = Depends(get_state)) -> Response:
    """Its keys are revoked at once; its data stays until deleted."""
    inst = await state.svc.admin.archive_instance(ref)
    state.forget_keys()
    return json_response(_instance(inst))


@router.post("/instances/{ref}/keys", response_model=IssuedApiKey, summary="Issue an API key")
async def create_key(ref: IdPath, body: CreateKeyBody, state: ServerState = Depends(get_state)) -> Response:
    """A new key for the instance; the secret is in this response only."""
    return json_response(_issued(await state.svc.admin.issue_key(ref, body.name)))


@router.get("/instances/{ref}/keys", response_model=list[ApiKey], summary="List an instance's keys")
async def list_keys(ref: IdPath, state: ServerState = Depends(get_state)) -> list[ApiKey]:
    """Key ids, names, display prefixes and revocation times (never secrets or hashes)."""
    return await state.svc.admin.list_keys(ref)


@router.post("/keys/{key_id}/revoke", response_model=ApiKey, summary="Revoke an API key")
async def revoke_key(key_id: IdPath, state: ServerState = Depends(get_state)) -> Response:
    """The key stops working at once on this server (other server processes: within ``key_cache_seconds``)."""
    key = await state.svc.admin.revoke_key(key_id)
    state.forget_keys()
    return json_response(key)


@router.post(
    "/instances/{ref}/data/delete",
    response_model=DeletionReceipt,
    summary="Delete a user's, customer's or conversation's data",
)
async def delete_data(ref: IdPath, body: AdminDeleteDataBody, state: ServerState = Depends(get_state)) -> Response:
    """Same as ``POST /v1/data/delete`` with that instance's key; returns the deletion receipt."""
    receipt = await (await _api(state, ref)).delete_data(request_of(DeleteData, body))
    return json_response(receipt)


@router.post("/instances/{ref}/erase", response_model=DeletionReceipt, summary="Erase an instance's data")
async def erase_instance(ref: IdPath, dry_run: bool = False, state: ServerState = Depends(get_state)) -> Response:
    """Every memory, document, job, conversation and message of the instance, with the bytes they left in the
    database's files; the instance is archived and its keys revoked (``dry_run``: the counts only, nothing
    changed)."""
    inst = await state.svc.admin.get_instance(ref)
    receipt = await state.svc.erasure.erase_instance(Tenant(inst.instance_id, inst.relationship), dry_run=dry_run)
    if not dry_run:
        await state.svc.admin.archive_instance(ref)
        state.forget_keys()
    return json_response(receipt)


async def _api(state: ServerState, ref: str) -> LocalAPI:
    """The contract's operations for the instance ``ref`` (id or name)."""
    return state.svc.api(await state.svc.instance((await state.svc.admin.get_instance(ref)).instance_id))


@router.post("/instances/{ref}/data/export", response_model=ExportPage, summary="One page of an instance's export")
async def export_page(ref: IdPath, body: ExportBody, state: ServerState = Depends(get_state)) -> Response:
    """Same as ``POST /v1/data/export`` with that instance's key (a user, a customer or the whole instance)."""
    return json_response(await (await _api(state, ref)).export_data(request_of(ExportData, body)))


@router.get("/instances/{ref}/data/export.jsonl", summary="An instance's whole export", **EXPORT_FILE)
async def export_file(
    ref: IdPath, customer_id: str | None = None, user_id: str | None = None, state: ServerState = Depends(get_state)
) -> StreamingResponse:
    """The JSON Lines file of a user's, a customer's or (no ids) the whole instance's data, streamed."""
    return await export_stream(await _api(state, ref), customer_id, user_id)


@router.post("/instances/{ref}/data/import", response_model=ImportReport, summary="Import records into an instance")
async def import_records(ref: IdPath, body: ImportBody, state: ServerState = Depends(get_state)) -> Response:
    """Same as ``POST /v1/data/import`` with that instance's key."""
    api = await _api(state, ref)
    return json_response(await api.import_data(ImportData(records=body.records, lines=body.lines)))


@router.post("/world", response_model=WorldWritten, summary="Write operator knowledge to the WORLD scope")
async def add_world(body: WorldBody, state: ServerState = Depends(get_state)) -> Response:
    """Extracted inline; readable by every instance that fetches with ``include_world``."""
    ids = await state.svc.memories.add_world_knowledge(body.document, document_type=body.document_type)
    return json_response(WorldWritten(memory_ids=ids))
