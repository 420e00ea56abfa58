"""Shared data access for the reports: what was true at a moment, summed in SQL, read into polars.

Every report answers "as at" a moment ``T`` (a timezone-aware UTC datetime,
usually 24:00 of a day in the rules' time zone), and reads only data that
cannot change after the fact, so a report on a past period reads the same
whenever it is run:

* an allocation counts from the moment it was *posted* (``approved_at`` for
  one that waited for four eyes, else ``decided_at``; one that was pending and
  never approved never counts) until it was reversed (``reversed_at``);
* unapplied cash counts from ``created_at`` until ``reversed_at``;
* a queue item is open from ``created_at`` until ``resolved_at``;
* whether a transaction was set aside (ignored) at ``T`` comes from the
  append-only audit trail: the transaction state recorded by the last decision
  at or before ``T`` (a transaction with no recorded decision at all keeps the
  status it was imported with).

Money leaves SQL as integer cents (``ROUND(x * 100)`` per row, then summed),
so sums are exact on SQLite, whose ``NUMERIC`` columns hold binary floats, as
on PostgreSQL; :func:`money` turns cents into ``Decimal`` at the edge.

An invoice's open amount at ``T`` is reconstructed as
``open_amount + (what recon's live postings close now) - (what they closed at T)``:
what the ERP reported as already paid when the invoice was loaded counts as
settled from the invoice's issue date.  Cancelled invoices are never receivables.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from ledger.models import (
    Allocation,
    AuditEntry,
    BankAccount,
    BankTransaction,
    Customer,
    Invoice,
    QueueItem,
    Statement,
    StatementFile,
    UnappliedCash,
)

CENT = Decimal("0.01")
ZERO = Decimal("0")


class ReportError(Exception):
    """A report cannot be made as asked (a bad period, an unknown customer); the message is for the user."""


# --- periods and moments ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month: ``label`` ``YYYY-MM``, first and last day."""

    label: str
    start: date
    end: date


def parse_period(text: str) -> Period:
    """``2026-10`` -> the calendar month of October 2026.

    >>> parse_period("2026-02").end
    datetime.date(2026, 2, 28)
    """
    m = re.fullmatch(r"\s*(\d{4})-(\d{2})\s*", text or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ReportError(f"period {text!r}: expected a month as YYYY-MM, e.g. 2026-10")
    year, month = int(m.group(1)), int(m.group(2))
    last = calendar.monthrange(year, month)[1]
    return Period(f"{year:04d}-{month:02d}", date(year, month, 1), date(year, month, last))


def zone(name: str | None) -> ZoneInfo | timezone:
    """The rules' time zone (``[reports] timezone``); UTC when unset."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"rules: [reports] timezone = {name!r} is not a known time zone (e.g. Europe/Berlin)") from None


def end_of_day(day: date, tz: ZoneInfo | timezone = UTC) -> datetime:
    """24:00 of ``day`` in ``tz``, as a UTC datetime (the moment a report of that day reads the data at)."""
    local = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return local.astimezone(UTC)


def money(cents: int | None) -> Decimal:
    """Integer cents -> ``Decimal`` with two places (exact)."""
    return (Decimal(int(cents or 0)) / 100).quantize(CENT)


def cents(value: Decimal | int | str | None) -> int:
    """``Decimal`` (or its string) -> integer cents; never from float."""
    if value is None:
        return 0
    if isinstance(value, float):  # pragma: no cover - guard
        raise TypeError("money must not be a float")
    return int((Decimal(value) * 100).quantize(Decimal("1")))


def cents_of(column: Any) -> ColumnElement[int]:
    """SQL: a money column as integer cents, rounded per row so that sums stay exact."""
    return cast(func.round(column * 100), BigInteger)


def _frame(rows: Any, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


# --- allocations, unapplied cash, queue, state at T --------------------------------------------------


def _pending_allocation_ids() -> Select[Any]:
    # A reversed allocation that had been pending looks like a reversed posted one; the audit
    # trail's ``post-pending`` entry tells them apart.
    return select(cast(AuditEntry.entity_id, BigInteger)).where(
        AuditEntry.entity == "allocation", AuditEntry.action == "post-pending"
    )


def allocation_posted_at() -> ColumnElement[Any]:
    """SQL: when an allocation started to close its invoice (NULL: never)."""
    return case(
        (Allocation.approved_at.is_not(None), Allocation.approved_at),
        (Allocation.status == "pending_approval", null()),
        (Allocation.id.in_(_pending_allocation_ids()), null()),
        else_=Allocation.decided_at,
    )


def allocation_active_at(at: datetime) -> ColumnElement[bool]:
    """SQL: the allocation closed its invoice at ``at``."""
    posted_at = allocation_posted_at()
    return and_(
        posted_at.is_not(None),
        posted_at <= at,
        or_(Allocation.reversed_at.is_(None), Allocation.reversed_at > at),
    )


def unapplied_active_at(at: datetime) -> ColumnElement[bool]:
    """SQL: the unapplied cash existed at ``at`` (an applied one counts until allocations absorb it)."""
    return and_(
        UnappliedCash.created_at <= at,
        or_(UnappliedCash.reversed_at.is_(None), UnappliedCash.reversed_at > at),
    )


def _sum_if(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=literal(0))), literal(0))


def transactions_frame(conn: Connection, txn_filter: Select[Any]) -> pl.DataFrame:
    """Transactions whose id is in ``txn_filter``: id, account, booking date, cents, currency, status."""
    rows = conn.execute(
        select(
            BankTransaction.id,
            BankTransaction.account_id,
            BankTransaction.booking_date,
            cents_of(BankTransaction.amount),
            BankTransaction.currency,
            BankTransaction.status,
            BankTransaction.customer_id,
        ).where(BankTransaction.id.in_(txn_filter))
    )
    return _frame(
        rows,
        {
            "id": pl.Int64,
            "account_id": pl.Int64,
            "booking_date": pl.Date,
            "amount_c": pl.Int64,
            "currency": pl.Utf8,
            "status": pl.Utf8,
            "customer_id": pl.Utf8,
        },
    )


def allocations_by_transaction(conn: Connection, at: datetime, txn_filter: Select[Any]) -> pl.DataFrame:
    """Per transaction: cash posted automatically / by a person and active at ``at``, and how many lines."""
    active = allocation_active_at(at)
    auto = and_(active, Allocation.automatic.is_(True))
    manual = and_(active, Allocation.automatic.is_(False))
    rows = conn.execute(
        select(
            Allocation.transaction_id,
            _sum_if(auto, cents_of(Allocation.amount)),
            _sum_if(manual, cents_of(Allocation.amount)),
            _sum_if(auto, literal(1)),
            _sum_if(manual, literal(1)),
        )
        .where(Allocation.transaction_id.in_(txn_filter))
        .group_by(Allocation.transaction_id)
    )
    return _frame(
        rows, {"id": pl.Int64, "auto_c": pl.Int64, "manual_c": pl.Int64, "auto_n": pl.Int64, "manual_n": pl.Int64}
    )


def unapplied_by_transaction(conn: Connection, at: datetime, txn_filter: Select[Any]) -> pl.DataFrame:
    """Per (transaction, customer): unapplied cash that existed at ``at``."""
    rows = conn.execute(
        select(UnappliedCash.transaction_id, UnappliedCash.customer_id, func.sum(cents_of(UnappliedCash.amount)))
        .where(UnappliedCash.transaction_id.in_(txn_filter), unapplied_active_at(at))
        .group_by(UnappliedCash.transaction_id, UnappliedCash.customer_id)
    )
    return _frame(rows, {"id": pl.Int64, "unapplied_customer_id": pl.Utf8, "unapplied_c": pl.Int64})


def open_queue_at(conn: Connection, at: datetime, txn_filter: Select[Any] | None = None) -> pl.DataFrame:
    """Queue items open at ``at``, with their transaction's amount and booking date.

    The reason is the item's current one (``enqueue`` updates it in place; the
    audit trail keeps the history).
    """
    stmt = (
        select(
            QueueItem.id,
            QueueItem.transaction_id,
            QueueItem.reason,
            QueueItem.created_at,
            func.coalesce(QueueItem.customer_id, BankTransaction.customer_id),
            cents_of(BankTransaction.amount),
            BankTransaction.currency,
            BankTransaction.booking_date,
            BankTransaction.account_id,
        )
        .join(BankTransaction, BankTransaction.id == QueueItem.transaction_id)
        .where(
            QueueItem.created_at <= at,
            or_(QueueItem.resolved_at.is_(None), QueueItem.resolved_at > at),
            # a resolved item with no time of resolution cannot be placed: treat it as closed
            or_(QueueItem.status == "open", QueueItem.resolved_at.is_not(None)),
        )
    )
    if txn_filter is not None:
        stmt = stmt.where(QueueItem.transaction_id.in_(txn_filter))
    rows = [
        (r[0], r[1], r[2], _utc(r[3]), r[4], r[5], r[6], r[7], r[8]) for r in conn.execute(stmt)
    ]
    return _frame(
        rows,
        {
            "queue_id": pl.Int64,
            "id": pl.Int64,
            "reason": pl.Utf8,
            "created_at": pl.Datetime("us", "UTC"),
            "customer_id": pl.Utf8,
            "amount_c": pl.Int64,
            "currency": pl.Utf8,
            "booking_date": pl.Date,
            "account_id": pl.Int64,
        },
    )


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Audit entries that record a transaction's state in ``after`` (see ledger/posting.py).
_STATE_ENTITIES = ("transaction", "queue_item")


def state_at(conn: Connection, at: datetime, txn_filter: Select[Any]) -> pl.DataFrame:
    """Per transaction: the status (and ignore reason) recorded by the last decision at or before ``at``.

    ``has_trail`` is false for a transaction no decision was ever recorded for.
    """
    status = AuditEntry.after["status"].as_string()
    reason = AuditEntry.after["ignore_reason"].as_string()
    rows = conn.execute(
        select(
            AuditEntry.transaction_id,
            AuditEntry.id,
            case((AuditEntry.at <= at, literal(1)), else_=literal(0)),
            status,
            reason,
        ).where(
            AuditEntry.transaction_id.in_(txn_filter),
            AuditEntry.entity.in_(_STATE_ENTITIES),
            status.is_not(None),
        )
    )
    df = _frame(
        rows, {"id": pl.Int64, "audit_id": pl.Int64, "by_then": pl.Int64, "state": pl.Utf8, "state_reason": pl.Utf8}
    )
    trail = df.group_by("id").agg(pl.lit(True).alias("has_trail"))
    last = (
        df.filter(pl.col("by_then") == 1)
        .sort("audit_id")
        .group_by("id")
        .agg(pl.col("state").last(), pl.col("state_reason").last())
    )
    return trail.join(last, on="id", how="left")


# --- the classification of a period's movements -------------------------------------------------------

MOVEMENT_CLASSES: tuple[tuple[str, str], ...] = (
    ("auto", "Customer receipts posted automatically"),
    ("manual", "Customer receipts posted by a person"),
    ("unapplied", "Customer receipts held as unapplied cash"),
    ("queue", "Receipts still in the queue"),
    ("set_aside", "Credits set aside as not customer payments"),
    ("unclassified", "Credits not classified by the cutoff"),
    ("debit", "Debits (payments out, charges)"),
)


def window_filter(start: date, end: date, account_ids: list[int] | None = None) -> Select[Any]:
    """SQL: ids of transactions booked from ``start`` to ``end`` (on the given accounts)."""
    stmt = select(BankTransaction.id).where(BankTransaction.booking_date >= start, BankTransaction.booking_date <= end)
    if account_ids is not None:
        stmt = stmt.where(BankTransaction.account_id.in_(account_ids))
    return stmt


def classify_movements(conn: Connection, txn_filter: Select[Any], at: datetime) -> pl.DataFrame:
    """Split each transaction's amount into the movement classes as they stood at ``at``.

    Columns: id, account_id, booking_date, currency, amount_c, auto_c,
    manual_c, unapplied_c, rest_c (the part no posting accounts for),
    rest_class (where that rest sits: ``queue``, ``set_aside``,
    ``unclassified``; ``debit`` for a debit), primary (the one class a count
    uses), ignore_reason.  For every row
    ``auto_c + manual_c + unapplied_c + rest_c == amount_c``, so the classes
    always add up to the movements.

    A credit's rest is ``set_aside`` when the last decision by ``at`` set the
    transaction aside, ``queue`` when a queue item was open at ``at``, else
    ``unclassified``.  By count a credit is ``manual`` when a person posted any
    of it, ``auto`` when only automatic postings did, ``unapplied`` when it all
    went on account, else the class of its rest.
    """
    txns = transactions_frame(conn, txn_filter)
    allocs = allocations_by_transaction(conn, at, txn_filter)
    unapplied = (
        unapplied_by_transaction(conn, at, txn_filter).group_by("id").agg(pl.col("unapplied_c").sum())
    )
    queued = open_queue_at(conn, at, txn_filter).select("id").unique().with_columns(pl.lit(True).alias("queued"))
    states = state_at(conn, at, txn_filter)
    df = (
        txns.join(allocs, on="id", how="left")
        .join(unapplied, on="id", how="left")
        .join(queued, on="id", how="left")
        .join(states, on="id", how="left")
        .with_columns(
            pl.col("auto_c", "manual_c", "auto_n", "manual_n", "unapplied_c").fill_null(0),
            pl.col("queued", "has_trail").fill_null(False),
        )
    )
    credit = pl.col("amount_c") > 0
    allocated = pl.col("auto_c") + pl.col("manual_c")
    # Unapplied cash that allocations have since absorbed would count twice: cap it at what is left.
    room = pl.max_horizontal(pl.col("amount_c") - allocated, pl.lit(0))
    df = df.with_columns(
        pl.when(credit).then(pl.min_horizontal(pl.col("unapplied_c"), room)).otherwise(0).alias("unapplied_c"),
    ).with_columns(
        pl.when(credit)
        .then(pl.col("amount_c") - allocated - pl.col("unapplied_c"))
        .otherwise(pl.col("amount_c"))
        .alias("rest_c"),
    )
    ignored = (pl.col("state") == "ignored") | (~pl.col("has_trail") & (pl.col("status") == "ignored"))
    df = df.with_columns(
        pl.when(~credit)
        .then(pl.lit("debit"))
        .when(pl.col("rest_c") == 0)
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(ignored)
        .then(pl.lit("set_aside"))
        .when(pl.col("queued"))
        .then(pl.lit("queue"))
        .otherwise(pl.lit("unclassified"))
        .alias("rest_class"),
        pl.when(pl.col("has_trail")).then(pl.col("state_reason")).otherwise(None).alias("ignore_reason"),
    ).with_columns(
        pl.when(pl.col("rest_class").is_not_null())
        .then(pl.col("rest_class"))
        .when(pl.col("manual_n") > 0)
        .then(pl.lit("manual"))
        .when(pl.col("auto_n") > 0)
        .then(pl.lit("auto"))
        .otherwise(pl.lit("unapplied"))
        .alias("primary"),
    )
    return df.select(
        "id", "account_id", "booking_date", "currency", "amount_c", "auto_c", "manual_c", "unapplied_c", "rest_c",
        "rest_class", "primary", "ignore_reason", "status", "has_trail",
    )


def ignore_reasons(conn: Connection, ids: list[int]) -> dict[int, str | None]:
    """Current ``ignore_reason`` of a few transactions (for those set aside without an audit trail)."""
    if not ids:
        return {}
    out: dict[int, str | None] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for tid, reason in conn.execute(
            select(BankTransaction.id, BankTransaction.ignore_reason).where(BankTransaction.id.in_(chunk))
        ):
            out[int(tid)] = reason
    return out


# --- invoices at a moment ----------------------------------------------------------------------------


def invoice_settlements(conn: Connection, at_times: dict[str, datetime], *, issued_by: date | None = None,
                        flows: tuple[datetime, datetime] | None = None) -> pl.DataFrame:
    """Per invoice (not cancelled; issued by ``issued_by``): amount, recon's open amount now, and what
    recon's postings closed now and at each moment of ``at_times``.

    Columns: invoice_id, customer_id, currency, issue_date, due_date,
    amount_c, open_c, now_c, and ``settled_<name>_c`` per moment; ``open_<name>_c``
    is the open amount at that moment.  With ``flows=(t0, t1)`` also the
    postings in (t0, t1]: cash_in_c, adj_discount_c, adj_bank_charges_c,
    adj_write_off_c, reversed_c.
    """
    closes = cents_of(Allocation.amount) + cents_of(Allocation.adjustment_amount)
    cols: list[Any] = [Allocation.invoice_id, _sum_if(Allocation.status == "posted", closes).label("now_c")]
    for name, at in at_times.items():
        cols.append(_sum_if(allocation_active_at(at), closes).label(f"settled_{name}_c"))
    if flows is not None:
        t0, t1 = flows
        posted_at = allocation_posted_at()
        posted_in = and_(posted_at.is_not(None), posted_at > t0, posted_at <= t1)
        cols.append(_sum_if(posted_in, cents_of(Allocation.amount)).label("cash_in_c"))
        for reason in ("discount", "bank-charges", "write-off"):
            cols.append(
                _sum_if(and_(posted_in, Allocation.adjustment_reason == reason), cents_of(Allocation.adjustment_amount))
                .label(f"adj_{reason.replace('-', '_')}_c")
            )
        reversed_in = and_(
            posted_at.is_not(None), Allocation.reversed_at.is_not(None), Allocation.reversed_at > t0,
            Allocation.reversed_at <= t1,
        )
        cols.append(_sum_if(reversed_in, closes).label("reversed_c"))
    agg = select(*cols).group_by(Allocation.invoice_id).subquery()
    inv_filter = [Invoice.status != "cancelled"]
    if issued_by is not None:
        inv_filter.append(Invoice.issue_date <= issued_by)
    value_cols = [c for c in agg.c if c.name != "invoice_id"]
    rows = conn.execute(
        select(
            Invoice.invoice_id,
            Invoice.customer_id,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.due_date,
            cents_of(Invoice.amount),
            cents_of(Invoice.open_amount),
            *[func.coalesce(c, literal(0)) for c in value_cols],
        )
        .outerjoin(agg, agg.c.invoice_id == Invoice.invoice_id)
        .where(*inv_filter)
    )
    schema: dict[str, Any] = {
        "invoice_id": pl.Utf8,
        "customer_id": pl.Utf8,
        "currency": pl.Utf8,
        "issue_date": pl.Date,
        "due_date": pl.Date,
        "amount_c": pl.Int64,
        "open_c": pl.Int64,
    }
    for c in value_cols:
        schema[c.name] = pl.Int64
    df = _frame(rows, schema)
    return df.with_columns(
        [
            (pl.col("open_c") + pl.col("now_c") - pl.col(f"settled_{name}_c")).alias(f"open_{name}_c")
            for name in at_times
        ]
    )


def open_items_at(conn: Connection, day: date, at: datetime) -> pl.DataFrame:
    """Invoices issued by ``day`` with something open at ``at``: invoice_id, customer_id, currency,
    issue_date, due_date, amount_c, open_at_c, days_past_due (as of ``day``)."""
    df = invoice_settlements(conn, {"at": at}, issued_by=day)
    return (
        df.filter(pl.col("open_at_c") != 0)
        .with_columns((pl.lit(day) - pl.col("due_date")).dt.total_days().cast(pl.Int64).alias("days_past_due"))
        .select("invoice_id", "customer_id", "currency", "issue_date", "due_date", "amount_c",
                pl.col("open_at_c"), "days_past_due")
    )


def unapplied_at(conn: Connection, at: datetime) -> pl.DataFrame:
    """Unapplied cash per customer and currency that existed at ``at`` (capped at what the
    transaction's allocations at ``at`` leave over): customer_id, currency, unapplied_c, payments."""
    txn_filter = select(UnappliedCash.transaction_id).distinct()
    per_txn = unapplied_by_transaction(conn, at, txn_filter)
    if per_txn.is_empty():
        return pl.DataFrame(
            schema={"customer_id": pl.Utf8, "currency": pl.Utf8, "unapplied_c": pl.Int64, "payments": pl.UInt32}
        )
    txns = transactions_frame(conn, txn_filter).select("id", "amount_c", "currency")
    allocs = allocations_by_transaction(conn, at, txn_filter).select(
        "id", (pl.col("auto_c") + pl.col("manual_c")).alias("alloc_c")
    )
    df = (
        per_txn.join(txns, on="id", how="left")
        .join(allocs, on="id", how="left")
        .with_columns(pl.col("alloc_c").fill_null(0))
        .with_columns(
            pl.min_horizontal(
                pl.col("unapplied_c"), pl.max_horizontal(pl.col("amount_c") - pl.col("alloc_c"), pl.lit(0))
            ).alias("unapplied_c")
        )
        .filter(pl.col("unapplied_c") > 0)
    )
    return (
        df.group_by(pl.col("unapplied_customer_id").alias("customer_id"), "currency")
        .agg(pl.col("unapplied_c").sum(), pl.len().alias("payments"))
        .sort("customer_id", "currency")
    )


def customers_frame(conn: Connection, ids: list[str] | None = None) -> pl.DataFrame:
    """Customers: customer_id, name, email, phone, credit_limit_c (null when none), payment_terms_days."""
    stmt = select(
        Customer.customer_id,
        Customer.name,
        Customer.email,
        Customer.phone,
        case((Customer.credit_limit.is_(None), null()), else_=cents_of(Customer.credit_limit)),
        Customer.payment_terms_days,
    )
    if ids is not None:
        stmt = stmt.where(Customer.customer_id.in_(ids))
    return _frame(
        conn.execute(stmt),
        {
            "customer_id": pl.Utf8,
            "name": pl.Utf8,
            "email": pl.Utf8,
            "phone": pl.Utf8,
            "credit_limit_c": pl.Int64,
            "payment_terms_days": pl.Int64,
        },
    )


# --- statements (the bank side) -------------------------------------------------------------------------


@dataclass(slots=True)
class StatementRow:
    """One stored statement with what the reconciliation needs."""

    id: int
    account_id: int
    file_name: str
    statement_ref: str | None
    opening_balance: Decimal | None
    opening_date: date | None
    closing_balance: Decimal | None
    closing_date: date | None
    first_booking_date: date | None
    last_booking_date: date | None
    line_count: int
    duplicate_count: int
    warnings: list[str]
    lines_c: int = 0  # sum of the lines stored under this statement

    @property
    def day(self) -> date | None:
        """The date the statement stands for: its closing date, else its last booking, else its opening."""
        return self.closing_date or self.last_booking_date or self.opening_date

    @property
    def label(self) -> str:
        """How a person finds the statement again: the file and the statement's own reference."""
        ref = f" {self.statement_ref}" if self.statement_ref else ""
        return f"{self.file_name}{ref}"


def bank_accounts(conn: Connection, accounts: list[str] | None = None) -> list[tuple[int, str, str | None, str | None]]:
    """(id, account, currency, name) of our bank accounts, optionally only the named ones."""
    stmt = select(BankAccount.id, BankAccount.account, BankAccount.currency, BankAccount.name).order_by(
        BankAccount.account
    )
    if accounts:
        stmt = stmt.where(BankAccount.account.in_(accounts))
    return [(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(stmt)]


def statements_of(conn: Connection, account_ids: list[int]) -> list[StatementRow]:
    """Every statement of the accounts, with the sum of its stored lines."""
    if not account_ids:
        return []
    lines = (
        select(BankTransaction.statement_id, func.sum(cents_of(BankTransaction.amount)).label("lines_c"))
        .where(BankTransaction.account_id.in_(account_ids))
        .group_by(BankTransaction.statement_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            Statement.id,
            Statement.account_id,
            StatementFile.file_name,
            Statement.statement_ref,
            Statement.opening_balance,
            Statement.opening_date,
            Statement.closing_balance,
            Statement.closing_date,
            Statement.first_booking_date,
            Statement.last_booking_date,
            Statement.line_count,
            Statement.duplicate_count,
            Statement.warnings,
            func.coalesce(lines.c.lines_c, literal(0)),
        )
        .join(StatementFile, StatementFile.id == Statement.file_id)
        .outerjoin(lines, lines.c.statement_id == Statement.id)
        .where(Statement.account_id.in_(account_ids))
    )
    out = []
    for r in rows:
        out.append(
            StatementRow(
                id=int(r[0]), account_id=int(r[1]), file_name=r[2], statement_ref=r[3],
                opening_balance=_dec(r[4]), opening_date=r[5], closing_balance=_dec(r[6]), closing_date=r[7],
                first_booking_date=r[8], last_booking_date=r[9], line_count=int(r[10] or 0),
                duplicate_count=int(r[11] or 0), warnings=[str(w) for w in (r[12] or [])], lines_c=int(r[13] or 0),
            )
        )
    return out


def _dec(value: Any) -> Decimal | None:
    # SQLite returns the NUMERIC column through a float; quantize back to cents.
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENT)
