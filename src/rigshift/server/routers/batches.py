"""The OpenAI Batch API: `/v1/files` and `/v1/batches` (tenant key; each tenant sees only its own).

Upload a JSONL file (`purpose="batch"`), create a batch over it (`completion_window="24h"`), poll
it, cancel it, and download its output and error files, exactly as the official `openai` client
does. The work itself runs in `batch_runner` on spare capacity and in hours the energy policy
allows; these routes only read and write the stores through `BatchService`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import Path, Query
from pydantic import Field, StringConstraints
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from rigshift.errors import InputError
from rigshift.server.deps import Context, Tenant
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import Strict

router = api_router(tags=["batches"])

FileId = Annotated[str, Path(pattern=r"^file-[0-9a-f]{1,64}$")]
BatchId = Annotated[str, Path(pattern=r"^batch_[0-9a-f]{1,64}$")]
MetadataText = Annotated[str, StringConstraints(max_length=512)]


class BatchCreate(Strict):
    input_file_id: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    endpoint: Literal["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]
    completion_window: Literal["24h"]
    metadata: (
        Annotated[dict[Annotated[str, StringConstraints(max_length=64)], MetadataText], Field(max_length=16)]
        | None
    ) = None


@router.post("/v1/files")
async def upload_file(request: Request, ctx: Context, key: Tenant) -> dict[str, object]:
    """Upload a file (multipart: `file`, `purpose`); only `purpose="batch"` is accepted."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise InputError("upload the file as multipart/form-data", field="file", expected="multipart form")
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InputError("the form has no file", field="file", expected="a file part named 'file'")
        if not isinstance(purpose, str):
            raise InputError("the form has no purpose", field="purpose", expected='"batch"')
        content = await upload.read()
        filename = upload.filename or "upload.jsonl"
    finally:
        await form.close()
    stored = await anyio.to_thread.run_sync(ctx.batches.upload, key, purpose, filename, content)
    return stored.to_openai()


@router.get("/v1/files")
def list_files(
    ctx: Context, key: Tenant, purpose: Annotated[str | None, Query(max_length=32)] = None
) -> dict[str, object]:
    files = ctx.batches.files.owned_by(key.id, purpose)
    return {"object": "list", "data": [f.to_openai() for f in files], "has_more": False}


@router.get("/v1/files/{file_id}")
def retrieve_file(file_id: FileId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.file(key, file_id).to_openai()


@router.get("/v1/files/{file_id}/content")
def file_content(file_id: FileId, ctx: Context, key: Tenant) -> Response:
    return Response(ctx.batches.file_content(key, file_id), media_type="application/octet-stream")


@router.delete("/v1/files/{file_id}")
def delete_file(file_id: FileId, ctx: Context, key: Tenant) -> dict[str, object]:
    ctx.batches.delete_file(key, file_id)
    return {"id": file_id, "object": "file", "deleted": True}


@router.post("/v1/batches")
def create_batch(body: BatchCreate, ctx: Context, key: Tenant) -> dict[str, object]:
    """Create a batch; a file with bad lines gives a `failed` batch whose `errors` name each line."""
    batch = ctx.batches.create(
        key,
        input_file_id=body.input_file_id,
        endpoint=body.endpoint,
        completion_window=body.completion_window,
        metadata=body.metadata,
    )
    return batch.to_openai()


@router.get("/v1/batches")
def list_batches(
    ctx: Context,
    key: Tenant,
    after: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, object]:
    page = ctx.batches.page(key, after=after, limit=limit + 1)
    data = [b.to_openai() for b in page[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(page) > limit,
    }


@router.get("/v1/batches/{batch_id}")
def retrieve_batch(batch_id: BatchId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.get(key, batch_id).to_openai()


@router.post("/v1/batches/{batch_id}/cancel")
def cancel_batch(batch_id: BatchId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.cancel(key, batch_id).to_openai()
