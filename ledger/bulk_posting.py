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
from typing import Any

from sqlalchemy import Connection, select

from ledger.db import json_values
from ledger.models import (
    AuditEntry,
    Invoice,
    utcnow,
)
from ledger.posting import (
    ADJUSTMENT_REASONS,
    ZERO,
    AllocationLine,
    PostingError,
    SuggestionGroup,
    money,
    needs_approval,
)
from matcher.decision import cents  # integer cents as money text, shared with the evidence

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


@dataclass(slots=True)
class InvoiceState:
    """An invoice as the chunk starts from; the writer updates it as decisions apply."""

    amount: Decimal
    open: Decimal
    currency: str | None
    status: str = "open"


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
    seconds: float = 0.0  # the writer's time on the chunk, wall and CPU (set by the caller that timed it)
    cpu_seconds: float = 0.0


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

    The decisions are converted to the plain form of :func:`write_plain` (integer
    cents, evidence as JSON text), which does the work.
    """
    plain: list[tuple[Any, ...]] = []
    initial: dict[int, tuple[str | None, str | None]] = {}
    for d in decisions:
        txn = d.txn
        if txn.status != "new":
            raise PostingError(f"transaction {txn.id} is {txn.status}, not new")
        if txn.customer_id is not None or txn.ignore_reason is not None:
            initial[txn.id] = (txn.customer_id, txn.ignore_reason)
        amount = to_cents(txn.amount)
        if isinstance(d, BulkIgnore):
            plain.append(("ignore", txn.id, amount, txn.currency, d.reason, None, None, None, [], None, "error", []))
        elif isinstance(d, BulkQueue):
            groups = [(_plain_lines(g.lines), _conf(g.confidence), g.reason, _json(g.evidence)) for g in d.suggestions]
            plain.append(("queue", txn.id, amount, txn.currency, d.reason, d.detail, d.customer_id, None, [], None,
                          "error", groups))
        else:
            plain.append(("post", txn.id, amount, txn.currency, d.reason, None, d.customer_id, _conf(d.confidence),
                          _plain_lines(d.lines), _json(d.evidence), d.remainder, []))
    states = {k: PlainInvoice(to_cents(v.amount), to_cents(v.open), v.currency, v.status) for k, v in invoices.items()}
    limit = None if approval_limit is None else to_cents(approval_limit)
    result = write_plain(conn, plain, states, actor=actor, job_run_id=job_run_id, approval_limit=limit,
                         initial=initial)
    for k, v in invoices.items():
        v.open, v.status = _dec(states[k].open), states[k].status
    return result


@dataclass(slots=True)
class PlainInvoice:
    """An invoice as a chunk of :func:`write_plain` starts from (cents); updated as decisions apply."""

    amount: int
    open: int
    currency: str | None
    status: str = ""  # by default derived from the amounts (open, partly_paid, paid)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = _plain_status(self)


def to_cents(value: Decimal | int | str) -> int:
    """A money value (rounded to cents, as :func:`ledger.posting.money` rounds) in integer cents."""
    return int(money(value).scaleb(2))


def _dec(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


def _conf(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _plain_lines(lines: Sequence[AllocationLine]) -> list[tuple[str, int, int, str | None]]:
    return [(ln.invoice_id, to_cents(ln.amount), to_cents(ln.adjustment_amount), ln.adjustment_reason or None)
            for ln in lines]


def _plain_status(inv: PlainInvoice) -> str:
    if inv.status == "cancelled":
        return "cancelled"
    if inv.open <= 0:
        return "paid"
    if inv.open < inv.amount:
        return "partly_paid"
    return "open"


def _check_post(tid: int, amount: int, currency: str | None, lines: list[tuple[str, int, int, str | None]],
                invoices: dict[str, PlainInvoice], allocated: int, unapplied: int) -> None:
    """The checks of ``ledger.posting._validate_lines`` on the chunk's running invoice state
    (``allocated``: the cash of ``lines``)."""
    if amount <= 0:
        raise PostingError(f"transaction {tid} is a debit ({cents(amount)}); only incoming payments settle invoices")
    seen: set[str] = set()
    for invoice_id, cash, adj, adj_reason in lines:
        if invoice_id in seen:
            raise PostingError(f"invoice {invoice_id} is named twice in one posting")
        seen.add(invoice_id)
        inv = invoices.get(invoice_id)
        if inv is None:
            raise PostingError(f"unknown invoice {invoice_id}")
        if cash < 0 or adj < 0:
            raise PostingError(f"invoice {invoice_id}: amounts must not be negative")
        if cash + adj <= 0:
            raise PostingError(f"invoice {invoice_id}: nothing to allocate")
        if adj > 0 and adj_reason not in ADJUSTMENT_REASONS:
            raise PostingError(f"invoice {invoice_id}: an adjustment needs a reason")
        if inv.status == "cancelled":
            raise PostingError(f"invoice {invoice_id} is cancelled")
        if currency and inv.currency and currency != inv.currency:
            raise PostingError(f"invoice {invoice_id} is in {inv.currency}, the payment in {currency}")
        if cash + adj > inv.open:
            raise PostingError(
                f"invoice {invoice_id} has {cents(inv.open)} open; cannot allocate {cents(cash + adj)}"
            )
    total = allocated + unapplied
    if total > amount:
        raise PostingError(f"allocations of {cents(total)} exceed the payment of {cents(amount)}")


def _txn_state(status: str, customer_id: str | None, ignore_reason: str | None) -> str:
    """``ledger.posting.transaction_state`` as the JSON the audit stores."""
    return f'{{"status": "{status}", "customer_id": {_jstr(customer_id)}, "ignore_reason": {_jstr(ignore_reason)}}}'


_NEW_STATE = '{"status": "new", "customer_id": null, "ignore_reason": null}'


def _inv_state(inv: PlainInvoice) -> str:
    """``ledger.posting.invoice_state`` as the JSON the audit stores."""
    return f'{{"open_amount": "{cents(inv.open)}", "status": "{inv.status}"}}'


# the columns write_plain fills, in the order of its row tuples
_ALLOC_COLS = ("transaction_id", "invoice_id", "amount", "adjustment_amount", "adjustment_reason", "status",
               "confidence", "reason", "evidence", "automatic", "decided_by", "decided_at", "job_run_id")
_CASH_COLS = ("transaction_id", "customer_id", "amount", "currency", "status", "reason", "created_by", "created_at")
_QUEUE_COLS = ("transaction_id", "reason", "detail", "customer_id", "status", "created_at", "created_by", "job_run_id")
_SUGG_COLS = ("queue_item_id", "rank", "invoice_id", "amount", "adjustment_amount", "adjustment_reason", "confidence",
              "reason", "evidence")
_AUDIT_COLS = ("at", "actor", "action", "transaction_id", "invoice_id", "entity", "entity_id", "before", "after",
               "detail", "job_run_id")


def write_plain(
    conn: Connection,
    decisions: Sequence[tuple[Any, ...]],
    invoices: dict[str, PlainInvoice],
    *,
    actor: str,
    job_run_id: int | None = None,
    approval_limit: int | None = None,
    initial: dict[int, tuple[str | None, str | None]] | None = None,
) -> ChunkResult:
    """:func:`write_chunk` for decisions in plain values, the form ``recon match`` hands its writer.

    A decision is ``(kind, transaction id, amount, currency, reason, detail,
    customer id, confidence, lines, evidence, remainder, suggestions)``: money in
    integer cents, ``kind`` one of post, queue, ignore; ``confidence`` decimal
    text; ``lines`` ``(invoice id, cash, adjustment, adjustment reason)``;
    ``evidence`` JSON text; ``suggestions`` ``(lines, confidence, reason,
    evidence)``.  Unused fields are None (or empty).  Every transaction is
    ``new`` with no payer yet unless ``initial`` gives its payer and ignore reason.
    ``approval_limit``: cents.  Rows are built as the driver takes them (no
    per-value type processing): a million decisions spend their time in the
    database, not here.
    """
    result = ChunkResult()
    if not decisions:
        return result
    initial = initial or {}
    when = utcnow()
    now = _driver_value(conn, AuditEntry.__table__.c.at, when)
    writer = _Writer(conn)
    writer.lock()
    txn_ids = [d[1] for d in decisions]
    if len(set(txn_ids)) != len(txn_ids):
        raise PostingError("a transaction is decided twice in one chunk")
    open_items = [row[0] for row in conn.exec_driver_sql(
        f"SELECT transaction_id FROM queue_items WHERE status = 'open' AND transaction_id IN {json_values(conn, txn_ids)}"
    )]
    if open_items:
        raise PostingError(f"transaction(s) {sorted(open_items)[:5]} already wait in the queue")
    start_open = {k: v.open for k, v in invoices.items()}

    # Ids are reserved before the rows are built, so that every row (and the audit entry naming
    # it) is made once, with its id: the rows the decisions make are counted, and that many ids
    # of each table reserved (under the write lock taken above).
    n_alloc, n_cash, n_queue = _row_counts(decisions, approval_limit)
    alloc_ids = writer.reserve("allocations", n_alloc)
    cash_ids = writer.reserve("unapplied_cash", n_cash)
    queue_ids = writer.reserve("queue_items", n_queue)

    allocs: list[tuple[Any, ...]] = []
    cash_rows: list[tuple[Any, ...]] = []
    queue_rows: list[tuple[Any, ...]] = []
    sugg_rows: list[tuple[Any, ...]] = []
    audit: list[tuple[Any, ...]] = []
    txn_updates: list[tuple[Any, ...]] = []
    posted_cents = 0
    queue_reasons, ignore_reasons = result.queue_reasons, result.ignore_reasons
    audit_append, alloc_append = audit.append, allocs.append

    for kind, tid, amount, currency, reason, detail, customer_id, confidence, lines, evidence, remainder, groups \
            in decisions:
        cid, ignore_reason = initial.get(tid, (None, None))
        before_txn = _NEW_STATE if tid not in initial else _txn_state("new", cid, ignore_reason)
        settled = 0
        if kind == "ignore":
            status, ignore_reason = "ignored", reason[:100]
            audit_append((now, actor, "ignore", tid, None, "transaction", str(tid), before_txn,
                          _txn_state(status, cid, ignore_reason),
                          _encode({"reason": reason, "automatic": True}), job_run_id))
            result.ignored += 1
            ignore_reasons[reason] = ignore_reasons.get(reason, 0) + 1
        elif kind == "queue":
            qid = queue_ids[len(queue_rows)]
            queue_rows.append((qid, tid, reason, detail, customer_id, "open", now, actor, job_run_id))
            summary = []
            for rank, (g_lines, g_conf, g_reason, g_evidence) in enumerate(groups, start=1):
                for invoice_id, cash, adj, adj_reason in g_lines:
                    sugg_rows.append((qid, rank, invoice_id, cents(cash), cents(adj),
                                      adj_reason if adj > 0 else None, g_conf, g_reason, g_evidence))
                summary.append({"rank": rank, "invoices": [ln[0] for ln in g_lines], "confidence": g_conf,
                                "reason": g_reason})
            status = "queued"
            if customer_id:
                cid = customer_id
            audit_append((now, actor, "queue", tid, None, "queue_item", str(qid), before_txn,
                          _txn_state(status, cid, ignore_reason),
                          _encode({"reason": reason, "detail": detail, "suggestions": summary}), job_run_id))
            result.queued += 1
            queue_reasons[reason] = queue_reasons.get(reason, 0) + 1
        elif kind == "post":
            allocated, pending = _post_totals(lines, approval_limit)
            left = amount - allocated
            unapplied = 0
            if left > 0:
                if remainder != "unapplied":
                    raise PostingError(f"the allocations leave {cents(left)} of the payment of "
                                       f"{cents(amount)} unallocated")
                unapplied = left
            _check_post(tid, amount, currency, lines, invoices, allocated, unapplied)
            payer = customer_id or (_customer_of(conn, lines[0][0]) if lines else None)
            if unapplied > 0 and payer is None:
                raise PostingError("unapplied cash needs a customer")
            for invoice_id, cash, adj, adj_reason in lines:
                inv = invoices[invoice_id]
                line_waits = needs_approval(adj, approval_limit)
                before_inv = _inv_state(inv)
                adj_reason = adj_reason if adj > 0 else None
                cash_t, adj_t = cents(cash), cents(adj)
                alloc_id = alloc_ids[len(allocs)]
                alloc_append((alloc_id, tid, invoice_id, cash_t, adj_t, adj_reason,
                              "pending_approval" if line_waits else "posted", confidence, reason, evidence,
                              True, actor, now, job_run_id))
                if not line_waits:
                    inv.open -= cash + adj
                    inv.status = _plain_status(inv)
                audit_append((now, actor, "post-pending" if line_waits else "post", tid, invoice_id,
                              "allocation", str(alloc_id), before_inv, _inv_state(inv),
                              f'{{"amount": "{cash_t}", "adjustment_amount": "{adj_t}", '
                              f'"adjustment_reason": {_jstr(adj_reason)}, "reason": {_jstr(reason)}, '
                              f'"confidence": {_jdec(confidence)}, "automatic": true, '
                              f'"evidence": {evidence or "null"}}}', job_run_id))
            result.allocations += len(lines)
            if unapplied > 0:
                why = "overpayment" if lines else "on-account"
                cash_id = cash_ids[len(cash_rows)]
                cash_rows.append((cash_id, tid, payer, cents(unapplied), currency, "open", why, actor, now))
                audit_append((now, actor, "unapplied", tid, None, "unapplied_cash", str(cash_id), None,
                              _encode({"customer_id": payer, "amount": cents(unapplied), "reason": why}),
                              None, job_run_id))
            cid = payer or cid
            settled = allocated + unapplied  # a new transaction had nothing settled before
            if pending:
                status = "queued"
                queue_rows.append((queue_ids[len(queue_rows)], tid, "pending-approval", PENDING_DETAIL, payer, "open",
                                   now, actor, job_run_id))
                result.pending += 1
                queue_reasons["pending-approval"] = queue_reasons.get("pending-approval", 0) + 1
            else:
                status = "posted"
                result.posted += 1
                posted_cents += amount
            audit_append((now, actor, "transaction-" + ("pending" if pending else "posted"), tid, None,
                          "transaction", str(tid), before_txn, _txn_state(status, cid, ignore_reason), None,
                          job_run_id))
        else:
            raise PostingError(f"unknown decision {kind!r} for transaction {tid}")
        txn_updates.append((status, cid, ignore_reason, cents(settled), tid))
    result.posted_amount = _dec(posted_cents)
    if (len(allocs), len(cash_rows), len(queue_rows)) != (n_alloc, n_cash, n_queue):
        raise PostingError("internal error: the rows made differ from the rows counted; nothing was written")

    # --- write ----------------------------------------------------------------------------------
    changed = writer.update_transactions(txn_updates)
    if changed != len(txn_updates):
        raise PostingError("transactions changed while recon matched them (someone decided meanwhile); run it again")
    writer.insert_rows("allocations", ("id", *_ALLOC_COLS), allocs)
    writer.insert_rows("unapplied_cash", ("id", *_CASH_COLS), cash_rows)
    writer.insert_rows("queue_items", ("id", *_QUEUE_COLS), queue_rows)
    writer.insert_rows("suggestions", _SUGG_COLS, sugg_rows)
    touched = [(cents(v.open), v.status, k, cents(start_open[k])) for k, v in invoices.items()
               if v.open != start_open[k]]
    if touched:
        changed = writer.update_invoices(touched, when)
        if changed != len(touched):
            raise PostingError("invoices changed while recon matched (someone posted meanwhile); run it again")
    writer.insert_rows("audit_log", _AUDIT_COLS, audit)
    return result


def _post_totals(lines: Sequence[tuple[str, int, int, str | None]], approval_limit: int | None) -> tuple[int, bool]:
    """A posting's allocated cash (cents), and whether it waits for approval (any of its lines does)."""
    allocated = 0
    pending = False
    for line in lines:
        allocated += line[1]
        if needs_approval(line[2], approval_limit):
            pending = True
    return allocated, pending


def _row_counts(decisions: Sequence[tuple[Any, ...]], approval_limit: int | None) -> tuple[int, int, int]:
    """How many allocations, unapplied cash rows and queue items ``decisions`` make (for their ids):
    a posting makes one allocation a line, unapplied cash for what its lines leave of the amount, and
    one queue item when it waits for approval; a queue decision makes one queue item."""
    n_alloc = n_cash = n_queue = 0
    for d in decisions:
        kind = d[0]
        if kind == "post":
            lines = d[8]
            allocated, pending = _post_totals(lines, approval_limit)
            n_alloc += len(lines)
            n_cash += d[2] - allocated > 0
            n_queue += pending
        elif kind == "queue":
            n_queue += 1
    return n_alloc, n_cash, n_queue


class _Writer:
    """Rows straight to the driver: ``executemany`` of tuples on SQLite, ``COPY`` on PostgreSQL.

    The rows hold driver values already (money as decimal text, JSON as text, the
    timestamp converted once), so the stored rows are the ORM's; only the per-row
    statement machinery is skipped.  Ids are reserved before the rows are made
    (PostgreSQL: from the sequence; SQLite: above the current maximum, safe because
    SQLite admits one writer and :meth:`lock` has taken the write lock first), so
    audit entries can name the rows they describe.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def lock(self) -> None:
        """SQLite: take the database's write lock now (``BEGIN IMMEDIATE``), before ids are reserved.

        pysqlite begins a transaction only at the first write, so the reads before it would see
        no lock; a connection already in a transaction holds the lock since its first write.
        """
        if self.pg:
            return
        dbapi = self.conn.connection.driver_connection
        if not dbapi.in_transaction:
            self.conn.exec_driver_sql("BEGIN IMMEDIATE")

    def reserve(self, table: str, n: int) -> list[int] | range:
        """``n`` new ids of ``table``."""
        if n == 0:
            return []
        if self.pg:
            seq = self.conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table}', 'id')").scalar()
            rows = self.conn.exec_driver_sql(f"SELECT nextval('{seq}') FROM generate_series(1, {int(n)})").fetchall()
            return [r[0] for r in rows]
        top = self.conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar() or 0
        return range(top + 1, top + 1 + n)

    def insert_rows(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (tuples in the order of ``cols``)."""
        if not rows:
            return
        col_sql = ", ".join(cols)
        if self.pg:
            self._copy(f"{table} ({col_sql})", rows)
        else:
            self.conn.exec_driver_sql(f"INSERT INTO {table} ({col_sql}) VALUES ({', '.join(['?'] * len(cols))})", rows)

    def update_transactions(self, rows: list[tuple[str, str | None, str | None, str, int]]) -> int:
        """``(status, customer id, ignore reason, settled amount, id)``: set them on transactions still
        ``new``; returns how many changed."""
        if self.pg:
            self.conn.exec_driver_sql(
                "CREATE TEMP TABLE recon_txn_update (status text, customer_id text, ignore_reason text, "
                "settled_amount numeric(18, 2), id bigint) ON COMMIT DROP"
            )
            self._copy("recon_txn_update", rows)
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
            rows,
        )
        return res.rowcount

    def update_invoices(self, rows: list[tuple[str, str, str, str]], when: Any) -> int:
        """``(open amount, status, invoice id, open amount decided on)``: set open amount and status of
        invoices whose open amount is still the one decided on; returns how many changed."""
        at = _driver_value(self.conn, Invoice.__table__.c.updated_at, when)
        if self.pg:
            self.conn.exec_driver_sql(
                "CREATE TEMP TABLE recon_inv_update (open_amount numeric(18, 2), status text, "
                "invoice_id text, before numeric(18, 2)) ON COMMIT DROP"
            )
            self._copy("recon_inv_update", rows)
            res = self.conn.exec_driver_sql(
                "UPDATE invoices i SET open_amount = u.open_amount, status = u.status, updated_at = %s "
                "FROM recon_inv_update u WHERE i.invoice_id = u.invoice_id AND i.open_amount = u.before",
                (at,),
            )
            self.conn.exec_driver_sql("DROP TABLE recon_inv_update")
            return res.rowcount
        res = self.conn.exec_driver_sql(
            "UPDATE invoices SET open_amount = ?, status = ?, updated_at = ? WHERE invoice_id = ? AND open_amount = ?",
            [(new, status, at, inv, before) for new, status, inv, before in rows],
        )
        return res.rowcount

    def _copy(self, target: str, rows: list[tuple[Any, ...]]) -> None:
        cur = self.conn.connection.driver_connection.cursor()
        with cur.copy(f"COPY {target} FROM STDIN") as copy:
            for values in rows:
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


def _customer_of(conn: Connection, invoice_id: str) -> str | None:
    return conn.execute(select(Invoice.customer_id).where(Invoice.invoice_id == invoice_id)).scalar()
