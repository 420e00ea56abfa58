"""``ledger.bulk_posting`` leaves the same database state as ``ledger.posting`` for the same decisions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger import posting
from ledger.bulk_posting import BulkIgnore, BulkPost, BulkQueue, InvoiceState, TxnState, write_chunk
from ledger.db import ensure_schema, make_engine, transaction
from ledger.models import (
    Allocation,
    AuditEntry,
    BankTransaction,
    Invoice,
    QueueItem,
    Suggestion,
    UnappliedCash,
)
from ledger.posting import AllocationLine, PostingError, SuggestionGroup
from tests.matcher.helpers import Books

LIMIT = Decimal("50.00")


def _books(engine: Engine) -> dict[str, int]:
    b = Books()
    b.customer("C1", "Alpha GmbH").customer("C2", "Beta BV")
    b.invoice("I1", "C1", "1200.00").invoice("I2", "C1", "800.00").invoice("I3", "C2", "5000.00")
    b.invoice("I4", "C2", "300.00").invoice("I5", "C2", "300.00")
    for ref, amount in [("T1", "1200.00"), ("T2", "900.00"), ("T3", "4900.00"), ("T4", "300.00"),
                        ("T5", "12.00"), ("T6", "250.00")]:
        b.line(amount, ref=ref)
    return b.save(engine)


def _decisions(ids: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    ev = {"reference": {"found": "I1", "match": "exact"}, "amount": {"paid": "1200.00"}}
    return [
        ("post", dict(txn="T1", lines=[AllocationLine("I1", Decimal("1200.00"))], reason="reference+amount",
                      confidence=Decimal("1.0"), evidence=ev, customer_id="C1", remainder="error")),
        ("post", dict(txn="T2", lines=[AllocationLine("I2", Decimal("800.00"))], reason="overpayment",
                      confidence=Decimal("0.93"), evidence={"x": 1}, customer_id="C1", remainder="unapplied")),
        ("post", dict(txn="T3", lines=[AllocationLine("I3", Decimal("4900.00"), Decimal("100.00"), "discount")],
                      reason="discount", confidence=Decimal("0.98"), evidence={"y": 2}, customer_id="C2",
                      remainder="error")),
        ("queue", dict(txn="T4", reason="ambiguous", detail="two fit", customer_id="C2", suggestions=[
            SuggestionGroup([AllocationLine("I4", Decimal("300.00"))], Decimal("0.5"), "name+amount", {"a": 1}),
            SuggestionGroup([AllocationLine("I5", Decimal("300.00"))], Decimal("0.5"), "name+amount", {"b": 2}),
        ])),
        ("ignore", dict(txn="T5", reason="interest")),
        ("queue", dict(txn="T6", reason="unknown-payer", detail=None, customer_id=None, suggestions=[])),
    ]


def _apply_orm(engine: Engine, ids: dict[str, int]) -> None:
    with transaction(engine) as s:
        for kind, d in _decisions(ids):
            txn = s.get(BankTransaction, ids[d["txn"]])
            if kind == "post":
                posting.post(s, txn, d["lines"], actor="recon", reason=d["reason"], confidence=d["confidence"],
                             evidence=d["evidence"], automatic=True, customer_id=d["customer_id"],
                             remainder=d["remainder"], approval_limit=LIMIT, job_run_id=None)
            elif kind == "queue":
                posting.enqueue(s, txn, d["reason"], actor="recon", detail=d["detail"], suggestions=d["suggestions"],
                                customer_id=d["customer_id"])
            else:
                posting.ignore(s, txn, d["reason"], actor="recon", automatic=True)


def _apply_bulk(engine: Engine, ids: dict[str, int]) -> None:
    amounts = {"T1": "1200.00", "T2": "900.00", "T3": "4900.00", "T4": "300.00", "T5": "12.00", "T6": "250.00"}
    out = []
    for kind, d in _decisions(ids):
        state = TxnState(ids[d["txn"]], Decimal(amounts[d["txn"]]), "EUR")
        if kind == "post":
            out.append(BulkPost(state, d["lines"], d["reason"], d["confidence"], d["evidence"], d["customer_id"],
                                d["remainder"]))
        elif kind == "queue":
            out.append(BulkQueue(state, d["reason"], d["detail"], d["suggestions"], d["customer_id"]))
        else:
            out.append(BulkIgnore(state, d["reason"]))
    invoices = {k: InvoiceState(Decimal(v), Decimal(v), "EUR") for k, v in
                {"I1": "1200.00", "I2": "800.00", "I3": "5000.00", "I4": "300.00", "I5": "300.00"}.items()}
    with engine.begin() as conn:
        write_chunk(conn, out, invoices, actor="recon", approval_limit=LIMIT)


def _state(engine: Engine) -> dict[str, Any]:
    """The database's decision state without surrogate ids and timestamps."""
    with transaction(engine) as s:
        txn_ref = {t.id: t.bank_reference for t in s.scalars(select(BankTransaction))}
        allocs = s.scalars(select(Allocation).order_by(Allocation.id)).all()
        alloc_key = {a.id: (txn_ref[a.transaction_id], a.invoice_id) for a in allocs}
        items = s.scalars(select(QueueItem).order_by(QueueItem.id)).all()
        item_key = {q.id: txn_ref[q.transaction_id] for q in items}
        cash = s.scalars(select(UnappliedCash).order_by(UnappliedCash.id)).all()
        cash_key = {c.id: txn_ref[c.transaction_id] for c in cash}

        def entity(e: AuditEntry) -> Any:
            if e.entity == "allocation":
                return alloc_key[int(e.entity_id)]
            if e.entity == "queue_item":
                return item_key[int(e.entity_id)]
            if e.entity == "unapplied_cash":
                return cash_key[int(e.entity_id)]
            if e.entity == "transaction":
                return txn_ref[int(e.entity_id)]
            return e.entity_id

        return {
            "transactions": sorted((t.bank_reference, t.status, t.customer_id, t.ignore_reason)
                                   for t in s.scalars(select(BankTransaction))),
            "invoices": sorted((i.invoice_id, i.open_amount, i.status) for i in s.scalars(select(Invoice))),
            "allocations": [(alloc_key[a.id], a.amount, a.adjustment_amount, a.adjustment_reason, a.status,
                             a.confidence, a.reason, a.evidence, a.automatic, a.decided_by) for a in allocs],
            "unapplied": [(cash_key[c.id], c.customer_id, c.amount, c.currency, c.status, c.reason, c.created_by)
                          for c in cash],
            "queue": [(item_key[q.id], q.reason, q.detail, q.customer_id, q.status, q.created_by) for q in items],
            "suggestions": [(item_key[x.queue_item_id], x.rank, x.invoice_id, x.amount, x.adjustment_amount,
                             x.adjustment_reason, x.confidence, x.reason, x.evidence)
                            for x in s.scalars(select(Suggestion).order_by(Suggestion.id))],
            "audit": [(e.actor, e.action, txn_ref.get(e.transaction_id), e.invoice_id, e.entity, entity(e), e.before,
                       e.after, e.detail) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))],
        }


def test_bulk_equals_orm(engine: Engine, tmp_path: Path) -> None:
    reference = make_engine(f"sqlite:///{tmp_path / 'orm.db'}")
    ensure_schema(reference)
    _apply_orm(reference, _books(reference))
    _apply_bulk(engine, _books(engine))
    want, got = _state(reference), _state(engine)
    for key in want:
        assert got[key] == want[key], key
    assert want["allocations"][2][4] == "pending_approval"  # the case is in the data
    assert any(q[1] == "pending-approval" for q in want["queue"])
    reference.dispose()


def test_a_chunk_is_all_or_nothing(engine: Engine) -> None:
    ids = _books(engine)
    good = BulkPost(TxnState(ids["T1"], Decimal("1200.00"), "EUR"), [AllocationLine("I1", Decimal("1200.00"))],
                    "reference+amount", Decimal("1"), {}, "C1")
    bad = BulkPost(TxnState(ids["T2"], Decimal("900.00"), "EUR"), [AllocationLine("I1", Decimal("900.00"))],
                   "reference+amount", Decimal("1"), {}, "C1")  # I1 is already paid by the first
    invoices = {"I1": InvoiceState(Decimal("1200.00"), Decimal("1200.00"), "EUR")}
    with pytest.raises(PostingError):
        with engine.begin() as conn:
            write_chunk(conn, [good, bad], invoices, actor="recon")
    with transaction(engine) as s:
        assert s.scalars(select(Allocation)).all() == []
        assert s.get(Invoice, "I1").open_amount == Decimal("1200.00")


def test_guard_refuses_a_transaction_decided_meanwhile(engine: Engine) -> None:
    ids = _books(engine)
    with transaction(engine) as s:
        posting.ignore(s, s.get(BankTransaction, ids["T5"]), "by hand", actor="anna", automatic=False)
    with pytest.raises(PostingError):
        with engine.begin() as conn:
            write_chunk(conn, [BulkIgnore(TxnState(ids["T5"], Decimal("12.00"), "EUR"), "interest")], {},
                        actor="recon")


def test_guard_refuses_an_invoice_changed_meanwhile(engine: Engine) -> None:
    ids = _books(engine)
    with transaction(engine) as s:
        posting.post(s, s.get(BankTransaction, ids["T4"]), [AllocationLine("I1", Decimal("300.00"))], actor="anna",
                     reason="manual", automatic=False)
    decision = BulkPost(TxnState(ids["T1"], Decimal("1200.00"), "EUR"), [AllocationLine("I1", Decimal("1200.00"))],
                        "reference+amount", Decimal("1"), {}, "C1")
    with pytest.raises(PostingError):
        with engine.begin() as conn:
            write_chunk(conn, [decision], {"I1": InvoiceState(Decimal("1200.00"), Decimal("1200.00"), "EUR")},
                        actor="recon")
