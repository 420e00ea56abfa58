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
import io
import json
import zipfile
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
    # Core, not ORM: plain rows, streamed in batches (a year of lines never sits in memory at once)
    result = session.connection().execution_options(yield_per=5000).execute(_query(since, until))
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


# --- XLSX -------------------------------------------------------------------------------------------
# The workbook is written as its XML parts straight into the zip, one row of text at a time:
# openpyxl builds a Python object per cell and manages about 17,000 cells a second here, which
# made a month of 50,000 rows take a minute; this writes the same sheet in a few seconds and holds
# one row in memory.  The parts are the minimal SpreadsheetML package (ECMA-376 part 1): content
# types, relationships, workbook, styles (bold header, #,##0.00, yyyy-mm-dd), one worksheet with
# inline strings (never formulas), the header row frozen and an autofilter over the table.

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>'
)
# cell styles (index = s attribute): 0 plain, 1 bold header, 2 money, 3 date
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet {_NS}>'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>'
)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WIDTHS = {"bank_reference": 24, "account": 26, "booking_date": 12, "invoice_id": 18, "reason": 20,
           "adjustment_reason": 16}
_EPOCH = date(1899, 12, 30).toordinal()  # day 0 of the spreadsheet date system (1900, with its leap-year bug)
_XML_UNSAFE = {i: None for i in range(32) if i not in (9, 10, 13)}  # control characters XML cannot hold


def _xml_text(value: str) -> str:
    return value.translate(_XML_UNSAFE).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xlsx_cell(ref: str, column: str, value: Any) -> str:
    if column in TEXT_COLUMNS:
        text = neutralise("" if value is None else str(value))
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>' if text else ""
    if isinstance(value, date):
        return f'<c r="{ref}" s="3"><v>{value.toordinal() - _EPOCH}</v></c>'
    if value is None:
        return ""
    style = ' s="2"' if column in MONEY_COLUMNS else ""
    return f'<c r="{ref}"{style}><v>{Decimal(value):f}</v></c>'


def write_xlsx(rows: Iterable[dict[str, Any]], out: IO[bytes] | str) -> int:
    """Write an XLSX workbook (one sheet, header frozen, filters on) for accountants; returns the number of rows.

    Amounts are numbers with two decimals, the booking date a date, text
    cells inline strings (neutralised as in CSV; a spreadsheet never reads an
    inline string as a formula).
    """
    letters = [_LETTERS[i] for i in range(len(COLUMNS))]
    pairs = list(zip(letters, COLUMNS, strict=True))
    last = letters[-1]
    n = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            sheet = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            sheet.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
            sheet.write(f'<worksheet {_NS} {_REL_NS}><sheetViews><sheetView workbookViewId="0">'
                        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                        '</sheetView></sheetViews><cols>')
            for i, col in enumerate(COLUMNS, start=1):
                sheet.write(f'<col min="{i}" max="{i}" width="{_WIDTHS.get(col, 14)}" customWidth="1"/>')
            sheet.write('</cols><sheetData><row r="1">')
            for letter, col in pairs:
                sheet.write(f'<c r="{letter}1" t="inlineStr" s="1"><is><t>{col}</t></is></c>')
            sheet.write("</row>")
            for row in rows:
                r = n + 2
                cells = "".join(_xlsx_cell(f"{letter}{r}", col, row[col]) for letter, col in pairs)
                sheet.write(f'<row r="{r}">{cells}</row>')
                n += 1
            sheet.write(f'</sheetData><autoFilter ref="A1:{last}{n + 1}"/></worksheet>')
            sheet.flush()
            sheet.detach()
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook {_NS} {_REL_NS}><sheets><sheet name="allocations" sheetId="1" r:id="rId1"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"allocations!$A$1:${last}${n + 1}</definedName></definedNames></workbook>",
        )
    return n
