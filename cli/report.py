"""``recon report``: month-end reconciliation, aging, statements of account, reminders, payment behaviour.

Every report prints a table for people by default, or the format ``--format``
names, or the one the ``--output`` file's extension implies (``.html``,
``.xlsx``, ``.csv``, ``.json``).  XLSX is binary: it is written to
``--output FILE`` or to a redirected standard output, never to a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from cli.common import EXIT_USAGE, ReconError, db_option, guarded, open_engine
from reports.base import Report
from reports.data import ReportError, end_of_day, parse_period, zone
from reports.render import BINARY_FORMATS, render
from rules import Rules, RulesError, load_rules

SUFFIXES = {".html": "html", ".htm": "html", ".xlsx": "xlsx", ".csv": "csv", ".json": "json", ".txt": "table"}


def _format_option(*choices: str) -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=None,
        help="Output format: " + ", ".join(choices) + " (default: from the --output extension, else table).",
    )


def _output_option(func: Any) -> Any:
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        default=None,
        help="Write to FILE instead of standard output.",
    )(func)


def _rules_option(func: Any) -> Any:
    return click.option(
        "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Rules file overriding rules/default.toml ([reports], [reminders]).",
    )(func)


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}", param_hint=what) from None


def _rules(path: Path | None) -> Rules:
    try:
        return load_rules(path)
    except RulesError as exc:
        raise ReconError(str(exc)) from None


def _today(rules: Rules) -> date:
    try:
        return datetime.now(UTC).astimezone(zone(rules.get("reports.timezone"))).date()
    except ReportError as exc:
        raise ReconError(str(exc)) from None


def _pick_format(fmt: str | None, output: Path | None, allowed: tuple[str, ...]) -> str:
    if fmt is None:
        fmt = SUFFIXES.get(output.suffix.lower(), "table") if output else "table"
        if fmt not in allowed:
            fmt = "table" if "table" in allowed else allowed[0]
    return fmt


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (binary formats are never written to one)."""
    return sys.stdout.isatty()


def _emit(report: Report, fmt: str, output: Path | None, csv_tables: list[str] | None = None) -> None:
    """Write the rendered report to ``output`` (atomically) or standard output."""
    content = render(report, fmt, csv_tables=csv_tables)
    if output is not None:
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        target = output.resolve()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError as exc:
            raise ReconError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"{report.title}: {fmt} written to {output}", err=True)
        return
    if isinstance(content, bytes) or fmt in BINARY_FORMATS:
        if stdout_is_terminal():
            raise ReconError(
                f"{fmt} is a binary format: give --output FILE (or redirect standard output to a file)", EXIT_USAGE
            )
        sys.stdout.flush()
        stream = sys.stdout.buffer
        stream.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        stream.flush()
        return
    click.echo(content, nl=not content.endswith("\n"))


def _run(build: Any) -> Report:
    try:
        return build()
    except ReportError as exc:
        raise ReconError(str(exc)) from None


@click.group()
def report() -> None:
    """Reports: month-end reconciliation, receivables aging, statements of account, reminders, behaviour.

    \b
    Examples:
      recon report month-end --period 2026-10 --output oct.html
      recon report month-end --period 2026-10 --format xlsx --output oct.xlsx
      recon report aging --as-of 2026-10-31
      recon report statement --customer C1001 --period 2026-10 --format html -o c1001.html
      recon report reminders --as-of 2026-11-03
      recon report behaviour --weeks 6
    """


@report.command("month-end")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month to close, e.g. 2026-10.")
@click.option("--account", "accounts", multiple=True, metavar="ACC",
              help="Only this bank account (IBAN or account number as in the statements); repeatable.")
@click.option("--as-at", "as_at", default=None, metavar="DATE",
              help="Classify by the decisions recorded by the end of DATE (default: the end of the period's "
                   "last day, or of the day its last bank lines were imported, plus [reports] cutoff_days_after).")
@_format_option("table", "html", "xlsx", "csv", "json")
@_output_option
@_rules_option
@db_option
@click.pass_context
@guarded
def month_end_cmd(
    ctx: click.Context, period: str, accounts: tuple[str, ...], as_at: str | None, fmt: str | None,
    output: Path | None, rules_file: Path | None, db_url: str | None,
) -> None:
    """The month-end reconciliation: bank closing balance against opening balance plus every movement.

    Each movement booked in the period is classified as it stood at the cutoff (posted
    automatically, posted by a person, unapplied cash, in the queue, set aside, not classified,
    debits); the difference is zero when recon holds every movement the bank booked, and is
    explained line by line otherwise.  Also the book side, automation, the queue at the cutoff,
    unapplied cash and the aging at the period's end.

    \b
    Examples:
      recon report month-end --period 2026-10                       # a summary in the terminal
      recon report month-end --period 2026-10 --output oct.html     # charts, ready to print
      recon report month-end --period 2026-10 --format xlsx --output oct.xlsx
      recon report month-end --period 2026-10 --as-at 2026-11-03    # with the work done by 3 Nov
    """
    from reports.month_end import month_end

    fmt = _pick_format(fmt, output, ("table", "html", "xlsx", "csv", "json"))
    rules = _rules(rules_file)
    try:
        per = parse_period(period)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    as_at_day = _date(as_at, "--as-at")
    cutoff = _run(lambda: end_of_day(as_at_day, zone(rules.get("reports.timezone")))) if as_at_day else None
    engine = open_engine(ctx, db_url)
    rep = _run(lambda: month_end(engine, per, accounts=list(accounts) or None, rules=rules, as_at=cutoff))
    _emit(rep, fmt, output)


@report.command("aging")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Age as of the end of DATE (default: today).")
@_format_option("table", "html", "xlsx", "csv", "json")
@_output_option
@_rules_option
@db_option
@click.pass_context
@guarded
def aging_cmd(
    ctx: click.Context, as_of: str | None, fmt: str | None, output: Path | None, rules_file: Path | None,
    db_url: str | None,
) -> None:
    """Receivables aging: current, 1-30, 31-60, 61-90 and over 90 days past due, per customer and in total.

    Unapplied cash (money a customer paid that no invoice absorbed yet) is shown against it.
    The CSV is the per-customer table.

    \b
    Examples:
      recon report aging --as-of 2026-10-31
      recon report aging --as-of 2026-10-31 --output aging.xlsx
    """
    from reports.aging import aging

    fmt = _pick_format(fmt, output, ("table", "html", "xlsx", "csv", "json"))
    rules = _rules(rules_file)
    day = _date(as_of, "--as-of") or _today(rules)
    engine = open_engine(ctx, db_url)
    rep = _run(lambda: aging(engine, day, rules=rules))
    _emit(rep, fmt, output, csv_tables=["aging_customers"])


@report.command("statement")
@click.option("--customer", "customer_id", required=True, metavar="ID", help="The customer's id (customer_id).")
@click.option("--period", required=True, metavar="YYYY-MM", help="The month, e.g. 2026-10.")
@_format_option("table", "html", "csv", "json")
@_output_option
@_rules_option
@db_option
@click.pass_context
@guarded
def statement_cmd(
    ctx: click.Context, customer_id: str, period: str, fmt: str | None, output: Path | None,
    rules_file: Path | None, db_url: str | None,
) -> None:
    """A customer's statement of account (对账单) for a month, ready to send for confirmation.

    Balance brought forward, the month's invoices, payments and adjustments with a running
    balance, the balance carried forward and the open items behind it.  The HTML prints on
    A4 (print it to PDF from a browser); the CSV is the statement's lines.

    \b
    Example:
      recon report statement --customer C1001 --period 2026-10 --output C1001-2026-10.html
    """
    from reports.statement_of_account import statement_of_account

    fmt = _pick_format(fmt, output, ("table", "html", "csv", "json"))
    rules = _rules(rules_file)
    try:
        per = parse_period(period)
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from None
    engine = open_engine(ctx, db_url)
    rep = _run(lambda: statement_of_account(engine, customer_id, per, rules=rules))
    keys = [t.key for s in rep.sections for t in s.tables if t.key.startswith("statement_lines_")]
    _emit(rep, fmt, output, csv_tables=keys[:1] or None)


@report.command("reminders")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="Remind as of DATE (default: today).")
@click.option("--days", "window_days", type=click.IntRange(min=1), default=None, metavar="N",
              help="List the steps of the N days ending on the as-of date (default: [reminders] window_days).")
@_format_option("table", "csv", "json", "html")
@_output_option
@_rules_option
@db_option
@click.pass_context
@guarded
def reminders_cmd(
    ctx: click.Context, as_of: str | None, window_days: int | None, fmt: str | None, output: Path | None,
    rules_file: Path | None, db_url: str | None,
) -> None:
    """Who to remind, for which invoices, on the schedule in the rules file. It lists; it does not send.

    By default 7 and 3 days before the due date, on the due date, and 7, 30 and 60 days after it
    ([reminders] in the rules file, per customer overridable).

    \b
    Examples:
      recon report reminders                       # today's reminders
      recon report reminders --days 7 --format csv # a weekly run, for a mail merge
    """
    from reports.reminders import reminders

    fmt = _pick_format(fmt, output, ("table", "csv", "json", "html"))
    rules = _rules(rules_file)
    day = _date(as_of, "--as-of") or _today(rules)
    engine = open_engine(ctx, db_url)
    rep = _run(lambda: reminders(engine, day, rules=rules, window_days=window_days))
    _emit(rep, fmt, output, csv_tables=["reminders"])


@report.command("behaviour")
@click.option("--as-of", "as_of", default=None, metavar="DATE", help="As of the end of DATE (default: today).")
@click.option("--weeks", type=click.IntRange(min=1, max=104), default=None, metavar="N",
              help="Weeks of cash-in forecast (default: [reports] forecast_weeks).")
@_format_option("table", "html", "xlsx", "csv", "json")
@_output_option
@_rules_option
@db_option
@click.pass_context
@guarded
def behaviour_cmd(
    ctx: click.Context, as_of: str | None, weeks: int | None, fmt: str | None, output: Path | None,
    rules_file: Path | None, db_url: str | None,
) -> None:
    """Payment behaviour: DSO, average days to pay, share paid late, credit exposure, cash-in forecast.

    \b
    Example:
      recon report behaviour --as-of 2026-10-31 --weeks 6 --output behaviour.html
    """
    from reports.behaviour import behaviour

    fmt = _pick_format(fmt, output, ("table", "html", "xlsx", "csv", "json"))
    rules = _rules(rules_file)
    day = _date(as_of, "--as-of") or _today(rules)
    engine = open_engine(ctx, db_url)
    rep = _run(lambda: behaviour(engine, day, rules=rules, weeks=weeks))
    _emit(rep, fmt, output)
