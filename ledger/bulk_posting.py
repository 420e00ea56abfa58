"""Posting in bulk: the rows :mod:`ledger.posting` writes, for thousands of decisions at once.

``recon match`` decides about up to millions of transactions per run; posting
them one by one through the ORM (a flush and several statements per
decision) would take hours.  :func:`write_chunk` writes the same rows for a
chunk of decisions with a few Core ``executemany`` statements: allocations,
unapplied cash, queue items, suggestions, audit entries, and the updates of
transactions and invoices.  A chunk is one database transaction, all or
nothing; the caller commits it.

It is not a second set of rules: every check that :func:`ledger.posting.post`,
:func:`~ledger.posting.enqueue` and :func:`~ledger.posting.ignore` make is
made here too (from the same helpers where they exist), and the tests compare
the database state this module leaves with the one the ORM functions leave for
the same decisions.  Guards catch a change made by someone else meanwhile:
a transaction is only updated while it is still ``new`` and an invoice only
while its open amount is still the one the decisions were made on; otherwise
:class:`~ledger.posting.PostingError` rolls the chunk back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select

from ledger.models import (
    Allocation,
    AuditEntry,
    Invoice,
    QueueItem,
    Suggestion,
    UnappliedCash,
    utcnow,
)
from ledger.posting import (
    ADJUSTMENT_REASONS,
    ZERO,
    AllocationLine,
    PostingError,
    SuggestionGroup,
    money,
)

PENDING_DETAIL = "an adjustment above the four-eyes limit waits for a second person's approval"


@dataclass(slots=True)
class TxnState:
    """What the decision needs of a transaction: its amount and the state it is in now."""

    id: int
    amount: Decimal
    currency: str | None
    status: str = "new"
    customer_id: str | None = None
    ignore_reason: str | None = None

    def state(self) -> RawJSON:
        """``ledger.posting.transaction_state`` as the JSON the audit stores (built directly: it is
        written twice per decision, a million times per large run)."""
        return RawJSON(f'{{"status": "{self.status}", "customer_id": {_jstr(self.customer_id)}, '
                       f'"ignore_reason": {_jstr(self.ignore_reason)}}}')


@dataclass(slots=True)
class InvoiceState:
    """An invoice as the chunk starts from; the writer updates it as decisions apply."""

    amount: Decimal
    open: Decimal
    currency: str | None
    status: str = "open"

    def state(self) -> RawJSON:
        """``ledger.posting.invoice_state`` as the JSON the audit stores."""
        return RawJSON(f'{{"open_amount": "{self.open}", "status": "{self.status}"}}')


@dataclass(slots=True)
class BulkPost:
    """As :func:`ledger.posting.post` with ``automatic=True``."""

    txn: TxnState
    lines: list[AllocationLine]
    reason: str
    confidence: Decimal
    evidence: dict[str, Any] | None = None
    customer_id: str | None = None
    remainder: str = "error"


@dataclass(slots=True)
class BulkQueue:
    """As :func:`ledger.posting.enqueue`."""

    txn: TxnState
    reason: str
    detail: str | None = None
    suggestions: Sequence[SuggestionGroup] = ()
    customer_id: str | None = None


@dataclass(slots=True)
class BulkIgnore:
    """As :func:`ledger.posting.ignore` with ``automatic=True``."""

    txn: TxnState
    reason: str


BulkDecision = BulkPost | BulkQueue | BulkIgnore


@dataclass(slots=True)
class ChunkResult:
    """What one chunk wrote."""

    posted: int = 0
    pending: int = 0
    queued: int = 0
    ignored: int = 0
    allocations: int = 0
    posted_amount: Decimal = ZERO
    queue_reasons: dict[str, int] = field(default_factory=dict)
    ignore_reasons: dict[str, int] = field(default_factory=dict)


def _status_of(inv: InvoiceState) -> str:
    if inv.status == "cancelled":
        return "cancelled"
    if inv.open <= ZERO:
        return "paid"
    if inv.open < inv.amount:
        return "partly_paid"
    return "open"


def _validate(d: BulkPost, invoices: dict[str, InvoiceState], unapplied: Decimal) -> None:
    """The checks of ``ledger.posting._validate_lines`` on the chunk's running invoice state."""
    txn = d.txn
    if txn.amount <= ZERO:
        raise PostingError(f"transaction {txn.id} is a debit ({txn.amount}); only incoming payments settle invoices")
    seen: set[str] = set()
    for line in d.lines:
        if line.invoice_id in seen:
            raise PostingError(f"invoice {line.invoice_id} is named twice in one posting")
        seen.add(line.invoice_id)
        inv = invoices.get(line.invoice_id)
        if inv is None:
            raise PostingError(f"unknown invoice {line.invoice_id}")
        if line.amount < ZERO or line.adjustment_amount < ZERO:
            raise PostingError(f"invoice {line.invoice_id}: amounts must not be negative")
        if line.amount + line.adjustment_amount <= ZERO:
            raise PostingError(f"invoice {line.invoice_id}: nothing to allocate")
        if line.adjustment_amount > ZERO and line.adjustment_reason not in ADJUSTMENT_REASONS:
            raise PostingError(f"invoice {line.invoice_id}: an adjustment needs a reason")
        if inv.status == "cancelled":
            raise PostingError(f"invoice {line.invoice_id} is cancelled")
        if txn.currency and inv.currency and txn.currency != inv.currency:
            raise PostingError(f"invoice {line.invoice_id} is in {inv.currency}, the payment in {txn.currency}")
        if line.amount + line.adjustment_amount > inv.open:
            raise PostingError(
                f"invoice {line.invoice_id} has {inv.open} open; cannot allocate {line.amount + line.adjustment_amount}"
            )
    total = sum((ln.amount for ln in d.lines), ZERO) + unapplied
    if total > txn.amount:
        raise PostingError(f"allocations of {total} exceed the payment of {txn.amount}")


def write_chunk(
    conn: Connection,
    decisions: Sequence[BulkDecision],
    invoices: dict[str, InvoiceState],
    *,
    actor: str,
    job_run_id: int | None = None,
    approval_limit: Decimal | None = None,
) -> ChunkResult:
    """Write ``decisions`` (in order) inside the caller's database transaction.

    ``invoices`` holds the state, at the start of the chunk, of every invoice
    the decisions touch; it is updated in place.  Raises
    :class:`~ledger.posting.PostingError` when a decision breaks an invariant or
    the database changed under the chunk (the caller rolls back).
    """
    result = ChunkResult()
    if not decisions:
        return result
    when = utcnow()
    # the timestamp as the driver takes it, converted once (every row of the chunk carries it)
    now = _driver_value(conn, AuditEntry.__table__.c.at, when)
    txn_ids = [d.txn.id for d in decisions]
    if len(set(txn_ids)) != len(txn_ids):
        raise PostingError("a transaction is decided twice in one chunk")
    open_items = set(
        conn.execute(
            select(QueueItem.transaction_id).where(
                QueueItem.transaction_id.in_(txn_ids), QueueItem.status == "open"
            )
        ).scalars()
    )
    if open_items:
        raise PostingError(f"transaction(s) {sorted(open_items)[:5]} already wait in the queue")
    start_open = {k: v.open for k, v in invoices.items()}

    alloc_rows: list[dict[str, Any]] = []
    cash_rows: list[dict[str, Any]] = []
    queue_rows: list[dict[str, Any]] = []
    queue_suggestions: list[list[dict[str, Any]]] = []
    audit_rows: list[dict[str, Any]] = []  # in the order the ORM functions would write them
    txn_updates: list[dict[str, Any]] = []

    for d in decisions:
        settled = ZERO
        txn = d.txn
        if txn.status != "new":
            raise PostingError(f"transaction {txn.id} is {txn.status}, not new")
        before_txn = txn.state()
        if isinstance(d, BulkIgnore):
            txn.status = "ignored"
            txn.ignore_reason = d.reason[:100]
            audit_rows.append(_audit(now, actor, "ignore", txn.id, None, "transaction", str(txn.id), before_txn,
                                     txn.state(), {"reason": d.reason, "automatic": True}, job_run_id))
            result.ignored += 1
            result.ignore_reasons[d.reason] = result.ignore_reasons.get(d.reason, 0) + 1
        elif isinstance(d, BulkQueue):
            q = len(queue_rows)
            queue_rows.append({
                "transaction_id": txn.id, "reason": d.reason, "detail": d.detail, "customer_id": d.customer_id,
                "status": "open", "created_at": now, "created_by": actor, "job_run_id": job_run_id,
            })
            sugg = []
            for rank, group in enumerate(d.suggestions, start=1):
                group_json = _json(group.evidence)
                for line in group.lines:
                    adj = money(line.adjustment_amount)
                    sugg.append({
                        "rank": rank, "invoice_id": line.invoice_id, "amount": money(line.amount),
                        "adjustment_amount": adj,
                        "adjustment_reason": line.adjustment_reason if adj > ZERO else None,
                        "confidence": group.confidence, "reason": group.reason, "evidence": group_json,
                    })
            queue_suggestions.append(sugg)
            txn.status = "queued"
            if d.customer_id:
                txn.customer_id = d.customer_id
            row = _audit(now, actor, "queue", txn.id, None, "queue_item", None, before_txn, txn.state(), {
                "reason": d.reason,
                "detail": d.detail,
                "suggestions": [
                    {"rank": r, "invoices": [ln.invoice_id for ln in g.lines], "confidence": g.confidence,
                     "reason": g.reason}
                    for r, g in enumerate(d.suggestions, start=1)
                ],
            }, job_run_id)
            row["_queue"] = q
            audit_rows.append(row)
            result.queued += 1
            result.queue_reasons[d.reason] = result.queue_reasons.get(d.reason, 0) + 1
        else:
            lines = [
                AllocationLine(ln.invoice_id, money(ln.amount), money(ln.adjustment_amount), ln.adjustment_reason or None)
                for ln in d.lines
            ]
            d.lines = lines
            allocated = sum((ln.amount for ln in lines), ZERO)
            left = money(txn.amount - allocated)
            unapplied = ZERO
            if left > ZERO:
                if d.remainder != "unapplied":
                    raise PostingError(f"the allocations leave {left} of the payment of {txn.amount} unallocated")
                unapplied = left
            _validate(d, invoices, unapplied)
            payer = d.customer_id or (_customer_of(conn, lines[0].invoice_id) if lines else None)
            if unapplied > ZERO and payer is None:
                raise PostingError("unapplied cash needs a customer")
            pending = False
            evidence = _json(d.evidence)
            for line in lines:
                inv = invoices[line.invoice_id]
                needs_approval = approval_limit is not None and line.adjustment_amount > approval_limit
                pending = pending or needs_approval
                before_inv = inv.state()
                adj_reason = line.adjustment_reason if line.adjustment_amount > ZERO else None
                alloc_rows.append({
                    "transaction_id": txn.id, "invoice_id": line.invoice_id, "amount": line.amount,
                    "adjustment_amount": line.adjustment_amount, "adjustment_reason": adj_reason,
                    "status": "pending_approval" if needs_approval else "posted", "confidence": d.confidence,
                    "reason": d.reason, "evidence": evidence, "automatic": True, "decided_by": actor,
                    "decided_at": now, "job_run_id": job_run_id,
                })
                if not needs_approval:
                    inv.open = money(inv.open - line.amount - line.adjustment_amount)
                    inv.status = _status_of(inv)
                row = _audit(now, actor, "post-pending" if needs_approval else "post", txn.id, line.invoice_id,
                             "allocation", None, before_inv, inv.state(),
                             _post_detail(line.amount, line.adjustment_amount, adj_reason, d.reason, d.confidence,
                                          evidence), job_run_id)
                row["_alloc"] = len(alloc_rows) - 1
                audit_rows.append(row)
                result.allocations += 1
            if unapplied > ZERO:
                cash_rows.append({
                    "transaction_id": txn.id, "customer_id": payer, "amount": unapplied, "currency": txn.currency,
                    "status": "open", "reason": "overpayment" if lines else "on-account", "created_by": actor,
                    "created_at": now,
                })
                row = _audit(now, actor, "unapplied", txn.id, None, "unapplied_cash", None, None,
                             {"customer_id": payer, "amount": unapplied,
                              "reason": "overpayment" if lines else "on-account"}, None, job_run_id)
                row["_cash"] = len(cash_rows) - 1
                audit_rows.append(row)
            txn.customer_id = payer or txn.customer_id
            settled = money(allocated + unapplied)  # a new transaction had nothing settled before
            if pending:
                txn.status = "queued"
                queue_rows.append({
                    "transaction_id": txn.id, "reason": "pending-approval", "detail": PENDING_DETAIL,
                    "customer_id": payer, "status": "open", "created_at": now, "created_by": actor,
                    "job_run_id": job_run_id,
                })
                queue_suggestions.append([])
                result.pending += 1
                result.queue_reasons["pending-approval"] = result.queue_reasons.get("pending-approval", 0) + 1
            else:
                txn.status = "posted"
                result.posted += 1
                result.posted_amount += txn.amount
            audit_rows.append(_audit(now, actor, "transaction-" + ("pending" if pending else "posted"), txn.id, None,
                                     "transaction", str(txn.id), before_txn, txn.state(), None, job_run_id))
        txn_updates.append({
            "b_id": txn.id, "b_status": txn.status, "b_customer_id": txn.customer_id,
            "b_ignore_reason": txn.ignore_reason, "b_settled": settled,
        })

    # --- write ----------------------------------------------------------------------------------
    writer = _Writer(conn)
    changed = writer.update_transactions(txn_updates)
    if changed != len(txn_updates):
        raise PostingError("transactions changed while recon matched them (someone decided meanwhile); run it again")
    # timestamps are converted already, JSON columns hold JSON text (RawJSON) or None
    alloc_ids = writer.insert(Allocation.__table__, alloc_rows, ready=("decided_at", "evidence"))
    cash_ids = writer.insert(UnappliedCash.__table__, cash_rows, ready=("created_at",))
    queue_ids = writer.insert(QueueItem.__table__, queue_rows, ready=("created_at",))
    sugg_rows = [{**sg, "queue_item_id": queue_ids[q]} for q, rows in enumerate(queue_suggestions) for sg in rows]
    writer.insert(Suggestion.__table__, sugg_rows, ids=False, ready=("evidence",))
    touched = [k for k, v in invoices.items() if v.open != start_open[k]]
    if touched:
        changed = writer.update_invoices(
            [(k, start_open[k], invoices[k].open, invoices[k].status, when) for k in touched]
        )
        if changed != len(touched):
            raise PostingError("invoices changed while recon matched (someone posted meanwhile); run it again")
    for row in audit_rows:
        if "_alloc" in row:
            row["entity_id"] = str(alloc_ids[row.pop("_alloc")])
        elif "_cash" in row:
            row["entity_id"] = str(cash_ids[row.pop("_cash")])
        elif "_queue" in row:
            row["entity_id"] = str(queue_ids[row.pop("_queue")])
    writer.insert(AuditEntry.__table__, audit_rows, ids=False, ready=("at", "before", "after", "detail"))
    return result


class _Writer:
    """Rows straight to the driver: ``executemany`` of tuples on SQLite, ``COPY`` on PostgreSQL.

    Values pass through the same SQLAlchemy type processors the ORM would apply
    (money as the dialect stores it, JSON serialised, timestamps formatted), so
    the stored rows are the ORM's; only the per-row statement machinery is
    skipped.  Ids are reserved before the insert (PostgreSQL: the sequence;
    SQLite: above the current maximum, safe because SQLite admits one writer and
    this transaction already holds the write lock), so audit entries can name
    the rows they describe.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.pg = conn.dialect.name == "postgresql"
        self.ph = "%s" if self.pg else "?"

    def _processors(self, table: Any, cols: list[str]) -> list[Any]:
        out = []
        for name in cols:
            proc = table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)
            out.append(proc)
        return out

    def _reserve(self, table: Any, n: int) -> list[int]:
        if self.pg:
            seq = self.conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table.name}', 'id')").scalar()
            rows = self.conn.exec_driver_sql(f"SELECT nextval('{seq}') FROM generate_series(1, {int(n)})").fetchall()
            return [r[0] for r in rows]
        top = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table.name}").scalar() or 0
        return list(range(top + 1, top + 1 + n))

    def insert(self, table: Any, rows: list[dict[str, Any]], *, ids: bool = True,
               ready: Sequence[str] = ()) -> list[int]:
        """Insert ``rows`` (dicts with the same keys); returns their ids when ``ids``.  Columns in
        ``ready`` hold driver values already (no type processing)."""
        if not rows:
            return []
        keys = list(rows[0].keys())
        new_ids: list[int] = self._reserve(table, len(rows)) if ids else []
        cols = ["id", *keys] if ids else keys
        procs = [None if c in ready else p for c, p in zip(keys, self._processors(table, keys), strict=True)]
        get = itemgetter(*keys)
        raw = list(map(get, rows)) if len(keys) > 1 else [(v,) for v in map(get, rows)]
        data: list[tuple[Any, ...]]
        if all(p is None for p in procs):
            data = raw if not ids else [(i, *r) for i, r in zip(new_ids, raw, strict=True)]
        else:
            # column by column (transposed in C); a column without a processor is taken as it is
            columns: list[Sequence[Any]] = [new_ids] if ids else []
            for values, p in zip(zip(*raw, strict=True), procs, strict=True):
                if p is not None:
                    values = tuple(v if v is None or v.__class__ is RawJSON else p(v) for v in values)
                columns.append(values)
            data = list(zip(*columns, strict=True))
        col_sql = ", ".join(cols)
        if self.pg:
            cur = self.conn.connection.driver_connection.cursor()
            with cur.copy(f"COPY {table.name} ({col_sql}) FROM STDIN") as copy:
                for values in data:
                    copy.write_row(values)
        else:
            self.conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({col_sql}) VALUES ({', '.join([self.ph] * len(cols))})", data
            )
        return new_ids

    def update_transactions(self, rows: list[dict[str, Any]]) -> int:
        """Set status, payer and ignore reason of transactions still ``new``; returns how many changed."""
        data = [(r["b_status"], r["b_customer_id"], r["b_ignore_reason"], r["b_settled"], r["b_id"]) for r in rows]
        if self.pg:
            self.conn.exec_driver_sql(
                "CREATE TEMP TABLE recon_txn_update (status text, customer_id text, ignore_reason text, "
                "settled_amount numeric(18, 2), id bigint) ON COMMIT DROP"
            )
            self._copy("recon_txn_update", data)
            res = self.conn.exec_driver_sql(
                "UPDATE bank_transactions b SET status = u.status, customer_id = u.customer_id, "
                "ignore_reason = u.ignore_reason, settled_amount = u.settled_amount "
                "FROM recon_txn_update u WHERE b.id = u.id AND b.status = 'new'"
            )
            self.conn.exec_driver_sql("DROP TABLE recon_txn_update")
            return res.rowcount
        res = self.conn.exec_driver_sql(
            "UPDATE bank_transactions SET status = ?, customer_id = ?, ignore_reason = ?, settled_amount = ? "
            "WHERE id = ? AND status = 'new'",
            [(a, b, c, str(d), e) for a, b, c, d, e in data],
        )
        return res.rowcount

    def update_invoices(self, rows: list[tuple[str, Decimal, Decimal, str, Any]]) -> int:
        """Set open amount and status of invoices whose open amount is still the one decided on."""
        it = Invoice.__table__
        money_p = it.c.open_amount.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        at_p = it.c.updated_at.type.dialect_impl(self.dialect).bind_processor(self.dialect)

        def m(v: Decimal) -> Any:
            return money_p(v) if money_p else v

        data = [(m(new), status, at_p(at) if at_p else at, inv, m(before)) for inv, before, new, status, at in rows]
        if self.pg:
            self.conn.exec_driver_sql(
                "CREATE TEMP TABLE recon_inv_update (open_amount numeric(18, 2), status text, updated_at timestamptz, "
                "invoice_id text, before numeric(18, 2)) ON COMMIT DROP"
            )
            self._copy("recon_inv_update", data)
            res = self.conn.exec_driver_sql(
                "UPDATE invoices i SET open_amount = u.open_amount, status = u.status, updated_at = u.updated_at "
                "FROM recon_inv_update u WHERE i.invoice_id = u.invoice_id AND i.open_amount = u.before"
            )
            self.conn.exec_driver_sql("DROP TABLE recon_inv_update")
            return res.rowcount
        res = self.conn.exec_driver_sql(
            "UPDATE invoices SET open_amount = ?, status = ?, updated_at = ? WHERE invoice_id = ? AND open_amount = ?",
            data,
        )
        return res.rowcount

    def _copy(self, table: str, data: list[tuple[Any, ...]]) -> None:
        cur = self.conn.connection.driver_connection.cursor()
        with cur.copy(f"COPY {table} FROM STDIN") as copy:
            for values in data:
                copy.write_row(values)


class RawJSON(str):
    """A value already serialised as JSON (stored as it is, not serialised again)."""


def _json_default(value: Any) -> Any:
    """What :func:`ledger.posting._jsonable` makes of a value json cannot encode (Decimal, date)."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# The C encoder calls ``default`` only for the values it cannot encode itself, so a detail with
# Decimals inside is encoded in one pass (``json.dumps(_jsonable(value))`` walked it in Python first:
# a fifth of the writer's time).  The output is the same: same separators, same ASCII escaping.
_encode = json.JSONEncoder(default=_json_default).encode


def _json(value: Any) -> RawJSON | None:
    """``value`` as the JSON column would store it (``None`` stays SQL NULL, as the models say); a
    value already encoded (:class:`RawJSON`, see :func:`to_json`) is taken as it is."""
    if value is None or value.__class__ is RawJSON:
        return value
    return RawJSON(_encode(value))


def to_json(value: Any) -> RawJSON | None:
    """``value`` encoded as :func:`write_chunk` stores it: a caller may encode evidence beforehand
    (``recon match`` does, in the process that decides, while the writer writes)."""
    return _json(value)


def _jstr(value: str | None) -> str:
    """``json.dumps`` of a string or None; plain ASCII (ids, reason codes) without the encoder."""
    if value is None:
        return "null"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value)


def _driver_value(conn: Connection, column: Any, value: Any) -> Any:
    """``value`` as SQLAlchemy would hand it to the driver for ``column``."""
    proc = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if proc is None else proc(value)


def _jdec(value: Decimal | None) -> str:
    return "null" if value is None else f'"{value}"'


def _post_detail(amount: Decimal, adjustment: Decimal, adjustment_reason: str | None, reason: str,
                 confidence: Decimal | None, evidence: RawJSON | None) -> RawJSON:
    """The detail of a ``post`` audit entry, as ``_json`` would write it (built directly: one per
    allocation, a million per large run, and the general encoder calls back into Python for each Decimal)."""
    return RawJSON(
        f'{{"amount": {_jdec(amount)}, "adjustment_amount": {_jdec(adjustment)}, '
        f'"adjustment_reason": {_jstr(adjustment_reason)}, "reason": {_jstr(reason)}, '
        f'"confidence": {_jdec(confidence)}, "automatic": true, "evidence": {evidence or "null"}}}'
    )


def _audit(now: Any, actor: str, action: str, txn_id: int, invoice_id: str | None, entity: str,
           entity_id: str | None, before: dict[str, Any] | RawJSON | None, after: dict[str, Any] | RawJSON | None,
           detail: dict[str, Any] | RawJSON | None, job_run_id: int | None, *,
           evidence: RawJSON | None = None) -> dict[str, Any]:
    """An audit row; ``evidence`` (already JSON) is appended to ``detail`` as its last key (``detail``
    already JSON is taken as it is)."""
    detail_json = _json(detail)
    if detail is not None and detail.__class__ is not RawJSON:
        if evidence is not None:
            detail_json = RawJSON(detail_json[:-1] + ', "evidence": ' + evidence + "}")
        elif "evidence" not in detail and action in ("post", "post-pending"):
            detail_json = RawJSON(detail_json[:-1] + ', "evidence": null}')
    return {
        "at": now, "actor": actor, "action": action, "transaction_id": txn_id, "invoice_id": invoice_id,
        "entity": entity, "entity_id": entity_id,
        "before": before if before is None or before.__class__ is RawJSON else _json(before),
        "after": after if after is None or after.__class__ is RawJSON else _json(after),
        "detail": detail_json, "job_run_id": job_run_id,
    }


def _customer_of(conn: Connection, invoice_id: str) -> str | None:
    return conn.execute(select(Invoice.customer_id).where(Invoice.invoice_id == invoice_id)).scalar()
