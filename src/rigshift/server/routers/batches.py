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
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from rigshift.errors import InputError
from rigshift.server.deps import Context, Tenant
from rigshift.server.multipart_upload import read_upload
from rigshift.server.routers.api_router import api_router
from rigshift.server.schemas import Strict

router = api_router(tags=["batches"])

FileId = Annotated[str, Path(pattern=r"^file-[0-9a-f]{1,64}$")]
BatchId = Annotated[str, Path(pattern=r"^batch_[0-9a-f]{1,64}$")]
MetadataText = Annotated[str, StringConstraints(max_length=512)]
# A page starts after this id (OpenAI's cursor: the previous page's `last_id`).
After = Annotated[str | None, Query(max_length=80)]


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
    """Upload a file (multipart: `file`, `purpose`); only `purpose="batch"` is accepted.

    The file streams to the server's file directory as it arrives (never whole in memory); a
    refused or cut-off upload leaves nothing stored."""
    upload = await anyio.to_thread.run_sync(ctx.batches.begin_upload, key)
    try:
        form = await read_upload(request, upload.write)
        if form.filename is None:
            raise InputError("the form has no file", field="file", expected="a file part named 'file'")
        purpose = form.fields.get("purpose")
        if purpose is None:
            raise InputError("the form has no purpose", field="purpose", expected='"batch"')
        stored = await anyio.to_thread.run_sync(
            ctx.batches.finish_upload, upload, purpose, form.filename or "upload.jsonl"
        )
    finally:
        await anyio.to_thread.run_sync(upload.abort)
    return stored.to_openai()


@router.get("/v1/files")
def list_files(
    ctx: Context,
    key: Tenant,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, object]:
    """The key's files, newest first by default, paged as OpenAI does (`limit`, `after`, `order`)."""
    page, has_more = ctx.batches.list_files(key, purpose=purpose, after=after, limit=limit, order=order)
    return _list_page([f.to_openai() for f in page], has_more)


@router.get("/v1/files/{file_id}")
def retrieve_file(file_id: FileId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.file(key, file_id).to_openai()


@router.get("/v1/files/{file_id}/content")
def file_content(file_id: FileId, ctx: Context, key: Tenant) -> Response:
    return FileResponse(ctx.batches.file_path(key, file_id), media_type="application/octet-stream")


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
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, object]:
    page = ctx.batches.page(key, after=after, limit=limit + 1)
    return _list_page([b.to_openai() for b in page[:limit]], len(page) > limit)


@router.get("/v1/batches/{batch_id}")
def retrieve_batch(batch_id: BatchId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.get(key, batch_id).to_openai()


@router.post("/v1/batches/{batch_id}/cancel")
def cancel_batch(batch_id: BatchId, ctx: Context, key: Tenant) -> dict[str, object]:
    return ctx.batches.cancel(key, batch_id).to_openai()


def _list_page(data: list[dict[str, object]], has_more: bool) -> dict[str, object]:
    """One page in OpenAI's list shape: `first_id`/`last_id` are the cursors for the next call."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
