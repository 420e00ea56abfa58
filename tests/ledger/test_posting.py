"""The posting core's invariants, on SQLite and PostgreSQL.

Each test reads the result back from the database in a fresh session: what
counts is what was committed (or, after a failure, that nothing was).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

import ledger.posting as posting
from ledger.db import transaction
from ledger.models import Allocation, AuditEntry, BankTransaction, QueueItem, UnappliedCash
from ledger.posting import AllocationLine, PostingError
from tests.ledger.books import Books, invoice_state, transaction_status

D = Decimal


@pytest.fixture
def books(engine: Engine) -> Books:
    b = Books(engine)
    b.customer("C1", "Acme GmbH", accounts=("DE02100100109307118603",))
    b.customer("C2", "Beta B.V.")
    b.invoice("INV-1", "C1", "100.00")
    b.invoice("INV-2", "C1", "250.00")
    b.invoice("INV-3", "C2", "80.00")
    return b


def _post(engine: Engine, txn_id: int, lines: list[AllocationLine], **kw) -> list[int]:
    kw.setdefault("actor", "alice")
    kw.setdefault("reason", "manual")
    kw.setdefault("automatic", False)
    with transaction(engine) as s:
        txn = s.get(BankTransaction, txn_id)
        return [a.id for a in posting.post(s, txn, lines, **kw)]


def _count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_posting_reduces_open_amount_and_sets_status(engine: Engine, books: Books) -> None:
    t1 = books.transaction("40.00")
    _post(engine, t1, [AllocationLine("INV-1", D("40.00"))])
    assert invoice_state(engine, "INV-1") == (D("60.00"), "partly_paid")
    assert transaction_status(engine, t1) == "posted"

    t2 = books.transaction("60.00")
    _post(engine, t2, [AllocationLine("INV-1", D("60.00"))])
    assert invoice_state(engine, "INV-1") == (D("0.00"), "paid")


def test_adjustment_closes_the_rest_with_its_reason(engine: Engine, books: Books) -> None:
    t = books.transaction("338.00")
    _post(
        engine, t,
        [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("238.00"), D("12.00"), "bank-charges")],
        approval_limit=D("50.00"),
    )
    assert invoice_state(engine, "INV-2") == (D("0.00"), "paid")
    with transaction(engine) as s:
        alloc = s.scalars(select(Allocation).where(Allocation.invoice_id == "INV-2")).one()
        assert (alloc.amount, alloc.adjustment_amount, alloc.adjustment_reason, alloc.status) == (
            D("238.00"), D("12.00"), "bank-charges", "posted",
        )


def test_over_allocating_an_invoice_is_refused_and_changes_nothing(engine: Engine, books: Books) -> None:
    t = books.transaction("120.00")
    with pytest.raises(PostingError, match="INV-1 has 100.00 open; cannot allocate 120.00"):
        _post(engine, t, [AllocationLine("INV-1", D("120.00"))])
    # cash plus adjustment counts against the open amount too
    with pytest.raises(PostingError, match="INV-1 has 100.00 open"):
        _post(engine, t, [AllocationLine("INV-1", D("95.00"), D("10.00"), "discount")], remainder="unapplied")
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")
    assert transaction_status(engine, t) == "new"
    assert _count(engine, Allocation) == 0
    assert _count(engine, AuditEntry) == 0


def test_over_allocating_a_transaction_is_refused(engine: Engine, books: Books) -> None:
    t = books.transaction("300.00")
    with pytest.raises(PostingError, match="exceed the payment of 300.00"):
        _post(engine, t, [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("250.00"))])
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")
    assert _count(engine, Allocation) == 0


def test_a_remainder_is_refused_unless_put_on_account(engine: Engine, books: Books) -> None:
    t = books.transaction("130.00")
    with pytest.raises(PostingError, match="leave 30.00 of the payment of 130.00 unallocated"):
        _post(engine, t, [AllocationLine("INV-1", D("100.00"))])
    _post(engine, t, [AllocationLine("INV-1", D("100.00"))], remainder="unapplied")
    with transaction(engine) as s:
        cash = s.scalars(select(UnappliedCash)).one()
        assert (cash.customer_id, cash.amount, cash.reason, cash.status) == ("C1", D("30.00"), "overpayment", "open")
    assert transaction_status(engine, t) == "posted"


def test_a_debit_or_another_currency_is_never_posted(engine: Engine, books: Books) -> None:
    debit = books.transaction("-100.00")
    with pytest.raises(PostingError, match="is a debit"):
        _post(engine, debit, [AllocationLine("INV-1", D("100.00"))])
    usd = books.transaction("100.00", currency="USD", account="US-ACC-1")
    with pytest.raises(PostingError, match="recon never posts across currencies"):
        _post(engine, usd, [AllocationLine("INV-1", D("100.00"))])
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")


def test_unknown_invoice_or_customer_is_a_clear_refusal(engine: Engine, books: Books) -> None:
    t = books.transaction("100.00")
    with pytest.raises(PostingError, match="unknown invoice NOPE"):
        _post(engine, t, [AllocationLine("NOPE", D("100.00"))])
    with pytest.raises(PostingError, match="unknown customer C404"), transaction(engine) as s:
        posting.assign_on_account(s, s.get(BankTransaction, t), "C404", actor="alice")
    assert _count(engine, UnappliedCash) == 0


def test_schema_refuses_what_the_code_must_never_do(engine: Engine, books: Books) -> None:
    """The constraints hold even for code that bypasses the posting core."""
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.execute(text("UPDATE invoices SET open_amount = -1 WHERE invoice_id = 'INV-1'"))
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.execute(text("UPDATE invoices SET open_amount = 101 WHERE invoice_id = 'INV-1'"))
    t = books.transaction("10.00")
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.add(Allocation(transaction_id=t, invoice_id="INV-1", amount=D("-5"), reason="x", decided_by="x"))
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.add(Allocation(transaction_id=t, invoice_id="INV-404", amount=D("5"), reason="x", decided_by="x"))
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")


def test_a_crash_in_the_middle_of_a_posting_leaves_no_partial_state(
    engine: Engine, books: Books, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first invoice is already reduced and audited in the session when the second audit write fails."""
    t = books.transaction("350.00", name="ACME GMBH", payer_account="DE44500105175407324931")
    real_audit = posting.audit
    calls = {"n": 0}

    def failing_audit(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return real_audit(*args, **kwargs)

    monkeypatch.setattr(posting, "audit", failing_audit)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _post(engine, t, [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("250.00"))],
              learn_payer=True)
    assert calls["n"] == 2
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")
    assert transaction_status(engine, t) == "new"
    assert _count(engine, Allocation) == 0
    assert _count(engine, AuditEntry) == 0
    assert _count(engine, QueueItem) == 0

    monkeypatch.setattr(posting, "audit", real_audit)
    _post(engine, t, [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("250.00"))])
    assert invoice_state(engine, "INV-2") == (D("0.00"), "paid")


def test_four_eyes_same_user_refused_second_user_accepted(engine: Engine, books: Books) -> None:
    t = books.transaction("170.00")
    _post(engine, t, [AllocationLine("INV-2", D("170.00"), D("80.00"), "write-off")],
          actor="alice", approval_limit=D("50.00"))
    # pending: the invoice is untouched and the transaction waits in the queue
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")
    assert transaction_status(engine, t) == "queued"
    with transaction(engine) as s:
        item = posting.open_queue_item(s, t)
        assert item is not None and item.reason == "pending-approval"

    with pytest.raises(PostingError, match="alice decided this allocation and cannot approve it too"):
        with transaction(engine) as s:
            posting.approve(s, s.get(BankTransaction, t), actor="alice")
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")

    with transaction(engine) as s:
        posting.approve(s, s.get(BankTransaction, t), actor="bob")
    assert invoice_state(engine, "INV-2") == (D("0.00"), "paid")
    assert transaction_status(engine, t) == "posted"
    with transaction(engine) as s:
        alloc = s.scalars(select(Allocation)).one()
        assert (alloc.status, alloc.decided_by, alloc.approved_by) == ("posted", "alice", "bob")
        assert posting.open_queue_item(s, t) is None
        actions = [(e.actor, e.action) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("alice", "post-pending") in actions and ("bob", "approve") in actions


def test_an_adjustment_at_the_limit_needs_no_second_person(engine: Engine, books: Books) -> None:
    t = books.transaction("200.00")
    _post(engine, t, [AllocationLine("INV-2", D("200.00"), D("50.00"), "discount")], approval_limit=D("50.00"))
    assert invoice_state(engine, "INV-2") == (D("0.00"), "paid")


def test_unmatch_restores_invoices_and_the_audit_keeps_both(engine: Engine, books: Books) -> None:
    t = books.transaction("360.00")
    _post(engine, t, [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("250.00"))],
          remainder="unapplied", actor="alice")
    with transaction(engine) as s:
        assert posting.unmatch(s, s.get(BankTransaction, t), actor="bob", note="wrong customer") == 2
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")
    assert transaction_status(engine, t) == "queued"
    with transaction(engine) as s:
        assert {a.status for a in s.scalars(select(Allocation))} == {"reversed"}
        assert s.scalars(select(UnappliedCash)).one().status == "reversed"
        item = posting.open_queue_item(s, t)
        assert item is not None and item.reason == "reversed" and "wrong customer" in (item.detail or "")
        trail = [(e.actor, e.action, e.invoice_id) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.transaction_id == t).order_by(AuditEntry.id))]
    assert ("alice", "post", "INV-1") in trail and ("alice", "post", "INV-2") in trail
    assert ("bob", "unmatch", "INV-1") in trail and ("bob", "unmatch", "INV-2") in trail
    assert trail.index(("alice", "post", "INV-1")) < trail.index(("bob", "unmatch", "INV-1"))

    # and it can be decided again
    _post(engine, t, [AllocationLine("INV-2", D("250.00")), AllocationLine("INV-3", D("80.00"))],
          remainder="unapplied", customer_id="C1")
    assert invoice_state(engine, "INV-3") == (D("0.00"), "paid")


def test_unmatch_brings_back_a_dismissed_line_and_refuses_an_open_one(engine: Engine, books: Books) -> None:
    t = books.transaction("55.00")
    with pytest.raises(PostingError, match="has no posting to undo"), transaction(engine) as s:
        posting.unmatch(s, s.get(BankTransaction, t), actor="bob")
    with transaction(engine) as s:
        posting.ignore(s, s.get(BankTransaction, t), "tax refund", actor="alice", automatic=False)
    assert transaction_status(engine, t) == "ignored"
    with transaction(engine) as s:
        posting.unmatch(s, s.get(BankTransaction, t), actor="bob")
    assert transaction_status(engine, t) == "queued"


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
def test_the_audit_trail_is_append_only_in_the_database(engine: Engine, books: Books, statement: str) -> None:
    t = books.transaction("100.00")
    _post(engine, t, [AllocationLine("INV-1", D("100.00"))])
    before = _count(engine, AuditEntry)
    assert before > 0
    with pytest.raises(DBAPIError, match="append-only"), transaction(engine) as s:
        s.execute(text(statement))
    assert _count(engine, AuditEntry) == before
    with transaction(engine) as s:
        assert "mallory" not in set(s.scalars(select(AuditEntry.actor)))


def test_two_people_deciding_the_same_line_at_once_settle_it_once(engine: Engine, books: Books) -> None:
    """The first decision holds its database transaction open; the second must wait and then refuse."""
    t = books.transaction("100.00")
    first_posted = threading.Event()
    errors: dict[str, BaseException] = {}

    def first() -> None:
        with transaction(engine) as s:
            posting.post(s, s.get(BankTransaction, t), [AllocationLine("INV-1", D("100.00"))],
                         actor="alice", reason="manual", automatic=False)
            first_posted.set()
            time.sleep(1.0)  # still uncommitted while the second person decides

    def second() -> None:
        first_posted.wait(10)
        try:
            with transaction(engine) as s:
                txn = s.get(BankTransaction, t)
                posting.post(s, txn, [AllocationLine("INV-1", D("100.00"))],
                             actor="bob", reason="manual", automatic=False)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors["second"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert isinstance(errors.get("second"), PostingError), errors
    assert "already posted" in str(errors["second"])
    with transaction(engine) as s:
        assert [(a.decided_by, a.amount) for a in s.scalars(select(Allocation))] == [("alice", D("100.00"))]
    assert invoice_state(engine, "INV-1") == (D("0.00"), "paid")


def test_learning_remembers_the_payer_account_and_name_once(engine: Engine, books: Books) -> None:
    from ledger.models import CustomerAccount, CustomerAlias

    t1 = books.transaction("30.00", name="ACME Holding", payer_account="nl91 abna 0417 1643 00")
    t2 = books.transaction("20.00", name="ACME Holding", payer_account="NL91ABNA0417164300")
    for t in (t1, t2):
        _post(engine, t, [AllocationLine("INV-1", D(transaction_amount(engine, t)))], learn_payer=True)
    with transaction(engine) as s:
        accounts = [(a.customer_id, a.account, a.source) for a in s.scalars(
            select(CustomerAccount).where(CustomerAccount.source == "learned"))]
        aliases = [(a.customer_id, a.alias) for a in s.scalars(select(CustomerAlias))]
    assert accounts == [("C1", "NL91ABNA0417164300", "learned")]
    assert aliases == [("C1", "ACME Holding")]


def transaction_amount(engine: Engine, txn_id: int) -> str:
    with transaction(engine) as s:
        return str(s.get(BankTransaction, txn_id).amount)



def _settled(engine: Engine, txn_id: int) -> Decimal:
    with transaction(engine) as s:
        return s.get(BankTransaction, txn_id).settled_amount  # type: ignore[union-attr]


def test_settled_amount_follows_postings_and_the_schema_refuses_over_settlement(engine: Engine, books: Books) -> None:
    """settled_amount = live allocations' cash + open unapplied cash; the database refuses more than the payment."""
    t = books.transaction("130.00")
    _post(engine, t, [AllocationLine("INV-1", D("100.00"))], remainder="unapplied")
    assert _settled(engine, t) == D("130.00")  # 100 applied + 30 unapplied
    with transaction(engine) as s:
        posting.unmatch(s, s.get(BankTransaction, t), actor="bob")  # type: ignore[arg-type]
    assert _settled(engine, t) == D("0.00")
    # code that bypassed the posting core could still not settle a payment beyond its amount
    with pytest.raises(IntegrityError), transaction(engine) as s:
        s.execute(text("UPDATE bank_transactions SET settled_amount = 130.01 WHERE id = :id"), {"id": t})
