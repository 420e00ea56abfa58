"""``recon db``: the database schema."""

from __future__ import annotations

import click

from cli.common import EXIT_DATABASE, ReconError, db_option, guarded
from ledger.db import DatabaseError, make_engine, upgrade


@click.group()
def db() -> None:
    """Create or migrate the database schema."""


@db.command("upgrade")
@db_option
@click.pass_context
@guarded
def upgrade_cmd(ctx: click.Context, db_url: str | None) -> None:
    """Create the schema, or migrate it to this version of recon.

    \b
    Example:
      recon db upgrade --db postgresql+psycopg://recon@db.example/recon
    """
    url = db_url or (ctx.find_root().obj or {}).get("db_url")
    try:
        engine = make_engine(url)
        before, after = upgrade(engine)
    except DatabaseError as exc:
        raise ReconError(str(exc), EXIT_DATABASE) from None
    except Exception as exc:  # noqa: BLE001 - connection failures surface here first
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ReconError(f"cannot migrate the database: {first}", EXIT_DATABASE) from None
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"{where}: schema is up to date (revision {after})")
    else:
        click.echo(f"{where}: schema migrated from {before or 'empty'} to revision {after}")
