"""The import job behind ``recon import``: files -> parsers -> database.

For each file, in one database transaction (all or nothing):

1. a file whose bytes were imported before (SHA-256 of the content) is
   ``skipped``;
2. the parser is chosen by content (``parsers.registry.detect``);
3. every statement's lines are stored unless already known: the line key is a
   hash of the account and the line's content plus the occurrence number of
   that content within the file, so two identical lines in one file are two
   transactions while the same line delivered again in an overlapping
   statement is a ``duplicate`` (the bank reference alone is never trusted);
4. balances are checked (opening + lines = closing; opening = the previous
   statement's closing for the account): a mismatch or a gap is a warning,
   stored on the statement, never a rejection.

A file that cannot be read right is ``rejected`` with one line naming the
file, the line and what was expected; nothing of it is stored and the other
files go on.

A large file of a parser whose lines stream (camt) is parsed in a second
process while this one writes what was read (``use_worker``,
``parsers/worker.py``); the transaction, the keys and the checks stay here, so
the outcome is the same, only sooner on two cores.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from jobs.logfile import write_traceback
from ledger.db import bulk_write, driver_value, transaction
from ledger.models import BankAccount, JobRun, StatementFile, utcnow
from ledger.models import Statement as StatementRow
from parsers.base import ParseError, Parser, Statement, StatementLine
from parsers.profiles import resolve_profiles
from parsers.registry import detect
from parsers.worker import parse_in_worker

log = logging.getLogger("recon.import")
CHUNK = 1000  # rows per INSERT: few enough to stay in the CPU caches (5,000 were measurably slower)
# Files from this size on are parsed in a second process while this one writes (see use_worker).
WORKER_MIN_BYTES = 8 << 20
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class FileResult:
    """The outcome of one file, as ``recon import --format json`` prints it."""

    file: str
    status: str  # imported | skipped | rejected
    format: str | None = None
    statements: int = 0
    transactions: int = 0
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "status": self.status, "format": self.format, "statements": self.statements,
            "transactions": self.transactions, "duplicates": self.duplicates, "warnings": self.warnings,
            "error": self.error,
        }


class _Rejected(Exception):
    def __init__(self, reason: str, fmt: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fmt = fmt


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files named, and every file under folders named (sorted, hidden files left out)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                f for f in sorted(p.rglob("*"))
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and f.name.lower() not in IGNORED_NAMES
            )
        else:
            out.append(p)
    return out


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compact(account: str) -> str:
    """Our account as stored: no spaces, upper case (an IBAN's electronic form)."""
    return "".join(account.split()).upper()


def content_key(account: str, line: StatementLine, currency: str | None) -> str:
    """What makes two statement lines the same transaction (before the occurrence number).

    SHA-256 (hex) of the account, dates, amount, currency, bank reference,
    counterparty, text and end-to-end id, whitespace-normalised.  ``_store_lines``
    computes the same text inline (it needs the normalised parts for the row too);
    the two must stay in step, or an upgraded import would miss the duplicates of
    lines stored before.
    """
    value_date = line.value_date
    name, cp_account, remittance = line.counterparty_name, line.counterparty_account, line.remittance
    text = "\x1f".join((
        account,
        line.booking_date.isoformat(),
        value_date.isoformat() if value_date else "",
        str(line.amount.normalize()),
        line.currency or currency or "",
        line.bank_reference.strip() if line.bank_reference else "",
        " ".join(name.split()) if name else "",
        "".join(cp_account.split()).upper() if cp_account else "",
        " ".join(remittance.split()) if remittance else "",
        line.end_to_end_id.strip() if line.end_to_end_id else "",
    ))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _limit(value: str | None, size: int) -> str | None:
    if not value:
        return None
    return value.strip()[:size] or None


def _where(name: str, exc: ParseError) -> str:
    return f"{name}:{exc.line}: {exc.message}" if exc.line else f"{name}: {exc.message}"


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    profiles: Sequence[str | Path] = (),
    actor: str = "recon",
    progress: Callable[[Path, FileResult], None] | None = None,
) -> list[FileResult]:
    """Import every file of ``paths`` (folders are walked); one result per file, in order.

    Raises :class:`parsers.profiles.ProfileError` before touching anything when a
    ``--profile`` cannot be used (a typo in a name, a bad TOML file).
    """
    resolve_profiles(profiles)
    files = collect_files(paths)
    with transaction(engine) as session:
        run = JobRun(kind="import", actor=actor, started_at=utcnow(), status="running")
        session.add(run)
        session.flush()
        run_id = run.id
    results: list[FileResult] = []
    for path in files:
        result = import_file(engine, path, profiles, actor=actor, job_run_id=run_id)
        results.append(result)
        if progress:
            progress(path, result)
    with transaction(engine) as session:
        run = session.get(JobRun, run_id)
        assert run is not None
        run.finished_at = utcnow()
        run.status = "partial" if any(r.status == "rejected" for r in results) else "ok"
        run.summary = {
            "files": len(results),
            "imported": sum(r.status == "imported" for r in results),
            "skipped": sum(r.status == "skipped" for r in results),
            "rejected": sum(r.status == "rejected" for r in results),
            "transactions": sum(r.transactions for r in results),
            "duplicates": sum(r.duplicates for r in results),
        }
    return results


def import_file(
    engine: Engine, path: Path, profiles: Sequence[str | Path] = (), *, actor: str = "recon", job_run_id: int | None = None
) -> FileResult:
    """Import one file in one database transaction (see the module docstring)."""
    name = str(path)
    result = FileResult(file=name, status="imported")
    statements: Iterator[Statement] | None = None
    try:
        if not path.is_file():
            raise _Rejected(f"{name}: no such file")
        parser: Parser | None = None
        not_detected: Exception | None = None
        try:
            parser = detect(path, profiles)
        except Exception as exc:  # noqa: BLE001 - raised below, unless the file turns out to be known
            not_detected = exc
        if parser is not None and use_worker(parser, path.stat().st_size):
            # A large file is parsed in a second process (see use_worker), started before the
            # file is hashed so that its start-up overlaps the hashing; a known file stops it.
            statements = _start_worker(parser, path)
        digest = file_hash(path)
        with transaction(engine) as session:
            if session.scalar(select(StatementFile.id).where(StatementFile.content_hash == digest)) is not None:
                result.status = "skipped"
                result.warnings.append("this file was imported before (same content)")
                return result
        if not_detected is not None:
            if isinstance(not_detected, ParseError):
                raise _Rejected(_where(name, not_detected)) from None
            raise not_detected
        assert parser is not None
        result.format = parser.name
        try:
            with transaction(engine) as session:
                _store(session, path, digest, parser, result, job_run_id, statements)
        except ParseError as exc:
            raise _Rejected(_where(name, exc), parser.name) from None
        except IntegrityError:
            # Another process imported the same bytes at the same moment: theirs counts, ours is a skip.
            with transaction(engine) as session:
                if session.scalar(select(StatementFile.id).where(StatementFile.content_hash == digest)) is not None:
                    return FileResult(file=name, status="skipped", format=parser.name,
                                      warnings=["imported by another process at the same time"])
            raise
    except _Rejected as rej:
        return FileResult(file=name, status="rejected", format=rej.fmt or result.format, error=rej.reason)
    except OSError as exc:
        return FileResult(file=name, status="rejected", format=result.format, error=f"{name}: cannot read: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the other files or show a traceback
        where = write_traceback(exc, f"importing {name}")
        log.info("import of %s failed", name, exc_info=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        detail = f"; details in {where}" if where else ""
        return FileResult(file=name, status="rejected", format=result.format,
                          error=f"{name}: could not be read ({type(exc).__name__}: {first[:200]}{detail})")
    finally:
        _close(statements)  # a parse worker stops at once when the import ends early
    return result


def _store(session: Any, path: Path, digest: str, parser: Any, result: FileResult, job_run_id: int | None,
           statements: Iterator[Statement] | None = None) -> None:
    """Store what ``parser`` reads from ``path`` (or the ``statements`` a parse worker already reads)."""
    sf = StatementFile(
        content_hash=digest, file_name=path.name[:500], format=parser.name, size_bytes=path.stat().st_size,
        job_run_id=job_run_id, imported_at=utcnow(),
    )
    session.add(sf)
    session.flush()
    accounts: dict[str, int] = {}
    occurrences: dict[str, int] = {}
    position = 0
    for statement in statements if statements is not None else parser.parse(path):
        if not statement.account or not statement.account.strip():
            raise ParseError("the statement names no account (expected an IBAN or account number)")
        account = compact(statement.account)[:64]
        account_id = accounts.get(account) or _account_id(session, account, statement.currency)
        accounts[account] = account_id
        row = StatementRow(
            file_id=sf.id, account_id=account_id, kind=(statement.kind or parser.name)[:40],
            statement_ref=_limit(statement.statement_id, 100), sequence=_limit(statement.sequence, 40),
            currency=_limit(statement.currency, 3), position=position,
        )
        position += 1
        session.add(row)
        session.flush()
        stored, dups, total, first, last = _store_lines(
            session, row.id, account_id, account, statement, occurrences
        )
        warnings = list(statement.warnings)
        warnings.extend(_balance_warnings(session, account_id, row.id, statement, total))
        row.opening_balance = statement.opening.amount if statement.opening else None
        row.opening_date = statement.opening.date if statement.opening else None
        row.closing_balance = statement.closing.amount if statement.closing else None
        row.closing_date = statement.closing.date if statement.closing else None
        row.currency = row.currency or _limit(statement.currency, 3)
        row.first_booking_date, row.last_booking_date = first, last
        row.line_count, row.duplicate_count = stored, dups
        row.warnings = warnings or None
        label = f"statement {statement.statement_id or position} ({account})"
        result.warnings.extend(f"{label}: {w}" for w in warnings)
        result.statements += 1
        result.transactions += stored
        result.duplicates += dups
    if result.statements == 0:
        # A valid export of a period without movements (a header row and nothing else).
        result.warnings.append("the file holds no statement lines")
    sf.statements, sf.transactions, sf.duplicates = result.statements, result.transactions, result.duplicates
    sf.warnings = result.warnings or None


def _close(statements: Iterable[Statement] | None) -> None:
    """Close a parse (a generator, a parse worker), so that it stops reading and frees what it holds."""
    close = getattr(statements, "close", None)
    if close is not None:
        close()


def _start_worker(parser: Parser, path: Path) -> Iterator[Statement] | None:
    """``parse_in_worker(parser, path)``, or None (parse here) when no worker can be started."""
    try:
        return parse_in_worker(parser, path)
    except Exception:  # noqa: BLE001 - no process to spare, a parser that cannot be pickled: parse here
        log.info("no parse worker for %s; parsing in this process", path, exc_info=True)
        return None


def use_worker(parser: Parser, size: int) -> bool:
    """Parse a file of ``size`` bytes in a second process (``parsers.worker``) while this one writes?

    Yes for files of ``WORKER_MIN_BYTES`` and more of a parser whose lines stream
    (``streams = True``, see ``parsers/base.py``) when at least two cores are free to
    use: parsing and writing then overlap.  A parser that reads the whole file before
    its first line would only be moved to the other process, and a small file's parse
    costs less than the child's start (about 0.1 s).  ``RECON_PARSE_WORKER=0`` turns
    it off, ``=1`` on for every file of every parser (the tests use both).
    """
    setting = os.environ.get("RECON_PARSE_WORKER", "").strip().lower()
    if setting in ("0", "off", "no", "false"):
        return False
    if setting in ("1", "on", "yes", "true"):
        return True
    if size < WORKER_MIN_BYTES or not getattr(parser, "streams", False):
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2


def _account_id(session: Any, account: str, currency: str | None) -> int:
    found = session.scalar(select(BankAccount.id).where(BankAccount.account == account))
    if found is not None:
        return int(found)
    acc = BankAccount(account=account, currency=_limit(currency, 3))
    session.add(acc)
    session.flush()
    return int(acc.id)


def _chunks(it: Iterable[StatementLine], size: int) -> Iterator[list[StatementLine]]:
    iterator = iter(it)
    while chunk := list(islice(iterator, size)):
        yield chunk


_COLUMNS = (
    "statement_id", "account_id", "line_key", "position", "bank_reference", "booking_date", "value_date", "amount",
    "currency", "counterparty_name", "counterparty_account", "counterparty_bic", "ultimate_debtor", "remittance",
    "creditor_reference", "end_to_end_id", "bank_code", "raw", "status", "created_at",
)
_CENT = Decimal("0.01")


def _store_lines(
    session: Any, statement_id: int, account_id: int, account: str, statement: Statement, occurrences: dict[str, int]
) -> tuple[int, int, Decimal, date | None, date | None]:
    # The hot loop of an import: every value is normalised once and serves both the
    # content key (see ``content_key``, same text) and the stored row, already in the
    # driver's form (ISO dates on SQLite, exact decimal text), without per-field calls.
    stored = dups = 0
    total = Decimal("0")
    first: date | None = None
    last: date | None = None
    position = 0
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    now = driver_value(utcnow(), sqlite)
    currency = (statement.currency or "").upper()[:3] or None
    key_currency = currency or ""
    sha256 = hashlib.sha256
    cent = _CENT
    # date.isoformat() costs more than a dict lookup, and a statement has few distinct dates.
    iso: dict[date, str] = {}
    for chunk in _chunks(statement.lines, CHUNK):
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for line in chunk:
            amount = line.amount
            if not isinstance(amount, Decimal):
                raise ParseError(f"amount {amount!r} is not exact", line.source_line)
            cents = amount.quantize(cent)
            if cents != amount:
                raise ParseError(f"amount {amount} has more than two decimals", line.source_line)
            total += amount
            booked = line.booking_date
            if first is None or booked < first:
                first = booked
            if last is None or booked > last:
                last = booked
            booked_iso = iso.get(booked)
            if booked_iso is None:
                booked_iso = iso[booked] = booked.isoformat()
            value_date = line.value_date
            if value_date:
                value_iso = iso.get(value_date)
                if value_iso is None:
                    value_iso = iso[value_date] = value_date.isoformat()
            else:
                value_iso = ""
            ref = line.bank_reference
            ref = ref.strip() if ref else ""
            name = line.counterparty_name
            cp_account = line.counterparty_account
            cp_account = "".join(cp_account.split()).upper() if cp_account else ""
            remittance = line.remittance
            e2e = line.end_to_end_id
            e2e = e2e.strip() if e2e else ""
            line_currency = line.currency
            amount_text = str(cents)
            # The key has the normalised amount; a two-decimal amount that is the same value and
            # does not end in 0 is already normal (1234.56), the rest needs normalize() (1E+2).
            key_amount = amount_text if amount_text[-1] != "0" else str(amount.normalize())
            base = sha256("\x1f".join((
                account, booked_iso, value_iso, key_amount, line_currency or key_currency, ref,
                " ".join(name.split()) if name else "", cp_account,
                " ".join(remittance.split()) if remittance else "", e2e,
            )).encode("utf-8")).hexdigest()
            n = occurrences.get(base)
            if n is None:
                occurrences[base] = 1
                key = base[:40]
            else:
                occurrences[base] = n = n + 1
                key = sha256(f"{base}#{n}".encode()).hexdigest()[:40]
            bic, ultimate, creditor_ref, code = (
                line.counterparty_bic, line.ultimate_debtor, line.creditor_reference, line.bank_code
            )
            append((
                statement_id, account_id, key, position, ref[:200] or None,
                booked_iso if sqlite else booked, (value_iso or None) if sqlite else value_date, amount_text,
                line_currency.upper()[:3] if line_currency else currency,
                (name.strip()[:300] or None) if name else None, cp_account[:64] or None,
                (bic.strip()[:16] or None) if bic else None, (ultimate.strip()[:300] or None) if ultimate else None,
                (remittance.strip() or None) if remittance else None,
                (creditor_ref.strip()[:64] or None) if creditor_ref else None, e2e[:100] or None,
                (code.strip()[:40] or None) if code else None,
                line.raw or "", "new", now,
            ))
            position += 1
        # A line already stored (an overlapping statement) hits the unique (account_id, line_key)
        # and is skipped there: the index probe the insert makes anyway is the duplicate check.
        # Keys within one file never collide (the occurrence number), so a skip is a duplicate.
        written = bulk_write(conn, "bank_transactions", _COLUMNS, rows, conflict_key="account_id, line_key",
                             converted=True)
        stored += written
        dups += len(rows) - written
    return stored, dups, total, first, last


def _balance_warnings(session: Any, account_id: int, row_id: int, statement: Statement, total: Decimal) -> list[str]:
    warnings: list[str] = []
    opening, closing = statement.opening, statement.closing
    if opening is not None and closing is not None:
        expected = opening.amount + total
        if expected != closing.amount:
            warnings.append(
                f"balance does not add up: opening {opening.amount} + lines {total} = {expected}, "
                f"but the closing balance is {closing.amount} (difference {closing.amount - expected})"
            )
    if opening is not None:
        previous = session.execute(
            select(StatementRow.closing_balance, StatementRow.closing_date)
            .where(StatementRow.account_id == account_id, StatementRow.id != row_id,
                   StatementRow.closing_balance.is_not(None),
                   *( [StatementRow.closing_date <= opening.date] if opening.date else [] ))
            .order_by(StatementRow.closing_date.desc(), StatementRow.id.desc())
            .limit(1)
        ).first()
        if previous is not None and previous[0] != opening.amount:
            warnings.append(
                f"gap: opening balance {opening.amount} differs from the previous statement's closing "
                f"balance {previous[0]} of {previous[1]}"
            )
    return warnings
