"""`/admin/keys`: create, list and revoke API keys (admin key)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Path

from rigshift.server.deps import Admin, Context
from rigshift.server.routers.api_router import api_router
from rigshift.server.routers.operations import Operator
from rigshift.server.schemas import KeyCreate, KeyCreated, KeyList, KeyOut
from rigshift.server.services.keys import ApiKey
from rigshift.server.services.operator import Actor

router = api_router(prefix="/admin/keys", tags=["keys"])

KeyRef = Annotated[str, Path(min_length=1, max_length=200, description="A key id or its name")]


def key_out(key: ApiKey) -> KeyOut:
    data = asdict(key)
    data.pop("extra", None)
    data["allowed_models"] = list(key.allowed_models)
    return KeyOut(**data)


@router.post("", status_code=201, response_model=KeyCreated)
async def create_key(body: KeyCreate, ctx: Context, _admin: Admin) -> KeyCreated:
    """Create a key; the response carries the secret, shown this once (only its hash is stored)."""
    key, secret = await ctx.keys.create(body)
    return KeyCreated(**key_out(key).model_dump(), key=secret)


@router.get("", response_model=KeyList)
async def list_keys(ctx: Context, _admin: Admin) -> KeyList:
    """Every key (ids, names, limits; never a secret or its hash)."""
    return KeyList(data=[key_out(k) for k in await ctx.keys.list()])


@router.delete("/{key_ref}", response_model=KeyOut)
async def revoke_key(key_ref: KeyRef, ops: Operator, admin: Admin) -> KeyOut:
    """Revoke by id or by name; the gateway refuses the key at once (written to the audit log)."""
    return key_out(await ops.revoke_key(Actor.of(admin), key_ref))
