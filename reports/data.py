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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
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


# --- one consistent view ------------------------------------------------------------------------------


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees one state of the books for the whole report.

    A report runs a dozen queries; a match run committing between two of them
    must not make one payment count in two classes.  PostgreSQL: one
    REPEATABLE READ transaction.  SQLite: one read transaction (in WAL mode a
    reader keeps the snapshot it started with).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin() as txn:
            try:
                yield conn
            finally:
                txn.rollback()  # nothing to keep: a report writes nothing
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.exec_driver_sql("ROLLBACK")


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


def previous_period(period: Period) -> Period:
    """The calendar month before ``period``.

    >>> previous_period(parse_period("2026-01")).label
    '2025-12'
    """
    last = period.start - timedelta(days=1)
    return parse_period(f"{last.year:04d}-{last.month:02d}")


def period_cutoff(
    conn: Connection, period: Period, txn_filter: Select[Any], tz: ZoneInfo | timezone, days_after: int = 0
) -> datetime:
    """When a period's movements are classified: 24:00 of the later of the period's last day and the
    day its last bank line (of ``txn_filter``) was imported, plus ``days_after`` days."""
    last = conn.execute(select(func.max(BankTransaction.created_at)).where(BankTransaction.id.in_(txn_filter))).scalar()
    day = period.end
    if last is not None:
        day = max(day, _utc(last).astimezone(tz).date())  # type: ignore[union-attr]
    return end_of_day(day + timedelta(days=days_after), tz)


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


Pending = tuple[int, ...]


def pending_allocation_ids(conn: Connection) -> Pending:
    """Ids of the allocations that were ever stored pending four-eyes approval.

    A reversed allocation that had been pending (and never approved) looks
    like a reversed posted one; the audit trail's ``post-pending`` entry tells
    them apart.  Read once per report: such allocations are few.
    """
    rows = conn.execute(
        select(AuditEntry.entity_id).where(AuditEntry.entity == "allocation", AuditEntry.action == "post-pending")
    )
    return tuple(sorted({int(r[0]) for r in rows if r[0] and str(r[0]).isdigit()}))


def allocation_posted_at(pending: Pending) -> ColumnElement[Any]:
    """SQL: when an allocation started to close its invoice (NULL: never)."""
    whens: list[Any] = [
        (Allocation.approved_at.is_not(None), Allocation.approved_at),
        (Allocation.status == "pending_approval", null()),
    ]
    if pending:
        whens.append((Allocation.id.in_(pending), null()))
    return case(*whens, else_=Allocation.decided_at)


def allocation_active_at(at: datetime, pending: Pending) -> ColumnElement[bool]:
    """SQL: the allocation closed its invoice at ``at``."""
    posted_at = allocation_posted_at(pending)
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


def _text(value: str) -> ColumnElement[str]:
    # a string constant inlined in the SQL: a bound parameter inside CASE would make PostgreSQL see
    # the same expression twice as two different ones
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _zero() -> ColumnElement[int]:
    return literal_column("0", BigInteger)


def _least(a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a < b, a), else_=b)


def _positive(a: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((a > 0, a), else_=_zero())


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- per transaction, as SQL subqueries -------------------------------------------------------------


def allocations_by_transaction(at: datetime, txn_filter: Select[Any], pending: Pending) -> Subquery:
    """SQL: per transaction, cash posted automatically / by a person and active at ``at``, and how many lines."""
    active = allocation_active_at(at, pending)
    auto = and_(active, Allocation.automatic.is_(True))
    manual = and_(active, Allocation.automatic.is_(False))
    return (
        select(
            Allocation.transaction_id.label("transaction_id"),
            _sum_if(auto, cents_of(Allocation.amount)).label("auto_c"),
            _sum_if(manual, cents_of(Allocation.amount)).label("manual_c"),
            _sum_if(auto, literal(1)).label("auto_n"),
            _sum_if(manual, literal(1)).label("manual_n"),
        )
        .where(Allocation.transaction_id.in_(txn_filter))
        .group_by(Allocation.transaction_id)
        .subquery("alloc")
    )


def unapplied_by_transaction(at: datetime, txn_filter: Select[Any]) -> Subquery:
    """SQL: per transaction, the unapplied cash that existed at ``at``."""
    return (
        select(
            UnappliedCash.transaction_id.label("transaction_id"),
            func.sum(cents_of(UnappliedCash.amount)).label("unapplied_c"),
        )
        .where(UnappliedCash.transaction_id.in_(txn_filter), unapplied_active_at(at))
        .group_by(UnappliedCash.transaction_id)
        .subquery("unapplied")
    )


def queue_open_at(at: datetime) -> ColumnElement[bool]:
    """SQL: the queue item was open at ``at``.

    A resolved item with no time of resolution cannot be placed in time: it counts as closed.
    """
    return and_(
        QueueItem.created_at <= at,
        or_(QueueItem.resolved_at.is_(None), QueueItem.resolved_at > at),
        or_(QueueItem.status == "open", QueueItem.resolved_at.is_not(None)),
    )


def queued_transactions(at: datetime, txn_filter: Select[Any]) -> Subquery:
    """SQL: the transactions with a queue item open at ``at``."""
    return (
        select(QueueItem.transaction_id.label("transaction_id"))
        .where(QueueItem.transaction_id.in_(txn_filter), queue_open_at(at))
        .distinct()
        .subquery("queued")
    )


# Audit entries that record a transaction's state in ``after`` (see ledger/posting.py), and the
# actions that set a transaction aside (``ignore``: a rule; ``dismiss``: a person).
_STATE_ENTITIES = ("transaction", "queue_item")
IGNORE_ACTIONS = ("ignore", "dismiss")


def _state_status() -> ColumnElement[str]:
    return AuditEntry.after["status"].as_string()


def _state_entries(txn_filter: Select[Any]) -> list[ColumnElement[bool]]:
    return [
        AuditEntry.transaction_id.in_(txn_filter),
        AuditEntry.entity.in_(_STATE_ENTITIES),
        _state_status().is_not(None),
    ]


def state_at(at: datetime, txn_filter: Select[Any]) -> Subquery:
    """SQL: per transaction some decision was ever recorded for, the status and ignore reason recorded
    by the last decision at or before ``at`` (NULL when none was by then).

    The audit trail is append-only, so its ids follow the order decisions were recorded in.
    """
    last = (
        select(
            AuditEntry.transaction_id.label("transaction_id"),
            func.max(case((AuditEntry.at <= at, AuditEntry.id), else_=null())).label("last_id"),
        )
        .where(*_state_entries(txn_filter))
        .group_by(AuditEntry.transaction_id)
        .subquery("last_decision")
    )
    return (
        select(
            last.c.transaction_id,
            _state_status().label("state"),
            AuditEntry.after["ignore_reason"].as_string().label("state_reason"),
        )
        .select_from(last)
        .outerjoin(AuditEntry, AuditEntry.id == last.c.last_id)
        .subquery("state")
    )


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


def classified_transactions(txn_filter: Select[Any], at: datetime, pending: Pending) -> Subquery:
    """SQL: each transaction of ``txn_filter`` with its amount split into classes as they stood at ``at``.

    Columns: id, account_id, currency, booking_date, amount_c, auto_c,
    manual_c, unapplied_c, rest_c (the part no posting accounts for),
    rest_class (where that rest sits: ``queue``, ``set_aside``,
    ``unclassified``; ``debit`` for a debit; NULL when nothing rests),
    primary_class (the one class a count uses), ignore_reason (for a set-aside
    rest).  For every row ``auto_c + manual_c + unapplied_c + rest_c ==
    amount_c``, so the classes always add up to the movements.

    A credit's rest is ``set_aside`` when the last decision by ``at`` set the
    transaction aside (with no decision ever recorded: when it was imported
    as ignored), ``queue`` when a queue item was open at ``at``, else
    ``unclassified``.  Unapplied cash is capped at what the allocations leave
    over, so cash later applied is never counted twice.  By count a credit is
    ``manual`` when a person posted any of it, ``auto`` when only automatic
    postings did, ``unapplied`` when it all went on account, else the class
    of its rest.
    """
    t = BankTransaction
    alloc = allocations_by_transaction(at, txn_filter, pending)
    unap = unapplied_by_transaction(at, txn_filter)
    queued = queued_transactions(at, txn_filter)
    # Only a transaction that is set aside now, or ever was by a decision, can have been set aside at
    # ``at``: reading the decisions' recorded state (JSON) of those few is much cheaper than of all.
    maybe_ignored = select(t.id).where(
        t.id.in_(txn_filter),
        or_(
            t.status == _text("ignored"),
            t.id.in_(select(AuditEntry.transaction_id).where(AuditEntry.action.in_(IGNORE_ACTIONS))),
        ),
    )
    state = state_at(at, maybe_ignored)
    ignored = or_(
        state.c.state == _text("ignored"),
        and_(state.c.transaction_id.is_(None), t.status == _text("ignored")),
    )
    base = (
        select(
            t.id.label("id"),
            t.account_id.label("account_id"),
            t.currency.label("currency"),
            t.booking_date.label("booking_date"),
            cents_of(t.amount).label("amount_c"),
            func.coalesce(alloc.c.auto_c, _zero()).label("auto_c"),
            func.coalesce(alloc.c.manual_c, _zero()).label("manual_c"),
            func.coalesce(alloc.c.auto_n, _zero()).label("auto_n"),
            func.coalesce(alloc.c.manual_n, _zero()).label("manual_n"),
            func.coalesce(unap.c.unapplied_c, _zero()).label("unapplied_raw"),
            case((queued.c.transaction_id.is_not(None), literal_column("1")), else_=_zero()).label("queued"),
            case((ignored, literal_column("1")), else_=_zero()).label("ignored"),
            case((state.c.transaction_id.is_not(None), state.c.state_reason), else_=t.ignore_reason).label("reason"),
        )
        .select_from(t)
        .outerjoin(alloc, alloc.c.transaction_id == t.id)
        .outerjoin(unap, unap.c.transaction_id == t.id)
        .outerjoin(queued, queued.c.transaction_id == t.id)
        .outerjoin(state, state.c.transaction_id == t.id)
        .where(t.id.in_(txn_filter))
        .cte("base")
        .prefix_with("MATERIALIZED")
    )
    # Each level is materialized: inlined, every reference to a computed column would repeat its
    # whole CASE expression, and the classification refers to the split several times.
    b = base.c
    allocated = b.auto_c + b.manual_c
    unapplied = case((b.amount_c <= 0, _zero()), else_=_least(b.unapplied_raw, _positive(b.amount_c - allocated)))
    split = select(
        b.id, b.account_id, b.currency, b.booking_date, b.amount_c, b.auto_c, b.manual_c, b.auto_n, b.manual_n,
        b.queued, b.ignored, b.reason, unapplied.label("unapplied_c"),
    ).cte("split").prefix_with("MATERIALIZED")
    sp = split.c
    rest = case((sp.amount_c > 0, sp.amount_c - sp.auto_c - sp.manual_c - sp.unapplied_c), else_=sp.amount_c)
    rested = select(split, rest.label("rest_c")).cte("rested").prefix_with("MATERIALIZED")
    r = rested.c
    rest_class = case(
        (r.amount_c <= 0, _text("debit")),
        (r.rest_c == 0, null()),
        (r.ignored == 1, _text("set_aside")),
        (r.queued == 1, _text("queue")),
        else_=_text("unclassified"),
    )
    primary = case(
        (r.amount_c <= 0, _text("debit")),
        (r.rest_c != 0, rest_class),
        (r.manual_n > 0, _text("manual")),
        (r.auto_n > 0, _text("auto")),
        else_=_text("unapplied"),
    )
    return select(
        r.id, r.account_id, r.currency, r.booking_date, r.amount_c, r.auto_c, r.manual_c, r.unapplied_c, r.rest_c,
        rest_class.label("rest_class"), primary.label("primary_class"),
        case((and_(r.amount_c > 0, r.rest_c != 0, r.ignored == 1), r.reason), else_=null()).label("ignore_reason"),
    ).subquery("classified")


def movement_groups(conn: Connection, txn_filter: Select[Any], at: datetime, pending: Pending) -> pl.DataFrame:
    """The classified movements summed in SQL per account, currency, booking day and class.

    Columns: account_id, currency, booking_date, primary_class, rest_class,
    ignore_reason, n (transactions), amount_c, auto_c, manual_c, unapplied_c, rest_c.
    """
    c = classified_transactions(txn_filter, at, pending).c
    keys = (c.account_id, c.currency, c.booking_date, c.primary_class, c.rest_class, c.ignore_reason)
    rows = conn.execute(
        select(
            *keys,
            func.count().label("n"),
            func.sum(c.amount_c),
            func.sum(c.auto_c),
            func.sum(c.manual_c),
            func.sum(c.unapplied_c),
            func.sum(c.rest_c),
        ).group_by(*keys)
    )
    return _frame(
        rows,
        {
            "account_id": pl.Int64,
            "currency": pl.Utf8,
            "booking_date": pl.Date,
            "primary_class": pl.Utf8,
            "rest_class": pl.Utf8,
            "ignore_reason": pl.Utf8,
            "n": pl.Int64,
            "amount_c": pl.Int64,
            "auto_c": pl.Int64,
            "manual_c": pl.Int64,
            "unapplied_c": pl.Int64,
            "rest_c": pl.Int64,
        },
    )


def window_filter(start: date, end: date, account_ids: list[int] | None = None) -> Select[Any]:
    """SQL: ids of transactions booked from ``start`` to ``end`` (on the given accounts)."""
    stmt = select(BankTransaction.id).where(BankTransaction.booking_date >= start, BankTransaction.booking_date <= end)
    if account_ids is not None:
        stmt = stmt.where(BankTransaction.account_id.in_(account_ids))
    return stmt


# --- the queue at a moment --------------------------------------------------------------------------------


def queue_summary(conn: Connection, at: datetime, age_edges: list[int]) -> pl.DataFrame:
    """The queue open at ``at`` summed in SQL per reason, currency and age bucket.

    ``age_edges`` are the buckets' upper bounds in whole days since the item
    was opened (bucket ``i`` holds ages up to ``age_edges[i]``, the last
    bucket everything older).  Columns: reason, currency, bucket, n,
    amount_c, oldest (when the oldest item was opened, UTC).
    """
    bucket = case(
        *[(QueueItem.created_at > at - timedelta(days=edge + 1), literal_column(str(i))) for i, edge in enumerate(age_edges)],
        else_=literal_column(str(len(age_edges))),
    )
    inner = (
        select(
            QueueItem.reason.label("reason"),
            BankTransaction.currency.label("currency"),
            bucket.label("bucket"),
            cents_of(BankTransaction.amount).label("amount_c"),
            QueueItem.created_at.label("created_at"),
        )
        .join(BankTransaction, BankTransaction.id == QueueItem.transaction_id)
        .where(queue_open_at(at))
        .subquery("open_queue")
    )
    q = inner.c
    rows = conn.execute(
        select(q.reason, q.currency, q.bucket, func.count(), func.sum(q.amount_c), func.min(q.created_at)).group_by(
            q.reason, q.currency, q.bucket
        )
    )
    return _frame(
        [(r[0], r[1], int(r[2]), r[3], r[4], _utc(r[5])) for r in rows],
        {
            "reason": pl.Utf8,
            "currency": pl.Utf8,
            "bucket": pl.Int64,
            "n": pl.Int64,
            "amount_c": pl.Int64,
            "oldest": pl.Datetime("us", "UTC"),
        },
    )


# --- invoices at a moment ----------------------------------------------------------------------------


def invoice_settlements_query(
    at_times: dict[str, datetime], *, pending: Pending, issued_by: date | None = None,
    flows: tuple[datetime, datetime] | None = None,
) -> Subquery:
    """SQL: per invoice (not cancelled; issued by ``issued_by``): amount, recon's open amount now, and
    what recon's postings closed now and at each moment of ``at_times``.

    Columns: invoice_id, customer_id, currency, issue_date, due_date,
    amount_c, open_c, now_c, ``settled_<name>_c`` and ``open_<name>_c`` (the
    open amount at that moment) per moment.  With ``flows=(t0, t1)`` also the
    postings in (t0, t1]: cash_in_c, adj_discount_c, adj_bank_charges_c,
    adj_write_off_c, reversed_c.
    """
    closes = cents_of(Allocation.amount) + cents_of(Allocation.adjustment_amount)
    cols: list[Any] = [Allocation.invoice_id, _sum_if(Allocation.status == "posted", closes).label("now_c")]
    for name, at in at_times.items():
        cols.append(_sum_if(allocation_active_at(at, pending), closes).label(f"settled_{name}_c"))
    if flows is not None:
        t0, t1 = flows
        posted_at = allocation_posted_at(pending)
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
    agg = select(*cols).group_by(Allocation.invoice_id).subquery("settled")
    value_cols = [c for c in agg.c if c.name != "invoice_id"]
    inv_filter = [Invoice.status != "cancelled"]
    if issued_by is not None:
        inv_filter.append(Invoice.issue_date <= issued_by)
    now_c = func.coalesce(agg.c.now_c, _zero())
    open_c = cents_of(Invoice.open_amount)
    return (
        select(
            Invoice.invoice_id.label("invoice_id"),
            Invoice.customer_id.label("customer_id"),
            Invoice.currency.label("currency"),
            Invoice.issue_date.label("issue_date"),
            Invoice.due_date.label("due_date"),
            cents_of(Invoice.amount).label("amount_c"),
            open_c.label("open_c"),
            *[func.coalesce(c, _zero()).label(c.name) for c in value_cols],
            *[
                (open_c + now_c - func.coalesce(agg.c[f"settled_{name}_c"], _zero())).label(f"open_{name}_c")
                for name in at_times
            ],
        )
        .outerjoin(agg, agg.c.invoice_id == Invoice.invoice_id)
        .where(*inv_filter)
        .subquery("invoice_settlements")
    )


def invoice_settlements(
    conn: Connection, at_times: dict[str, datetime], *, pending: Pending, issued_by: date | None = None,
    flows: tuple[datetime, datetime] | None = None,
) -> pl.DataFrame:
    """:func:`invoice_settlements_query` read into polars, a row per invoice."""
    q = invoice_settlements_query(at_times, pending=pending, issued_by=issued_by, flows=flows)
    schema: dict[str, Any] = {}
    for c in q.c:
        if c.name in ("invoice_id", "customer_id", "currency"):
            schema[c.name] = pl.Utf8
        elif c.name in ("issue_date", "due_date"):
            schema[c.name] = pl.Date
        else:
            schema[c.name] = pl.Int64
    return _frame(conn.execute(select(q)), schema)


def book_groups(conn: Connection, start: date, end: date, t0: datetime, t1: datetime, pending: Pending) -> pl.DataFrame:
    """The receivables roll-forward inputs summed in SQL per currency and whether issued before ``start``.

    Columns: currency, before (1: issued before the period), n, and the sums of
    amount_c, open_c, now_c, settled_start_c, settled_end_c, open_start_c,
    open_end_c, cash_in_c, adj_discount_c, adj_bank_charges_c,
    adj_write_off_c, reversed_c (see :func:`invoice_settlements_query`).
    """
    q = invoice_settlements_query({"start": t0, "end": t1}, pending=pending, issued_by=end, flows=(t0, t1))
    flagged = select(
        q, case((q.c.issue_date < start, literal_column("1")), else_=_zero()).label("before")
    ).subquery("flagged")
    f = flagged.c
    sums = (
        "amount_c", "open_c", "now_c", "settled_start_c", "settled_end_c", "open_start_c", "open_end_c", "cash_in_c",
        "adj_discount_c", "adj_bank_charges_c", "adj_write_off_c", "reversed_c",
    )
    rows = conn.execute(
        select(f.currency, f.before, func.count(), *[func.sum(f[name]) for name in sums]).group_by(f.currency, f.before)
    )
    schema: dict[str, Any] = {"currency": pl.Utf8, "before": pl.Int64, "n": pl.Int64}
    schema.update({name: pl.Int64 for name in sums})
    return _frame(rows, schema)


# Aging buckets by days past due: key and the highest number of days past due it holds (None: no limit).
AGING_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("current", 0), ("d1_30", 30), ("d31_60", 60), ("d61_90", 90), ("over_90", None),
)


def aging_groups(conn: Connection, day: date, at: datetime, pending: Pending) -> pl.DataFrame:
    """Open invoices (issued by ``day``, open at ``at``) summed in SQL per customer, currency and bucket.

    Columns: customer_id, currency, bucket (a key of :data:`AGING_BUCKETS`),
    n, open_c, oldest_due (the earliest due date in the group).
    """
    q = invoice_settlements_query({"at": at}, pending=pending, issued_by=day)
    # days past due = day - due_date; "at most k days" is "due on or after day - k"
    bucket = case(
        *[
            (q.c.due_date >= day - timedelta(days=limit), _text(key))
            for key, limit in AGING_BUCKETS
            if limit is not None
        ],
        else_=_text(AGING_BUCKETS[-1][0]),
    )
    inner = (
        select(q.c.customer_id, q.c.currency, q.c.due_date, q.c.open_at_c, bucket.label("bucket"))
        .where(q.c.open_at_c != 0)
        .subquery("aged")
    )
    a = inner.c
    rows = conn.execute(
        select(a.customer_id, a.currency, a.bucket, func.count(), func.sum(a.open_at_c), func.min(a.due_date)).group_by(
            a.customer_id, a.currency, a.bucket
        )
    )
    return _frame(
        rows,
        {
            "customer_id": pl.Utf8,
            "currency": pl.Utf8,
            "bucket": pl.Utf8,
            "n": pl.Int64,
            "open_c": pl.Int64,
            "oldest_due": pl.Date,
        },
    )


def open_items_at(conn: Connection, day: date, at: datetime, pending: Pending) -> pl.DataFrame:
    """Invoices issued by ``day`` with something open at ``at``: invoice_id, customer_id, currency,
    issue_date, due_date, amount_c, open_at_c, days_past_due (as of ``day``)."""
    q = invoice_settlements_query({"at": at}, pending=pending, issued_by=day)
    rows = conn.execute(
        select(
            q.c.invoice_id, q.c.customer_id, q.c.currency, q.c.issue_date, q.c.due_date, q.c.amount_c, q.c.open_at_c
        ).where(q.c.open_at_c != 0)
    )
    df = _frame(
        rows,
        {
            "invoice_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "currency": pl.Utf8,
            "issue_date": pl.Date,
            "due_date": pl.Date,
            "amount_c": pl.Int64,
            "open_at_c": pl.Int64,
        },
    )
    return df.with_columns((pl.lit(day) - pl.col("due_date")).dt.total_days().cast(pl.Int64).alias("days_past_due"))


def unapplied_at(conn: Connection, at: datetime, pending: Pending) -> pl.DataFrame:
    """Unapplied cash per customer and currency that existed at ``at`` (each payment's capped at what
    its allocations at ``at`` leave over): customer_id, currency, unapplied_c, payments."""
    txns = select(UnappliedCash.transaction_id)
    per = (
        select(
            UnappliedCash.transaction_id.label("transaction_id"),
            UnappliedCash.customer_id.label("customer_id"),
            func.sum(cents_of(UnappliedCash.amount)).label("unapplied_c"),
        )
        .where(unapplied_active_at(at))
        .group_by(UnappliedCash.transaction_id, UnappliedCash.customer_id)
        .subquery("per_payment")
    )
    alloc = allocations_by_transaction(at, txns, pending)
    room = _positive(cents_of(BankTransaction.amount) - func.coalesce(alloc.c.auto_c, _zero()) - func.coalesce(alloc.c.manual_c, _zero()))
    capped = (
        select(
            per.c.customer_id.label("customer_id"),
            BankTransaction.currency.label("currency"),
            _least(per.c.unapplied_c, room).label("unapplied_c"),
        )
        .select_from(per)
        .join(BankTransaction, BankTransaction.id == per.c.transaction_id)
        .outerjoin(alloc, alloc.c.transaction_id == per.c.transaction_id)
        .subquery("capped")
    )
    c = capped.c
    rows = conn.execute(
        select(c.customer_id, c.currency, func.sum(c.unapplied_c), func.count())
        .where(c.unapplied_c > 0)
        .group_by(c.customer_id, c.currency)
        .order_by(c.customer_id, c.currency)
    )
    return _frame(rows, {"customer_id": pl.Utf8, "currency": pl.Utf8, "unapplied_c": pl.Int64, "payments": pl.Int64})


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
