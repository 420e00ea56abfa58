"""The allocations export (``recon export allocations``): what the ERP or an accountant imports.

Exactly the contract's columns, in its order (``COLUMNS``).  Rows, oldest
booking first:

* one per current allocation: ``posted`` when it is booked (automatically or
  by a person); an allocation whose adjustment waits for a second person's
  approval (four eyes) is not booked yet and shows as ``suggested`` with
  reason ``pending-approval``.  Reversed allocations (undone by ``recon
  unmatch``) are not current and do not appear; the audit trail keeps them.
* one per invoice line of every suggestion of an open queue item (all ranks;
  a suggestion of several invoices gives several rows), status
  ``suggested``, with the matcher's confidence and reason.  Rows of different
  ranks are alternatives, so never sum suggested amounts.
* one with an empty ``invoice_id`` and ``allocated_amount`` 0 for each credit
  transaction with no allocation and no suggestion: ``unmatched`` (queued
  without a suggestion: reason is the queue's reason code, e.g.
  ``no-candidate``, ``reversed``; or not matched yet: ``not-matched-yet``),
  ``ignored`` (set aside: reason is the rule's code, or ``dismissed`` when a
  person dismissed it), or ``posted`` with reason ``on-account`` (the whole
  payment is unapplied cash on a customer's account).

Debits never appear (they are not customer payments).  Money is exact
(``1234.50``), confidence a decimal between 0 and 1.

Spreadsheet safety: in CSV and XLSX a text cell that starts with ``=``,
``+``, ``-``, ``@`` (or a tab or carriage return) is prefixed with ``'`` so a
spreadsheet shows it instead of running it; numeric columns (amounts,
confidence, the date) are never touched, so ``-100.00`` stays a number.
JSON carries the values unchanged (a program reads it, not a spreadsheet).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from ledger.models import (
    Allocation,
    AuditEntry,
    BankAccount,
    BankTransaction,
    QueueItem,
    Suggestion,
    UnappliedCash,
)

COLUMNS = (
    "bank_reference",
    "account",
    "booking_date",
    "transaction_amount",
    "currency",
    "invoice_id",
    "allocated_amount",
    "status",
    "confidence",
    "reason",
    "adjustment_amount",
    "adjustment_reason",
)
TEXT_COLUMNS = frozenset(
    {"bank_reference", "account", "currency", "invoice_id", "status", "reason", "adjustment_reason"}
)
MONEY_COLUMNS = frozenset({"transaction_amount", "allocated_amount", "adjustment_amount"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ZERO = Decimal("0.00")


def neutralise(value: str) -> str:
    """A text cell a spreadsheet will show, never evaluate: ``=SUM(A1)`` becomes ``'=SUM(A1)``."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _active_allocation(txn_id: Any) -> Any:
    return exists().where(Allocation.transaction_id == txn_id, Allocation.status != "reversed")


def _open_suggestion(txn_id: Any) -> Any:
    return exists().where(
        QueueItem.transaction_id == txn_id, QueueItem.status == "open", Suggestion.queue_item_id == QueueItem.id
    )


def _query(since: date | None, until: date | None) -> Any:
    t = BankTransaction
    base = [t.amount > 0]
    if since is not None:
        base.append(t.booking_date >= since)
    if until is not None:
        base.append(t.booking_date <= until)

    allocations = (
        select(
            t.bank_reference.label("bank_reference"),
            BankAccount.account.label("account"),
            t.booking_date.label("booking_date"),
            t.amount.label("transaction_amount"),
            t.currency.label("currency"),
            Allocation.invoice_id.label("invoice_id"),
            Allocation.amount.label("allocated_amount"),
            case((Allocation.status == "posted", literal("posted")), else_=literal("suggested")).label("status"),
            Allocation.confidence.label("confidence"),
            case((Allocation.status == "pending_approval", literal("pending-approval")),
                 else_=Allocation.reason).label("reason"),
            Allocation.adjustment_amount.label("adjustment_amount"),
            Allocation.adjustment_reason.label("adjustment_reason"),
            t.id.label("k_txn"),
            literal(0).label("k_kind"),
            literal(0).label("k_rank"),
            Allocation.id.label("k_line"),
        )
        .join(t, t.id == Allocation.transaction_id)
        .join(BankAccount, BankAccount.id == t.account_id)
        .where(Allocation.status != "reversed", *base)
    )

    suggestions = (
        select(
            t.bank_reference, BankAccount.account, t.booking_date, t.amount, t.currency,
            Suggestion.invoice_id, Suggestion.amount, literal("suggested"), Suggestion.confidence, Suggestion.reason,
            Suggestion.adjustment_amount, Suggestion.adjustment_reason,
            t.id, literal(1), Suggestion.rank, Suggestion.id,
        )
        .select_from(Suggestion)
        .join(QueueItem, QueueItem.id == Suggestion.queue_item_id)
        .join(t, t.id == QueueItem.transaction_id)
        .join(BankAccount, BankAccount.id == t.account_id)
        .where(QueueItem.status == "open", ~_active_allocation(t.id), *base)
    )

    item = select(QueueItem.reason).where(QueueItem.transaction_id == t.id, QueueItem.status == "open")
    last_set_aside = (
        select(AuditEntry.action)
        .where(AuditEntry.transaction_id == t.id, AuditEntry.action.in_(("ignore", "dismiss")))
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    on_account = select(UnappliedCash.reason).where(
        UnappliedCash.transaction_id == t.id, UnappliedCash.status == "open"
    ).limit(1)
    unallocated = (
        select(
            t.bank_reference, BankAccount.account, t.booking_date, t.amount, t.currency,
            cast(null(), String), literal(ZERO),
            case(
                (t.status == "ignored", literal("ignored")),
                (t.status == "posted", literal("posted")),
                else_=literal("unmatched"),
            ),
            case((t.status == "posted", literal(Decimal("1"))), else_=literal(Decimal("0"))),
            case(
                (and_(t.status == "ignored", last_set_aside.scalar_subquery() == "dismiss"), literal("dismissed")),
                (t.status == "ignored", func.coalesce(t.ignore_reason, literal("ignored"))),
                (t.status == "posted", func.coalesce(on_account.scalar_subquery(), literal("on-account"))),
                (t.status == "queued", func.coalesce(item.scalar_subquery(), literal("queued"))),
                else_=literal("not-matched-yet"),
            ),
            literal(ZERO), cast(null(), String),
            t.id, literal(2), literal(0), literal(0),
        )
        .select_from(t)
        .join(BankAccount, BankAccount.id == t.account_id)
        .where(~_active_allocation(t.id), ~_open_suggestion(t.id), *base)
    )
    union = union_all(allocations, suggestions, unallocated).subquery()
    return select(union).order_by(
        union.c.booking_date, union.c.k_txn, union.c.k_kind, union.c.k_rank, union.c.k_line
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


def _confidence(value: Any) -> Decimal:
    d = Decimal(str(value if value is not None else 0))
    d = d.normalize()
    return d.quantize(Decimal("1")) if d == d.to_integral() else d


def allocation_rows(session: Session, *, since: date | None = None, until: date | None = None) -> Iterator[dict[str, Any]]:
    """The export's rows as dicts of typed values (Decimal money, date), in the contract's column order."""
    result = session.execute(_query(since, until).execution_options(yield_per=5000))
    for row in result:
        m = row._mapping
        yield {
            "bank_reference": m["bank_reference"] or "",
            "account": m["account"] or "",
            "booking_date": m["booking_date"],
            "transaction_amount": _money(m["transaction_amount"]),
            "currency": m["currency"] or "",
            "invoice_id": m["invoice_id"] or "",
            "allocated_amount": _money(m["allocated_amount"]),
            "status": m["status"],
            "confidence": _confidence(m["confidence"]),
            "reason": m["reason"] or "",
            "adjustment_amount": _money(m["adjustment_amount"]),
            "adjustment_reason": m["adjustment_reason"] or "",
        }


def _cell_text(column: str, value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    text = "" if value is None else str(value)
    return neutralise(text) if column in TEXT_COLUMNS else text


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write the header and the rows as CSV (UTF-8 text, comma, ``\\n``); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([_cell_text(c, row[c]) for c in COLUMNS])
        n += 1
    return n


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write one JSON array of objects (money and confidence as exact strings); returns the number of rows."""
    out.write("[")
    n = 0
    for row in rows:
        out.write(",\n  " if n else "\n  ")
        out.write(json.dumps(
            {c: (f"{v:f}" if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v)
             for c, v in ((c, row[c]) for c in COLUMNS)},
            ensure_ascii=False,
        ))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def write_xlsx(rows: Iterable[dict[str, Any]], out: IO[bytes] | str) -> int:
    """Write an XLSX workbook (one sheet, header frozen, filters on) for accountants; returns the number of rows.

    Amounts are numbers with two decimals, the booking date a date, text
    cells strings (neutralised as in CSV and typed as text, never formulas).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("allocations")
    widths = {"bank_reference": 24, "account": 26, "booking_date": 12, "invoice_id": 18, "reason": 20,
              "adjustment_reason": 16}
    for i, col in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(col, 14)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for col in COLUMNS:
        cell = WriteOnlyCell(ws, value=col)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    n = 0
    for row in rows:
        cells = []
        for col in COLUMNS:
            value = row[col]
            if col in TEXT_COLUMNS:
                cell = WriteOnlyCell(ws, value=neutralise(str(value or "")))
                cell.data_type = "s"  # openpyxl would otherwise read a leading '=' as a formula
            else:
                cell = WriteOnlyCell(ws, value=value)
                if col in MONEY_COLUMNS:
                    cell.number_format = "#,##0.00"
                elif col == "booking_date":
                    cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        ws.append(cells)
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{n + 1}"
    wb.save(out)
    return n
