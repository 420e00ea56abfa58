"""Property tests: whatever the payments and invoices, allocations never exceed a transaction's amount
or an invoice's open amount, and nothing is allocated twice."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from jobs.match import run_match
from ledger.db import ensure_schema, make_engine, transaction
from ledger.models import Allocation, BankTransaction, Invoice, UnappliedCash
from matcher.decision import InvoiceBook, Payer, RefHit, TxnFacts, decide
from matcher.settings import MatchSettings
from rules import load_rules
from tests.matcher.helpers import Books

FORMS = ["rf", "exact", "leading-zeros", "digits-only", "typo"]
amounts = st.integers(min_value=1, max_value=300_000)


@st.composite
def scenario(draw):  # type: ignore[no-untyped-def]
    n_inv = draw(st.integers(1, 8))
    customers = ["C1", "C2", "C3"]
    inv = []
    for _ in range(n_inv):
        amount = draw(st.sampled_from([10000, 20000, 30000, 12345]) | amounts)
        open_ = draw(st.sampled_from([amount, amount, 0]) | st.integers(0, amount))
        disc = draw(st.sampled_from([0, 0, amount // 50]))
        inv.append((draw(st.sampled_from(customers)), amount, open_, disc, draw(st.sampled_from(["EUR", "EUR", "USD"]))))
    txns = []
    for _ in range(draw(st.integers(1, 10))):
        pick = [x for x in draw(st.lists(st.integers(0, n_inv - 1), max_size=3))]
        paid = draw(st.sampled_from([inv[p][2] for p in pick] + [sum(inv[p][2] for p in pick)]) if pick else amounts)
        paid = paid if paid != 0 else draw(amounts)
        payer = draw(st.none() | st.sampled_from(customers))
        txns.append((draw(st.sampled_from([paid, paid, -paid, paid + 500, max(paid - 700, 1)])), pick,
                     [draw(st.sampled_from(FORMS)) for _ in pick], payer, draw(st.sampled_from(["EUR", "EUR", "USD"]))))
    return inv, txns


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_decisions_never_overallocate(case) -> None:  # type: ignore[no-untyped-def]
    inv, txns = case
    day = date(2026, 10, 5)
    book = InvoiceBook(
        [f"I{i}" for i in range(len(inv))], [r[0] for r in inv], [r[4] for r in inv], [r[1] for r in inv],
        [r[2] for r in inv], [r[3] for r in inv], [(day + timedelta(days=5)).toordinal()] * len(inv),
        [day.toordinal()] * len(inv), parent={"C2": "C1"},
    ).finish()
    start = list(book.open)
    taken = [0] * len(inv)
    s = MatchSettings()
    for k, (paid, pick, forms, payer, cur) in enumerate(txns):
        facts = TxnFacts(k, paid, cur, day, day, hits=[RefHit(p, f, "x") for p, f in zip(pick, forms, strict=True)],
                         payer=Payer((payer,), 1.0, "account") if payer else None)
        d = decide(facts, book, s)
        if paid <= 0:
            assert d.kind == "ignore"
        if d.kind != "post":
            continue
        assert sum(ln.cash for ln in d.lines) <= paid
        assert len({ln.inv for ln in d.lines}) == len(d.lines)
        if d.remainder == "error":
            assert sum(ln.cash for ln in d.lines) == paid
        for ln in d.lines:
            assert ln.cash >= 0 and ln.adjustment >= 0 and ln.cash + ln.adjustment > 0
            assert ln.cash + ln.adjustment <= book.open[ln.inv]
            assert book.currency[ln.inv] == cur
            book.open[ln.inv] -= ln.cash + ln.adjustment
            taken[ln.inv] += ln.cash + ln.adjustment
    for i in range(len(inv)):
        assert book.open[i] >= 0 and taken[i] <= start[i]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario())
def test_database_invariants_after_a_run(tmp_path_factory, case) -> None:  # type: ignore[no-untyped-def]
    inv, txns = case
    path: Path = tmp_path_factory.mktemp("prop") / "recon.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    b = Books()
    for c in ("C1", "C2", "C3"):
        b.customer(c, f"Customer {c}", accounts=(f"ACC{c}",))
    for i, (cust, amount, open_, disc, cur) in enumerate(inv):
        b.invoice(f"INV-{1000 + i}", cust, str(Decimal(amount) / 100), open_amount=str(Decimal(open_) / 100),
                  currency=cur, discount_pct="2" if disc else None, discount_until=date(2026, 10, 10) if disc else None)
    for paid, pick, _forms, payer, cur in txns:
        b.line(str(Decimal(paid) / 100), account=f"ACC{payer}" if payer else None, currency=cur,
               text=" ".join(f"INV-{1000 + p}" for p in pick) or None)
    b.save(engine)
    run_match(engine, load_rules())
    with transaction(engine) as s:
        allocs = s.scalars(select(Allocation).where(Allocation.status != "reversed")).all()
        for txn in s.scalars(select(BankTransaction)):
            mine = [a for a in allocs if a.transaction_id == txn.id]
            cash = sum((a.amount for a in mine), Decimal(0))
            cash += sum((c.amount for c in s.scalars(select(UnappliedCash).where(UnappliedCash.transaction_id == txn.id))),
                        Decimal(0))
            assert cash <= max(txn.amount, Decimal(0))
            if txn.status == "posted":
                assert cash == txn.amount
        for invoice in s.scalars(select(Invoice)):
            posted = sum((a.amount + a.adjustment_amount for a in allocs
                          if a.invoice_id == invoice.invoice_id and a.status == "posted"), Decimal(0))
            assert invoice.open_amount >= 0
            assert invoice.open_amount + posted <= invoice.amount
    engine.dispose()
