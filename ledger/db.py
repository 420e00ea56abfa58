"""Engines, sessions and the schema's life cycle.

The database URL comes from ``--db``, else ``RECON_DATABASE_URL``, else an
embedded SQLite file ``recon.db`` in the current directory (the contract).
Sessions are opened at the edge (a command or a job), never inside helpers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///recon.db"


class DatabaseError(Exception):
    """The database cannot be reached or used; the message is for the user."""


def resolve_url(url: str | None) -> str:
    """``--db`` value, else ``RECON_DATABASE_URL``, else ``sqlite:///recon.db``."""
    url = url or os.environ.get("RECON_DATABASE_URL") or DEFAULT_URL
    # A bare postgresql:// URL would pick psycopg2, which recon does not ship: use psycopg 3.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (resolved as the contract says), with recon's connection settings."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a user error
        raise DatabaseError(f"not a database URL: {resolved!r} ({exc})") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(resolved, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(resolved, pool_pre_ping=True)
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    """An Alembic config bound to ``engine`` (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Create or migrate the schema to the newest revision; return (before, after)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


def ensure_schema(engine: Engine) -> None:
    """Create a missing schema / apply pending migrations (every command calls this first)."""
    try:
        if current_revision(engine) == head_revision(engine):
            return
    except Exception as exc:  # noqa: BLE001
        raise DatabaseError(f"cannot reach the database {engine.url.render_as_string(hide_password=True)}: {_first_line(exc)}") from None
    upgrade(engine)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One database transaction: commit on success, roll back everything on any exception."""
    with session_factory(engine)() as session, session.begin():
        yield session


def table_names(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()
