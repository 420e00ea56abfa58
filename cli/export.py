"""``recon export``: data for the ERP and for accountants' spreadsheets."""

from __future__ import annotations

import io
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import click

from cli.common import ReconError, db_option, format_option, guarded, open_engine
from ledger.db import transaction
from reports.export import allocation_rows, write_csv, write_json, write_xlsx


@click.group("export")
def export() -> None:
    """Export recon's results (allocations) as CSV, JSON or XLSX."""


@export.command("allocations", short_help="Every allocation, posted and suggested (CSV, JSON, XLSX).")
@format_option("csv", "json", "xlsx")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write to FILE (replaced whole, never left half-written); default: standard output.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only transactions booked on or after this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only transactions booked on or before this day.")
@db_option
@click.pass_context
@guarded
def allocations(ctx: click.Context, fmt: str, output: Path | None, since: datetime | None, until: datetime | None,
                db_url: str | None) -> None:
    """Every allocation, posted and suggested, one row per (transaction, invoice).

    \b
    Columns, in this order:
      bank_reference, account, booking_date, transaction_amount, currency,
      invoice_id, allocated_amount, status, confidence, reason,
      adjustment_amount, adjustment_reason

    \b
    status:
      posted      booked, automatically or by a person
      suggested   waiting in the queue: a suggestion line (all ranks are
                  listed; they are alternatives, never add them up), or an
                  allocation waiting for four-eyes approval (reason
                  pending-approval)
      unmatched   a payment with no allocation and no suggestion (reason:
                  the queue's code, e.g. no-candidate, reversed; or
                  not-matched-yet before `recon match` ran)
      ignored     set aside as not a customer payment (reason: the rule's
                  code, or dismissed when a person dismissed it)
    A payment with no allocation at all has one row with an empty
    invoice_id (a payment put wholly on account: posted, on-account).
    Reversed allocations are not current and not listed (see `recon audit`).

    In CSV and XLSX a text cell starting with = + - @ is prefixed with ' so a
    spreadsheet never runs it; amounts are never changed.  JSON is unchanged.

    \b
    Examples:
      recon export allocations --output allocations.csv
      recon export allocations --format xlsx --output allocations.xlsx
      recon export allocations --format json --since 2026-10-01 --until 2026-10-31
    """
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        raise ReconError("an XLSX workbook is not for a terminal: add --output FILE.xlsx")
    engine = open_engine(ctx, db_url)
    with transaction(engine) as s:
        rows = allocation_rows(s, since=since.date() if since else None, until=until.date() if until else None)
        if output is None:
            n = _to_stdout(fmt, rows)
        else:
            n = _to_file(fmt, rows, output)
    if output is not None:
        click.echo(f"{n} row(s) written to {output}", err=True)


def _to_stdout(fmt: str, rows) -> int:  # type: ignore[no-untyped-def]
    if fmt == "xlsx":
        buf = io.BytesIO()
        n = write_xlsx(rows, buf)
        sys.stdout.flush()
        sys.stdout.buffer.write(buf.getvalue())
        return n
    out = sys.stdout
    return write_csv(rows, out) if fmt == "csv" else write_json(rows, out)


def _to_file(fmt: str, rows, output: Path) -> int:  # type: ignore[no-untyped-def]
    directory = output.parent if str(output.parent) else Path(".")
    if not directory.is_dir():
        raise ReconError(f"{output}: the folder {directory} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        if fmt == "xlsx":
            with os.fdopen(fd, "wb") as fh:
                n = write_xlsx(rows, fh)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                n = write_csv(rows, fh) if fmt == "csv" else write_json(rows, fh)
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReconError(f"{output}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n
