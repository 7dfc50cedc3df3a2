"""What the production-stack tests share: a scratch PostgreSQL database and a Redis database of their own, each
skipped with the reason when the service cannot be reached (CI has both)."""

import contextlib
import os
import secrets
from pathlib import Path

import pytest

from service.config import Settings
from service.database import Database

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


@contextlib.contextmanager
def migrated_production(postgres_url: str, redis_url: str, data_dir: Path, **settings: str):
    """The environment of a production deployment on this machine (PostgreSQL, Redis, the CPU, `settings` on top)
    and its database, migrated; yields (env, database)."""
    env = {
        **os.environ,
        "FACEAGE_DATABASE_URL": postgres_url,
        "FACEAGE_BROKER_URL": redis_url,
        "FACEAGE_DATA_DIR": str(data_dir),
        "FACEAGE_DEVICE": "cpu",
        **settings,
    }
    database = Database(Settings.from_env(env).database_url)
    database.upgrade()
    try:
        yield env, database
    finally:
        database.dispose()
