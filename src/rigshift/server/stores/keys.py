"""API keys: generated once, shown once, stored only as a sha256 hash.

A key looks like `rs-<id>_<secret>`: `id` (12 hex) is the public lookup handle stored in clear,
`secret` carries 256 random bits. A plain sha256 is enough (no bcrypt/argon2) because the input
is high-entropy: there is nothing to brute-force, and the gateway checks a key per request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import insert, select, update

from rigshift.errors import InputError, UnknownNameError
from rigshift.server.stores import EngineStore
from rigshift.server.tables import api_keys
from rigshift.suggest import did_you_mean

QuotaPeriod = Literal["day", "month"]
# Same rule as the API's schema (`schemas.MODEL_NAME_PATTERN`): keys store the list comma-separated.
_MODEL_NAME = re.compile(r"\*|[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
KEY_PREFIX = "rs-"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    admin: bool = False
    allowed_models: tuple[str, ...] = ("*",)
    token_quota: int | None = None  # prompt + completion tokens per period
    quota_period: QuotaPeriod = "month"
    rate_limit_rpm: int | None = None
    created_at: float = 0.0
    revoked_at: float | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def allows(self, model: str) -> bool:
        return "*" in self.allowed_models or model in self.allowed_models

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def new_key() -> tuple[str, str]:
    """(key id, full key). The full key is shown to the user once and never stored."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(full_key: str) -> str | None:
    if not full_key.startswith(KEY_PREFIX) or "_" not in full_key:
        return None
    return full_key[len(KEY_PREFIX) :].split("_", 1)[0] or None


def hash_key(full_key: str) -> str:
    return hashlib.sha256(full_key.encode()).hexdigest()


def _row_to_key(row: object) -> ApiKey:
    m = row._mapping  # type: ignore[attr-defined]
    return ApiKey(
        id=m["id"],
        name=m["name"],
        admin=bool(m["admin"]),
        allowed_models=tuple(s for s in m["allowed_models"].split(",") if s) or ("*",),
        token_quota=m["token_quota"],
        quota_period=m["quota_period"],
        rate_limit_rpm=m["rate_limit_rpm"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


class KeyStore(EngineStore):
    """Keys in the database. Every method is one short transaction."""

    def create(
        self,
        name: str,
        *,
        now: float,
        admin: bool = False,
        allowed_models: Iterable[str] = ("*",),
        token_quota: int | None = None,
        quota_period: str = "month",
        rate_limit_rpm: int | None = None,
    ) -> tuple[ApiKey, str]:
        if isinstance(allowed_models, str):  # a string is iterable too: "fake" was stored as f,a,k,e
            raise InputError("allowed models must be a list of names", field="allowed_models")
        models = tuple(m.strip() for m in allowed_models if m.strip()) or ("*",)
        bad = [m for m in models if not _MODEL_NAME.fullmatch(m)]
        if bad:
            raise InputError(
                f"bad model name {bad[0]!r}",
                field="allowed_models",
                expected="'*' or names of letters, digits and . _ : / @ + - (no commas or spaces)",
            )
        if quota_period not in ("day", "month"):
            raise InputError(
                f"unknown quota period {quota_period!r}",
                field="quota_period",
                expected="day or month",
                suggestions=tuple(did_you_mean(quota_period, ["day", "month"])),
            )
        for value, what in ((token_quota, "token_quota"), (rate_limit_rpm, "rate_limit_rpm")):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise InputError(f"{what} must be a whole number", field=what, expected="an integer >= 0")
            if value is not None and value < 0:
                raise InputError(f"{what} must not be negative", field=what, expected=">= 0")
            if value is not None and value > 2**53:
                raise InputError(f"{what} is out of range", field=what, expected="at most 2^53")
        if not name.strip():
            raise InputError("a key needs a name", field="name", expected="a non-empty name")
        key_id, full = new_key()
        key = ApiKey(
            id=key_id,
            name=name.strip(),
            admin=admin,
            allowed_models=models,
            token_quota=token_quota,
            quota_period=quota_period,  # type: ignore[arg-type]
            rate_limit_rpm=rate_limit_rpm,
            created_at=now,
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_keys).values(
                    id=key.id,
                    name=key.name,
                    key_hash=hash_key(full),
                    admin=key.admin,
                    allowed_models=",".join(key.allowed_models),
                    token_quota=key.token_quota,
                    quota_period=key.quota_period,
                    rate_limit_rpm=key.rate_limit_rpm,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return key, full

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_row_to_key(r) for r in conn.execute(query)]

    def get(self, key_id: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _row_to_key(row) if row else None

    def authenticate(self, full_key: str) -> ApiKey | None:
        """The active key for this secret, or None (unknown, wrong secret, or revoked)."""
        key_id = key_id_of(full_key)
        if key_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or not hmac.compare_digest(row._mapping["key_hash"], hash_key(full_key)):
            return None
        key = _row_to_key(row)
        return None if key.revoked else key

    def revoke(self, id_or_name: str, *, now: float) -> ApiKey:
        """Revoke by key id or by name (a name must match exactly one active key)."""
        keys = self.list()
        matches = [k for k in keys if k.id == id_or_name] or [
            k for k in keys if k.name == id_or_name and not k.revoked
        ]
        if not matches:
            raise UnknownNameError(
                f"no API key {id_or_name!r}",
                field="key",
                expected="a key id or name from `rigshift keys list`",
                suggestions=tuple(did_you_mean(id_or_name, [k.id for k in keys] + [k.name for k in keys])),
            )
        if len(matches) > 1:
            raise InputError(
                f"{len(matches)} active keys are named {id_or_name!r}",
                field="key",
                expected="one of the ids " + ", ".join(k.id for k in matches),
            )
        key = matches[0]
        if not key.revoked:
            with self.engine.begin() as conn:
                conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked_at=now))
        return self.get(key.id) or key
