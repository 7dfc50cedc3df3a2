"""API keys: created by an operator (`faceage apikey create`), stored as SHA-256 only, sent as Bearer tokens."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from service.database import Database
from service.jobs import hash_secret
from service.models import ApiKey

KEY_PREFIX = "fa_"


def create_api_key(db: Database, name: str) -> str:
    """A new key; the returned string is the only copy of it anywhere."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(ApiKey(name=name, key_hash=hash_secret(key)))
    return key


def api_key_id(db: Database, authorization: str | None) -> int | None:
    """The id of the key in an `Authorization: Bearer KEY` header; None when there is no such header.

    Raises PermissionError for a key that is unknown or revoked.
    """
    if not authorization:
        return None
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise PermissionError("send the API key as 'Authorization: Bearer KEY'")
    with db.session() as session:
        found = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_secret(key.strip()))).first()
        if found is None or found.revoked_at is not None:
            raise PermissionError("this API key is not valid")
        return found.id
