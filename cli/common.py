"""What every recon command shares: the database option, output formats, users, errors.

Exit codes (for schedulers): 0 success; 1 input rejected (a bad file, a refused
decision); 2 usage error (click); 3 another job holds the lock; 4 the database
cannot be reached; 70 an internal error (details in the log, never a
traceback on screen).
"""

from __future__ import annotations

import functools
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from jobs.logfile import write_traceback
from ledger.db import DatabaseError, ensure_schema, make_engine

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_DATABASE = 4
EXIT_INTERNAL = 70

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("recon")


class ReconError(click.ClickException):
    """A one-line error for the user with an exit code a scheduler can act on."""

    def __init__(self, message: str, exit_code: int = EXIT_REJECTED) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"recon: error: {self.format_message()}", err=True)


def db_option(func: F) -> F:
    """``--db URL`` on a command (else RECON_DATABASE_URL, else sqlite:///recon.db)."""
    return click.option(
        "--db",
        "db_url",
        envvar="RECON_DATABASE_URL",
        default=None,
        metavar="URL",
        help="Database URL (default: $RECON_DATABASE_URL, else sqlite:///recon.db here).",
    )(func)


def format_option(*choices: str, default: str | None = None) -> Callable[[F], F]:
    """``--format`` with the given choices (first is the default)."""

    def deco(func: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(list(choices)),
            default=default or choices[0],
            show_default=True,
            help="Output format: " + ", ".join(choices) + ".",
        )(func)

    return deco


def user_option(func: F) -> F:
    """``--user NAME`` recorded on decisions (default: $RECON_USER, else the login name)."""
    return click.option(
        "--user",
        "user",
        default=None,
        metavar="NAME",
        help="Who decides (recorded in the audit trail; default: $RECON_USER or the login name).",
    )(func)


def current_user(user: str | None) -> str:
    """The person behind a decision."""
    if user:
        return user
    if os.environ.get("RECON_USER"):
        return os.environ["RECON_USER"]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def open_engine(ctx: click.Context | None, db_url: str | None) -> Engine:
    """The engine for ``--db`` (command level wins over group level), schema created or migrated."""
    url = db_url
    if url is None and ctx is not None:
        root = ctx.find_root()
        url = (root.obj or {}).get("db_url") if isinstance(root.obj, dict) else None
    try:
        engine = make_engine(url)
        ensure_schema(engine)
    except DatabaseError as exc:
        raise ReconError(str(exc), EXIT_DATABASE) from None
    return engine


def to_jsonable(value: Any) -> Any:
    """Decimals as strings (exact), dates ISO, for JSON output."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2))


def report_internal_error(exc: BaseException) -> int:
    """Write the traceback to the log and one line to the user; return the exit code."""
    path = write_traceback(exc)
    where = f" (details in {path})" if path else ""
    first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    click.echo(f"recon: internal error: {exc.__class__.__name__}: {first}{where}", err=True)
    return EXIT_INTERNAL


def guarded(func: F) -> F:
    """Turn any unexpected exception into one line plus a log entry (never a traceback on screen)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except DatabaseError as exc:
            raise ReconError(str(exc), EXIT_DATABASE) from None
        except Exception as exc:  # noqa: BLE001
            sys.exit(report_internal_error(exc))

    return wrapper  # type: ignore[return-value]


def is_terminal() -> bool:
    return sys.stderr.isatty() and not os.environ.get("RECON_NO_PROGRESS")
