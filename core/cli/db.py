"""``tocsin db migrate --config CONFIG``: bring the configured store's schema up to this tocsin's version.

A SQLite file is migrated whenever it is opened; a PostgreSQL database shared by several instances is
usually migrated once, by this command, before the new version's instances start (with
``storage.migrate_on_start: false`` they refuse a schema that is behind instead of migrating it themselves).
"""

from __future__ import annotations

from pathlib import Path

import typer

from tocsin.cli._app import UserError, app, echo, load, user_errors

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True, add_completion=False, rich_markup_mode=None)
app.add_typer(db_app, name="db")


@db_app.command("migrate")
@user_errors
def migrate(config: Path = typer.Option(..., "--config", help="The configuration file (YAML, TOML or JSON).")) -> None:
    """Apply the schema migrations the configured store has not seen yet, and say which versions it went from and to."""
    from tocsin.config.serving import StorageBackend

    _, loaded = load(config)
    settings = loaded.storage
    if settings.backend is StorageBackend.MEMORY:
        raise UserError("storage: the memory backend keeps nothing, so it has no schema to migrate")
    if settings.backend is StorageBackend.POSTGRESQL:
        before, after, where = _migrate_postgres(settings.database_url())
    else:
        before, after, where = _migrate_sqlite(settings.path)
    if before == after:
        echo(f"{where}: schema version {after}, up to date")
    else:
        echo(f"{where}: schema version {before} -> {after}")


def _migrate_postgres(dsn: str) -> tuple[int, int, str]:
    import psycopg

    from tocsin.store.errors import StoreError
    from tocsin.store.postgres.db import safe_dsn
    from tocsin.store.postgres.schema import migrate

    where = safe_dsn(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
            before, after = migrate(connection, where)
    except psycopg.Error as exc:
        raise StoreError(f"store {where}: {str(exc).strip().splitlines()[0]}") from None
    return before, after, where


def _migrate_sqlite(path: str) -> tuple[int, int, str]:
    from tocsin.store.sqlite.schema import SCHEMA_VERSION, connect, migrate

    connection = connect(path)
    try:
        before = migrate(connection, path)
    finally:
        connection.close()
    return before, SCHEMA_VERSION, path
