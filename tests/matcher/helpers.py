"""Small hand-written books for matcher tests, written straight through the ORM in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from ledger.db import transaction
from ledger.models import (
    Allocation,
    BankAccount,
    BankTransaction,
    Customer,
    CustomerAccount,
    CustomerAlias,
    Invoice,
    QueueItem,
    Statement,
    StatementFile,
    Suggestion,
)

OUR_ACCOUNT = "DE89370400440532013000"


@dataclass
class Books:
    """Collects customers, invoices and bank lines; :meth:`save` writes them all at once."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def customer(self, customer_id: str, name: str, *, accounts: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
                 parent: str | None = None, learned_accounts: tuple[str, ...] = (),
                 learned_aliases: tuple[str, ...] = ()) -> Books:
        self.customers.append(dict(customer_id=customer_id, name=name, accounts=accounts, aliases=aliases,
                                   parent=parent, learned_accounts=learned_accounts, learned_aliases=learned_aliases))
        return self

    def invoice(self, invoice_id: str, customer_id: str, amount: str, *, open_amount: str | None = None,
                currency: str = "EUR", due: date = date(2026, 10, 1), reference: str | None = None,
                discount_pct: str | None = None, discount_until: date | None = None) -> Books:
        self.invoices.append(dict(invoice_id=invoice_id, customer_id=customer_id, amount=amount,
                                  open_amount=open_amount, currency=currency, due=due, reference=reference,
                                  discount_pct=discount_pct, discount_until=discount_until))
        return self

    def line(self, amount: str, *, name: str | None = None, account: str | None = None, text: str | None = None,
             booking: date = date(2026, 10, 5), currency: str = "EUR", ref: str | None = None,
             creditor_reference: str | None = None, ultimate_debtor: str | None = None,
             bank_code: str | None = None) -> Books:
        self.lines.append(dict(amount=amount, name=name, account=account, text=text, booking=booking,
                               currency=currency, ref=ref or f"B{len(self.lines) + 1}",
                               creditor_reference=creditor_reference, ultimate_debtor=ultimate_debtor,
                               bank_code=bank_code))
        return self

    def save(self, engine: Engine) -> dict[str, int]:
        """Write everything; returns bank reference -> transaction id."""
        ids: dict[str, int] = {}
        with transaction(engine) as s:
            for c in sorted(self.customers, key=lambda c: c["parent"] is not None):
                s.add(Customer(customer_id=c["customer_id"], name=c["name"], parent_id=c["parent"]))
                s.flush()
                for a in c["accounts"]:
                    s.add(CustomerAccount(customer_id=c["customer_id"], account=a))
                for a in c["learned_accounts"]:
                    s.add(CustomerAccount(customer_id=c["customer_id"], account=a, source="learned"))
                for a in c["aliases"]:
                    s.add(CustomerAlias(customer_id=c["customer_id"], alias=a))
                for a in c["learned_aliases"]:
                    s.add(CustomerAlias(customer_id=c["customer_id"], alias=a, source="learned"))
            for i in self.invoices:
                amt = Decimal(i["amount"])
                op = Decimal(i["open_amount"]) if i["open_amount"] is not None else amt
                status = "open" if op == amt else ("paid" if op == 0 else "partly_paid")
                s.add(Invoice(invoice_id=i["invoice_id"], customer_id=i["customer_id"], issue_date=date(2026, 9, 1),
                              due_date=i["due"], currency=i["currency"], amount=amt, open_amount=op,
                              erp_open_amount=op, reference=i["reference"], status=status,
                              discount_pct=Decimal(i["discount_pct"]) if i["discount_pct"] else None,
                              discount_until=i["discount_until"]))
            s.flush()
            if not self.lines:
                return ids
            acct = s.scalars(select(BankAccount).where(BankAccount.account == OUR_ACCOUNT)).first()
            if acct is None:
                acct = BankAccount(account=OUR_ACCOUNT, currency="EUR")
                s.add(acct)
                s.flush()
            n = s.scalars(select(StatementFile.id)).all()
            f = StatementFile(content_hash=hashlib.sha256(f"f{len(n)}".encode()).hexdigest(), file_name="t.xml",
                              format="test", size_bytes=1)
            s.add(f)
            s.flush()
            st = Statement(file_id=f.id, account_id=acct.id, kind="test", currency="EUR")
            s.add(st)
            s.flush()
            for pos, ln in enumerate(self.lines):
                txn = BankTransaction(
                    statement_id=st.id, account_id=acct.id,
                    line_key=hashlib.sha256(f"{f.id}-{pos}".encode()).hexdigest(), position=pos,
                    bank_reference=ln["ref"], booking_date=ln["booking"], value_date=ln["booking"],
                    amount=Decimal(ln["amount"]), currency=ln["currency"], counterparty_name=ln["name"],
                    counterparty_account=ln["account"], remittance=ln["text"],
                    creditor_reference=ln["creditor_reference"], ultimate_debtor=ln["ultimate_debtor"],
                    bank_code=ln["bank_code"], raw="", status="new",
                )
                s.add(txn)
                s.flush()
                ids[ln["ref"]] = txn.id
        self.lines = []
        self.customers = []
        self.invoices = []
        return ids


@dataclass
class Outcome:
    """What the database says about one transaction after matching."""

    status: str
    allocations: list[tuple[str, Decimal, Decimal, str | None, str]]  # invoice, cash, adjustment, adj reason, reason
    queue_reason: str | None
    suggestions: list[tuple[int, str, Decimal]]  # rank, invoice, amount
    ignore_reason: str | None
    evidence: dict[str, Any] | None
    customer_id: str | None


def outcome(engine: Engine, txn_id: int) -> Outcome:
    """The transaction's status, active allocations, open queue item and suggestions."""
    with transaction(engine) as s:
        txn = s.get(BankTransaction, txn_id)
        assert txn is not None
        allocs = s.scalars(select(Allocation).where(Allocation.transaction_id == txn_id,
                                                    Allocation.status != "reversed").order_by(Allocation.id)).all()
        item = s.scalars(select(QueueItem).where(QueueItem.transaction_id == txn_id,
                                                 QueueItem.status == "open")).first()
        sugg = []
        if item is not None:
            sugg = [(x.rank, x.invoice_id, x.amount) for x in s.scalars(
                select(Suggestion).where(Suggestion.queue_item_id == item.id).order_by(Suggestion.rank, Suggestion.id))]
        return Outcome(
            txn.status,
            [(a.invoice_id, a.amount, a.adjustment_amount, a.adjustment_reason, a.reason) for a in allocs],
            item.reason if item else None,
            sugg,
            txn.ignore_reason,
            allocs[0].evidence if allocs else None,
            txn.customer_id,
        )


def open_amount(engine: Engine, invoice_id: str) -> tuple[Decimal, str]:
    with transaction(engine) as s:
        inv = s.get(Invoice, invoice_id)
        assert inv is not None
        return inv.open_amount, inv.status
