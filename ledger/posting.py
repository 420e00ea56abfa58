"""Posting: the only code that changes what is settled, queued, set aside or undone.

Every function here works inside the caller's session and database
transaction (opened at the edge: a command or a job), checks the invariants in
code before the schema's constraints would, and writes an audit entry for
every decision.  The invariants:

* an allocation never exceeds the invoice's open amount (cash + adjustment);
* the allocations and unapplied cash of a transaction never exceed its amount;
* a posted transaction's amount is fully accounted for (allocations plus
  unapplied cash), so a payment is never lost or counted twice;
* an invoice's status follows its open amount (open, partly_paid, paid);
* an adjustment above the four-eyes limit stays ``pending_approval`` (the
  invoice untouched) until a different person approves it;
* undoing keeps both the posting and its reversal in the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ledger.models import (
    Allocation,
    AuditEntry,
    BankTransaction,
    Customer,
    CustomerAccount,
    CustomerAlias,
    Invoice,
    QueueItem,
    Suggestion,
    UnappliedCash,
    utcnow,
)

ZERO = Decimal("0")
CENT = Decimal("0.01")
ADJUSTMENT_REASONS = ("discount", "bank-charges", "write-off")


class PostingError(Exception):
    """A decision that would break an invariant; the message is for the user."""


@dataclass(slots=True)
class AllocationLine:
    """Apply ``amount`` of cash to ``invoice_id`` and close ``adjustment_amount`` more with a reason."""

    invoice_id: str
    amount: Decimal
    adjustment_amount: Decimal = ZERO
    adjustment_reason: str | None = None


@dataclass(slots=True)
class SuggestionGroup:
    """One ranked suggestion for a queued transaction; it may span several invoices."""

    lines: list[AllocationLine]
    confidence: Decimal
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def money(value: Decimal | int | str) -> Decimal:
    """A money value rounded to cents (never from float)."""
    if isinstance(value, float):  # pragma: no cover - guard against misuse
        raise TypeError("money must not be a float")
    return Decimal(value).quantize(CENT)


# --- audit ----------------------------------------------------------------------------------------


def needs_approval(adjustment: Decimal | int, approval_limit: Decimal | int | None) -> bool:
    """Does an allocation line with this adjustment wait for a second person (four eyes)?
    (Both in the same unit: ``Decimal`` here, integer cents in :mod:`ledger.bulk_posting`.)"""
    return approval_limit is not None and adjustment > approval_limit


def audit(
    session: Session,
    actor: str,
    action: str,
    *,
    transaction_id: int | None = None,
    invoice_id: str | None = None,
    entity: str | None = None,
    entity_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    job_run_id: int | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail."""
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        transaction_id=transaction_id,
        invoice_id=invoice_id,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
        detail=_jsonable(detail),
        job_run_id=job_run_id,
    )
    session.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def invoice_state(inv: Invoice) -> dict[str, Any]:
    return {"open_amount": str(inv.open_amount), "status": inv.status}


def transaction_state(txn: BankTransaction) -> dict[str, Any]:
    return {"status": txn.status, "customer_id": txn.customer_id, "ignore_reason": txn.ignore_reason}


# --- helpers --------------------------------------------------------------------------------------


def invoice_status(inv: Invoice) -> str:
    """Status that follows from the open amount."""
    if inv.status == "cancelled":
        return "cancelled"
    if inv.open_amount <= ZERO:
        return "paid"
    if inv.open_amount < inv.amount:
        return "partly_paid"
    return "open"


def _load_invoices(session: Session, invoice_ids: Iterable[str]) -> dict[str, Invoice]:
    ids = sorted(set(invoice_ids))
    if not ids:
        return {}
    # populate_existing: an invoice read earlier in this session (e.g. for display) is read again,
    # so the open amount checked and reduced below is the one the database holds now
    stmt = select(Invoice).where(Invoice.invoice_id.in_(ids)).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # two people posting against one invoice: the second waits
    found = {inv.invoice_id: inv for inv in session.scalars(stmt)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise PostingError(f"unknown invoice {', '.join(missing)}")
    return found


def active_allocations(session: Session, transaction_id: int) -> list[Allocation]:
    """Posted and pending allocations of a transaction (reversed ones excluded)."""
    return list(
        session.scalars(
            select(Allocation)
            .where(Allocation.transaction_id == transaction_id, Allocation.status != "reversed")
            .order_by(Allocation.id)
        )
    )


def open_queue_item(session: Session, transaction_id: int) -> QueueItem | None:
    return session.scalars(
        select(QueueItem).where(QueueItem.transaction_id == transaction_id, QueueItem.status == "open")
    ).first()


def lock_transaction(session: Session, txn: BankTransaction) -> None:
    """Serialise decisions on one transaction and re-read its status.

    Two deciders (the daily job and a person in the queue, or two people) may
    look at the same transaction at once.  The second one waits here until
    the first has committed and then sees the status it left, so the checks
    that follow (already posted? already allocated?) are made on fresh data
    and a payment is never settled twice.  PostgreSQL: ``SELECT ... FOR
    UPDATE`` on the row.  SQLite: the driver opens a transaction only at the
    first write, so a read made before it may already be stale; a no-op write
    takes SQLite's database write lock first (waiting for another writer
    within the busy timeout), and the status is read after it.
    """
    if txn.id is None:
        return
    session.flush()  # the caller's pending changes are written first, never lost by the re-read
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(
            update(BankTransaction)
            .where(BankTransaction.id == txn.id)
            .values(status=BankTransaction.status)
            .execution_options(synchronize_session=False)
        )
    query = select(
        BankTransaction.status, BankTransaction.customer_id, BankTransaction.ignore_reason,
        BankTransaction.settled_amount,
    ).where(BankTransaction.id == txn.id)
    if dialect == "postgresql":
        query = query.with_for_update()
    fresh = session.execute(query).one()
    # adopt what the database holds without marking the object dirty
    set_committed_value(txn, "status", fresh.status)
    set_committed_value(txn, "settled_amount", fresh.settled_amount)
    set_committed_value(txn, "customer_id", fresh.customer_id)
    set_committed_value(txn, "ignore_reason", fresh.ignore_reason)


def _resolve_queue(session: Session, txn: BankTransaction, actor: str, status: str, resolution: str) -> None:
    item = open_queue_item(session, txn.id)
    if item is not None:
        item.status = status
        item.resolved_at = utcnow()
        item.resolved_by = actor
        item.resolution = resolution


def _apply_to_invoice(inv: Invoice, line: AllocationLine) -> None:
    inv.open_amount = money(inv.open_amount - line.amount - line.adjustment_amount)
    inv.status = invoice_status(inv)


def _validate_lines(
    txn: BankTransaction, lines: Sequence[AllocationLine], invoices: dict[str, Invoice], unapplied: Decimal
) -> None:
    if txn.amount <= ZERO:
        raise PostingError(f"transaction {txn.id} is a debit ({txn.amount}); only incoming payments settle invoices")
    seen: set[str] = set()
    for line in lines:
        if line.invoice_id in seen:
            raise PostingError(f"invoice {line.invoice_id} is named twice in one posting")
        seen.add(line.invoice_id)
        if line.amount < ZERO or line.adjustment_amount < ZERO:
            raise PostingError(f"invoice {line.invoice_id}: amounts must not be negative")
        if line.amount + line.adjustment_amount <= ZERO:
            raise PostingError(f"invoice {line.invoice_id}: nothing to allocate")
        if line.adjustment_amount > ZERO and line.adjustment_reason not in ADJUSTMENT_REASONS:
            raise PostingError(
                f"invoice {line.invoice_id}: an adjustment needs a reason ({', '.join(ADJUSTMENT_REASONS)})"
            )
        inv = invoices[line.invoice_id]
        if inv.status == "cancelled":
            raise PostingError(f"invoice {inv.invoice_id} is cancelled")
        if txn.currency and inv.currency and txn.currency != inv.currency:
            raise PostingError(
                f"invoice {inv.invoice_id} is in {inv.currency}, the payment in {txn.currency}; "
                "recon never posts across currencies"
            )
        if line.amount + line.adjustment_amount > inv.open_amount:
            raise PostingError(
                f"invoice {inv.invoice_id} has {inv.open_amount} open; cannot allocate "
                f"{line.amount + line.adjustment_amount}"
            )
    total = sum((line.amount for line in lines), ZERO) + unapplied
    if total > txn.amount:
        raise PostingError(f"allocations of {total} exceed the payment of {txn.amount}")


# --- decisions ------------------------------------------------------------------------------------


def post(
    session: Session,
    txn: BankTransaction,
    lines: Sequence[AllocationLine],
    *,
    actor: str,
    reason: str,
    confidence: Decimal = Decimal("1"),
    evidence: dict[str, Any] | None = None,
    automatic: bool,
    customer_id: str | None = None,
    remainder: str = "error",
    approval_limit: Decimal | None = None,
    job_run_id: int | None = None,
    learn_payer: bool = False,
) -> list[Allocation]:
    """Settle ``txn`` against invoices: one decision, audited.

    ``remainder`` says what happens to cash the lines leave over: ``error``
    (refuse), or ``unapplied`` (kept as unapplied cash on the customer's
    account: an overpayment or a payment on account).  Lines whose adjustment
    exceeds ``approval_limit`` are stored ``pending_approval`` and change no
    invoice until :func:`approve` (four eyes); the transaction then stays in
    the queue with reason ``pending-approval``.
    """
    lock_transaction(session, txn)
    if txn.status in ("posted", "ignored"):
        raise PostingError(f"transaction {txn.id} is already {txn.status}; unmatch it first")
    if active_allocations(session, txn.id):
        raise PostingError(f"transaction {txn.id} already has allocations; unmatch it first")
    lines = [
        AllocationLine(ln.invoice_id, money(ln.amount), money(ln.adjustment_amount), ln.adjustment_reason or None)
        for ln in lines
    ]
    invoices = _load_invoices(session, (ln.invoice_id for ln in lines))
    allocated = sum((ln.amount for ln in lines), ZERO)
    left = money(txn.amount - allocated)
    unapplied = ZERO
    if left > ZERO:
        if remainder != "unapplied":
            raise PostingError(
                f"the allocations leave {left} of the payment of {txn.amount} unallocated; "
                "allocate it all or put the rest on the customer's account"
            )
        unapplied = left
    _validate_lines(txn, lines, invoices, unapplied)
    payer = customer_id or (invoices[lines[0].invoice_id].customer_id if lines else None)
    if unapplied > ZERO and payer is None:
        raise PostingError("unapplied cash needs a customer")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise PostingError(f"unknown customer {customer_id}")

    before_txn = transaction_state(txn)
    now = utcnow()
    created: list[Allocation] = []
    pending = False
    for line in lines:
        inv = invoices[line.invoice_id]
        line_waits = needs_approval(line.adjustment_amount, approval_limit)
        pending = pending or line_waits
        before_inv = invoice_state(inv)
        alloc = Allocation(
            transaction_id=txn.id,
            invoice_id=inv.invoice_id,
            amount=line.amount,
            adjustment_amount=line.adjustment_amount,
            adjustment_reason=line.adjustment_reason if line.adjustment_amount > ZERO else None,
            status="pending_approval" if line_waits else "posted",
            confidence=confidence,
            reason=reason,
            evidence=_jsonable(evidence),
            automatic=automatic,
            decided_by=actor,
            decided_at=now,
            job_run_id=job_run_id,
        )
        session.add(alloc)
        if not line_waits:
            _apply_to_invoice(inv, line)
        created.append(alloc)
        session.flush()
        audit(
            session,
            actor,
            "post-pending" if line_waits else "post",
            transaction_id=txn.id,
            invoice_id=inv.invoice_id,
            entity="allocation",
            entity_id=alloc.id,
            before=before_inv,
            after=invoice_state(inv),
            detail={
                "amount": line.amount,
                "adjustment_amount": line.adjustment_amount,
                "adjustment_reason": alloc.adjustment_reason,
                "reason": reason,
                "confidence": confidence,
                "automatic": automatic,
                "evidence": evidence,
            },
            job_run_id=job_run_id,
        )
    if unapplied > ZERO:
        assert payer is not None
        cash = UnappliedCash(
            transaction_id=txn.id,
            customer_id=payer,
            amount=unapplied,
            currency=txn.currency,
            reason="overpayment" if lines else "on-account",
            created_by=actor,
            created_at=now,
        )
        session.add(cash)
        session.flush()
        audit(
            session,
            actor,
            "unapplied",
            transaction_id=txn.id,
            entity="unapplied_cash",
            entity_id=cash.id,
            after={"customer_id": payer, "amount": unapplied, "reason": cash.reason},
            job_run_id=job_run_id,
        )
    txn.customer_id = payer or txn.customer_id
    txn.settled_amount = money((txn.settled_amount or ZERO) + allocated + unapplied)
    if pending:
        txn.status = "queued"
        item = open_queue_item(session, txn.id)
        if item is None:
            session.add(
                QueueItem(
                    transaction_id=txn.id,
                    reason="pending-approval",
                    detail="an adjustment above the four-eyes limit waits for a second person's approval",
                    customer_id=payer,
                    created_by=actor,
                    created_at=now,
                    job_run_id=job_run_id,
                )
            )
        else:
            item.reason = "pending-approval"
            item.detail = "an adjustment above the four-eyes limit waits for a second person's approval"
    else:
        txn.status = "posted"
        _resolve_queue(session, txn, actor, "resolved", f"posted ({reason})")
    audit(
        session,
        actor,
        "transaction-" + ("pending" if pending else "posted"),
        transaction_id=txn.id,
        entity="transaction",
        entity_id=txn.id,
        before=before_txn,
        after=transaction_state(txn),
        job_run_id=job_run_id,
    )
    if learn_payer and payer and not automatic:
        learn(session, txn, payer, actor)
    session.flush()
    return created


def approve(session: Session, txn: BankTransaction, *, actor: str) -> list[Allocation]:
    """Approve the pending adjustments of ``txn``: a different person than the one who decided."""
    lock_transaction(session, txn)
    pending = [a for a in active_allocations(session, txn.id) if a.status == "pending_approval"]
    if not pending:
        raise PostingError(f"transaction {txn.id} has nothing waiting for approval")
    for alloc in pending:
        if alloc.decided_by == actor:
            raise PostingError(
                f"{actor} decided this allocation and cannot approve it too (four eyes): another person must"
            )
    invoices = _load_invoices(session, (a.invoice_id for a in pending))
    now = utcnow()
    for alloc in pending:
        inv = invoices[alloc.invoice_id]
        line = AllocationLine(alloc.invoice_id, alloc.amount, alloc.adjustment_amount, alloc.adjustment_reason)
        if line.amount + line.adjustment_amount > inv.open_amount:
            raise PostingError(
                f"invoice {inv.invoice_id} now has only {inv.open_amount} open; unmatch and decide again"
            )
        before = invoice_state(inv)
        _apply_to_invoice(inv, line)
        alloc.status = "posted"
        alloc.approved_by = actor
        alloc.approved_at = now
        audit(
            session,
            actor,
            "approve",
            transaction_id=txn.id,
            invoice_id=inv.invoice_id,
            entity="allocation",
            entity_id=alloc.id,
            before=before,
            after=invoice_state(inv),
            detail={"decided_by": alloc.decided_by, "adjustment_amount": alloc.adjustment_amount},
        )
    before_txn = transaction_state(txn)
    txn.status = "posted"
    _resolve_queue(session, txn, actor, "resolved", "approved")
    audit(
        session, actor, "transaction-posted", transaction_id=txn.id, entity="transaction", entity_id=txn.id,
        before=before_txn, after=transaction_state(txn),
    )
    session.flush()
    return pending


def unmatch(session: Session, txn: BankTransaction, *, actor: str, note: str | None = None) -> int:
    """Undo every posting of ``txn`` (automatic or manual, posted or pending, and its unapplied cash
    and a dismissal): invoices open again, the transaction back in the queue (reason ``reversed``).

    Returns how many allocations were reversed.  The original entries stay in
    the audit trail; the reversal is added to it.
    """
    lock_transaction(session, txn)
    allocations = active_allocations(session, txn.id)
    cash = list(
        session.scalars(select(UnappliedCash).where(UnappliedCash.transaction_id == txn.id, UnappliedCash.status == "open"))
    )
    if not allocations and not cash and txn.status != "ignored":
        raise PostingError(f"transaction {txn.id} has no posting to undo (status {txn.status})")
    invoices = _load_invoices(session, (a.invoice_id for a in allocations))
    now = utcnow()
    for alloc in allocations:
        inv = invoices[alloc.invoice_id]
        before = invoice_state(inv)
        if alloc.status == "posted":
            inv.open_amount = money(inv.open_amount + alloc.amount + alloc.adjustment_amount)
            if inv.open_amount > inv.amount:  # cannot happen while the invariants hold; refuse rather than corrupt
                raise PostingError(f"invoice {inv.invoice_id} would be more than fully open; the data is inconsistent")
            inv.status = invoice_status(inv)
        alloc.status = "reversed"
        alloc.reversed_by = actor
        alloc.reversed_at = now
        txn.settled_amount = money(txn.settled_amount - alloc.amount)
        audit(
            session, actor, "unmatch", transaction_id=txn.id, invoice_id=inv.invoice_id, entity="allocation",
            entity_id=alloc.id, before=before, after=invoice_state(inv),
            detail={"amount": alloc.amount, "adjustment_amount": alloc.adjustment_amount, "note": note},
        )
    for c in cash:
        txn.settled_amount = money(txn.settled_amount - c.amount)
        c.status = "reversed"
        c.reversed_by = actor
        c.reversed_at = now
        audit(
            session, actor, "unmatch", transaction_id=txn.id, entity="unapplied_cash", entity_id=c.id,
            before={"amount": c.amount, "customer_id": c.customer_id, "status": "open"}, after={"status": "reversed"},
        )
    before_txn = transaction_state(txn)
    txn.status = "queued"
    txn.ignore_reason = None
    item = open_queue_item(session, txn.id)
    if item is None:
        session.add(
            QueueItem(
                transaction_id=txn.id,
                reason="reversed",
                detail=f"posting undone by {actor}" + (f": {note}" if note else ""),
                customer_id=txn.customer_id,
                created_by=actor,
                created_at=now,
            )
        )
    else:
        item.reason = "reversed"
        item.detail = f"posting undone by {actor}" + (f": {note}" if note else "")
    audit(
        session, actor, "transaction-unmatched", transaction_id=txn.id, entity="transaction", entity_id=txn.id,
        before=before_txn, after=transaction_state(txn), detail={"note": note},
    )
    session.flush()
    return len(allocations)


def enqueue(
    session: Session,
    txn: BankTransaction,
    reason: str,
    *,
    actor: str,
    detail: str | None = None,
    suggestions: Sequence[SuggestionGroup] = (),
    customer_id: str | None = None,
    job_run_id: int | None = None,
) -> QueueItem:
    """Put ``txn`` in the exception queue with a reason code and ranked suggestions (best first).

    An open item of the same transaction is replaced in place (its suggestions renewed).
    """
    lock_transaction(session, txn)
    if txn.status in ("posted", "ignored"):
        raise PostingError(f"transaction {txn.id} is already {txn.status}")
    item = open_queue_item(session, txn.id)
    now = utcnow()
    if item is None:
        item = QueueItem(transaction_id=txn.id, created_by=actor, created_at=now, job_run_id=job_run_id)
        session.add(item)
    item.reason = reason
    item.detail = detail
    item.customer_id = customer_id
    item.suggestions.clear()
    for rank, group in enumerate(suggestions, start=1):
        for line in group.lines:
            item.suggestions.append(
                Suggestion(
                    rank=rank,
                    invoice_id=line.invoice_id,
                    amount=money(line.amount),
                    adjustment_amount=money(line.adjustment_amount),
                    adjustment_reason=line.adjustment_reason if line.adjustment_amount > ZERO else None,
                    confidence=group.confidence,
                    reason=group.reason,
                    evidence=_jsonable(group.evidence),
                )
            )
    before = transaction_state(txn)
    txn.status = "queued"
    if customer_id:
        txn.customer_id = customer_id
    session.flush()
    audit(
        session, actor, "queue", transaction_id=txn.id, entity="queue_item", entity_id=item.id,
        before=before, after=transaction_state(txn),
        detail={
            "reason": reason,
            "detail": detail,
            "suggestions": [
                {"rank": r, "invoices": [ln.invoice_id for ln in g.lines], "confidence": g.confidence, "reason": g.reason}
                for r, g in enumerate(suggestions, start=1)
            ],
        },
        job_run_id=job_run_id,
    )
    return item


def ignore(
    session: Session,
    txn: BankTransaction,
    reason: str,
    *,
    actor: str,
    automatic: bool,
    job_run_id: int | None = None,
) -> None:
    """Set ``txn`` aside as not a customer payment (a rule's or a person's decision), with the reason."""
    lock_transaction(session, txn)
    if txn.status == "posted" or active_allocations(session, txn.id):
        raise PostingError(f"transaction {txn.id} is posted; unmatch it first")
    before = transaction_state(txn)
    txn.status = "ignored"
    txn.ignore_reason = reason[:100]
    _resolve_queue(session, txn, actor, "dismissed", reason)
    audit(
        session, actor, "ignore" if automatic else "dismiss", transaction_id=txn.id, entity="transaction",
        entity_id=txn.id, before=before, after=transaction_state(txn),
        detail={"reason": reason, "automatic": automatic}, job_run_id=job_run_id,
    )
    session.flush()


def assign_on_account(session: Session, txn: BankTransaction, customer_id: str, *, actor: str) -> UnappliedCash:
    """Book the whole payment as unapplied cash of ``customer_id`` (the invoice is not known yet)."""
    post(
        session, txn, [], actor=actor, reason="on-account", automatic=False, customer_id=customer_id,
        remainder="unapplied", learn_payer=True,
    )
    return session.scalars(
        select(UnappliedCash).where(UnappliedCash.transaction_id == txn.id, UnappliedCash.status == "open")
    ).one()


def learn(session: Session, txn: BankTransaction, customer_id: str, actor: str) -> None:
    """Remember the account and the name ``txn`` paid under for ``customer_id`` (a person confirmed it)."""
    account = compact_account(txn.counterparty_account)
    if account:
        exists = session.scalars(
            select(CustomerAccount).where(CustomerAccount.customer_id == customer_id, CustomerAccount.account == account)
        ).first()
        if exists is None:
            session.add(
                CustomerAccount(
                    customer_id=customer_id, account=account, source="learned", learned_from_transaction_id=txn.id
                )
            )
            audit(session, actor, "learn-account", transaction_id=txn.id, entity="customer", entity_id=customer_id,
                  after={"account": account})
    name = (txn.counterparty_name or "").strip()
    if name:
        exists_alias = session.scalars(
            select(CustomerAlias).where(CustomerAlias.customer_id == customer_id, CustomerAlias.alias == name[:300])
        ).first()
        if exists_alias is None:
            session.add(
                CustomerAlias(customer_id=customer_id, alias=name[:300], source="learned", learned_from_transaction_id=txn.id)
            )
            audit(session, actor, "learn-alias", transaction_id=txn.id, entity="customer", entity_id=customer_id,
                  after={"alias": name})


def compact_account(value: str | None) -> str | None:
    """An account number compacted for comparison: no spaces, dashes or dots; upper case."""
    if not value:
        return None
    out = "".join(ch for ch in value.upper() if ch.isalnum())
    return out or None


def pending_since(session: Session, txn: BankTransaction) -> datetime | None:
    """When the oldest pending allocation of ``txn`` was decided (for the queue's age)."""
    pend = [a.decided_at for a in active_allocations(session, txn.id) if a.status == "pending_approval"]
    return min(pend) if pend else None
