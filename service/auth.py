"""Who may do what. API keys: created by an operator (`faceage apikey create`), stored as SHA-256 only, sent as
Bearer tokens. Reviewers: accounts for the review page (`faceage reviewer create`), a generated password stored
as a salted scrypt hash, signed in with a session cookie."""

from __future__ import annotations

import secrets
from functools import cache

from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from service.database import Database
from service.jobs import hash_secret
from service.models import ApiKey, Reviewer, utcnow

KEY_PREFIX = "fa_"


def create_api_key(db: Database, name: str) -> str:
    """A new key; the returned string is the only copy of it anywhere."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(ApiKey(name=name, key_hash=hash_secret(key)))
    return key


def revoke_api_keys(db: Database, name: str) -> int:
    """Revoke every key called `name` that is not revoked yet (names need not be unique); returns how many.
    A revoked key opens nothing from the next request on; its jobs and batches stay until they expire."""
    with db.session() as session:
        revoked = session.execute(
            update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
        )
        return revoked.rowcount


def api_key_id(db: Database, authorization: str | None) -> int | None:
    """The id of the key in an `Authorization: Bearer KEY` header; None when there is no such header.

    Raises PermissionError for a key that is unknown or revoked.
    """
    if not authorization:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise PermissionError("send the API key as 'Authorization: Bearer KEY'")
    with db.session() as session:
        found = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_secret(key.strip()))).first()
        if found is None or found.revoked_at is not None:
            raise PermissionError("this API key is not valid")
        return found.id


def create_reviewer(db: Database, name: str) -> str:
    """A new reviewer account; the returned password is the only copy of it anywhere.

    Raises ValueError for an empty name or one that is taken.
    """
    name = name.strip()
    if not name:
        raise ValueError("a reviewer needs a name")
    password = secrets.token_urlsafe(18)
    with db.session() as session:
        if session.scalars(select(Reviewer).where(Reviewer.name == name)).first() is not None:
            raise ValueError(f"there is a reviewer called {name!r} already")
        session.add(Reviewer(name=name, password_hash=generate_password_hash(password, method="scrypt")))
    return password


def signed_in_reviewer(db: Database, name: str, password: str) -> Reviewer | None:
    """The reviewer with this name and password, or None."""
    with db.session() as session:
        reviewer = session.scalars(select(Reviewer).where(Reviewer.name == name.strip())).first()
    if reviewer is None:
        # Check a password anyway, so the time taken does not tell which names exist.
        check_password_hash(_unused_password_hash(), password)
        return None
    return reviewer if check_password_hash(reviewer.password_hash, password) else None


def reviewer_name(db: Database, reviewer_id: int) -> str | None:
    """The name of an existing reviewer; None once the account is gone (its sessions then end)."""
    with db.session() as session:
        return session.scalar(select(Reviewer.name).where(Reviewer.id == reviewer_id))


@cache
def _unused_password_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(18), method="scrypt")
