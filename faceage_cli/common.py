"""What every command shares: failing with one line, parsing ages, the service's settings and database."""

from __future__ import annotations

import sys

import click

EXIT_PHOTO_FAILED = 1


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_PHOTO_FAILED)


def parse_ages(_ctx, _param, value: str) -> list[float]:
    try:
        ages = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("give ages as numbers separated by commas, e.g. 5,20,40,60,80") from None
    if not ages or any(not 0 <= a <= 100 for a in ages):
        raise click.BadParameter("give one or more ages between 0 and 100, e.g. 5,20,40,60,80")
    return ages


def service_database():
    """The service's database at the newest schema; a one-line error when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.database import Database

    settings = load_settings()
    database = Database(settings.database_url)
    try:
        database.upgrade()
    except SQLAlchemyError as error:
        fail(f"cannot open the database at {redacted(settings.database_url)}: {error.__class__.__name__}")
    return database


def load_settings():
    from service.config import Settings

    try:
        return Settings.from_env()
    except ValueError as error:
        fail(str(error))


def redacted(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
