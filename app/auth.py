"""API keys and roles. Keys are stored as SHA-256 hashes and shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import check_in, created_at_field, id_field, timestamp_field
from app.errors import NotFound, ValidationFailed, require_one_of

ROLES = ("ADMIN", "VIEWER")
KEY_PREFIX = "vrk_"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = id_field()
    name: str
    role: str
    # sha256 of the whole key; keys carry 256 bits of randomness, so no salt or slow hash is needed.
    key_hash: str = Field(unique=True)
    # The first characters, so a person can tell keys apart in a listing.
    key_hint: str
    created_at: datetime | None = created_at_field()
    revoked_at: datetime | None = timestamp_field()

    __table_args__ = (check_in("role", ROLES, "ck_api_keys_role"),)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is calling: the key's id, name and role."""

    key_id: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "ADMIN"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


async def create_api_key(session: AsyncSession, *, role: str, name: str) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned here and never again."""
    role = role.upper()
    require_one_of(role, ROLES, "role")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, key_hash=hash_key(raw), key_hint=raw[:10])
    session.add(row)
    await session.flush()
    return row, raw


# Every request runs it: three columns rather than an ORM entity, built once.
_VIEWER_BY_HASH = sa.select(col(ApiKey.id), col(ApiKey.name), col(ApiKey.role)).where(
    col(ApiKey.key_hash) == sa.bindparam("key_hash"), col(ApiKey.revoked_at).is_(None)
)


async def authenticate(session: AsyncSession, raw: str) -> Viewer | None:
    """The viewer behind a raw key, or None when the key is unknown or revoked."""
    connection = await session.connection()
    row = (await connection.execute(_VIEWER_BY_HASH, {"key_hash": hash_key(raw)})).first()
    if row is None:
        return None
    return Viewer(key_id=row.id, name=row.name, role=row.role)


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, oldest first, revoked ones included (their `revoked_at` set)."""
    return list((await session.exec(select(ApiKey).order_by(col(ApiKey.created_at)))).all())


async def revoke_api_key(session: AsyncSession, ref: str) -> ApiKey:
    """Revoke the key whose id, or whose shown hint (`vrk_...`), is `ref`: every request with
    it is refused from the next one on. Raises NotFound (no such key) or ValidationFailed (a
    hint that matches several keys)."""
    ref = ref.strip().removesuffix("...")  # the hint as `api-key list` shows it
    rows = (
        await session.exec(
            select(ApiKey).where((ApiKey.id == ref) | (ApiKey.key_hint == ref)).with_for_update()
        )
    ).all()
    if not rows:
        raise NotFound(f"API key not found: {ref} (give its id or its hint from `api-key list`)")
    if len(rows) > 1:
        raise ValidationFailed(f"{ref} matches {len(rows)} keys: give the key's id instead")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        await session.flush()
        await pubsub.publish_key_revoked(session, row.id)
    return row


async def key_is_live(session: AsyncSession, raw: str) -> bool:
    return await authenticate(session, raw) is not None


def bearer_token(authorization: str | None) -> str | None:
    """`Bearer <key>` → `<key>`; anything else → None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
