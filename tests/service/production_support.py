"""What the production-stack tests share: a scratch PostgreSQL database and a Redis database of their own, each
skipped with the reason when the service cannot be reached (CI has both)."""

import contextlib
import secrets

import pytest

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def scratch_postgres(prefix: str):
    """A new, empty database named `prefix`_<random>, dropped afterwards; yields its SQLAlchemy URL."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {error}")
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@contextlib.contextmanager
def scratch_redis(url: str):
    """The Redis database at `url`, emptied before and after."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis is not reachable at {url}: {error}")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
