"""A small set of books for tests: customers, invoices and bank lines written straight through the ORM.

Tests of posting, the queue, the export and the audit trail use this instead
of the importer and the matcher, so that they test one thing each; the
end-to-end test (``tests/cli/test_e2e_accountant.py``) drives the real
commands instead.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, select

from ledger.db import transaction
from ledger.models import (
    BankAccount,
    BankTransaction,
    Customer,
    CustomerAccount,
    Invoice,
    Statement,
    StatementFile,
)

OUR_ACCOUNT = "DE89370400440532013000"


class Books:
    """Builds test data; every method commits its own database transaction and returns keys, not objects."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lines = 0

    def customer(self, customer_id: str, name: str, *, accounts: tuple[str, ...] = ()) -> str:
        """A customer with the bank accounts it pays from."""
        with transaction(self.engine) as s:
            s.add(Customer(customer_id=customer_id, name=name))
            s.flush()
            for acc in accounts:
                s.add(CustomerAccount(customer_id=customer_id, account=acc))
        return customer_id

    def invoice(
        self,
        invoice_id: str,
        customer_id: str,
        amount: str,
        *,
        open_amount: str | None = None,
        currency: str = "EUR",
        issue: date = date(2026, 9, 1),
        due: date = date(2026, 10, 1),
        reference: str | None = None,
    ) -> str:
        """An invoice, open for ``open_amount`` (default: all of it)."""
        amt = Decimal(amount)
        open_amt = Decimal(open_amount) if open_amount is not None else amt
        status = "open" if open_amt == amt else ("paid" if open_amt == 0 else "partly_paid")
        with transaction(self.engine) as s:
            s.add(
                Invoice(
                    invoice_id=invoice_id,
                    customer_id=customer_id,
                    issue_date=issue,
                    due_date=due,
                    currency=currency,
                    amount=amt,
                    open_amount=open_amt,
                    erp_open_amount=open_amt,
                    reference=reference,
                    status=status,
                )
            )
        return invoice_id

    def transaction(
        self,
        amount: str,
        *,
        bank_reference: str | None = None,
        name: str | None = None,
        payer_account: str | None = None,
        remittance: str | None = None,
        booking: date = date(2026, 10, 5),
        currency: str = "EUR",
        account: str = OUR_ACCOUNT,
        raw: str | None = None,
    ) -> int:
        """A bank line on our ``account`` (status ``new``); returns its id."""
        self._lines += 1
        n = self._lines
        with transaction(self.engine) as s:
            acct = s.scalars(select(BankAccount).where(BankAccount.account == account)).first()
            if acct is None:
                acct = BankAccount(account=account, currency=currency)
                s.add(acct)
                s.flush()
            digest = hashlib.sha256(f"{account}-{n}-{amount}-{bank_reference}".encode()).hexdigest()
            f = StatementFile(content_hash=digest, file_name=f"test-{n}.xml", format="test", size_bytes=1)
            s.add(f)
            s.flush()
            st = Statement(file_id=f.id, account_id=acct.id, kind="test", currency=currency)
            s.add(st)
            s.flush()
            txn = BankTransaction(
                statement_id=st.id,
                account_id=acct.id,
                line_key=digest,
                position=0,
                bank_reference=bank_reference,
                booking_date=booking,
                value_date=booking,
                amount=Decimal(amount),
                currency=currency,
                counterparty_name=name,
                counterparty_account=payer_account,
                remittance=remittance,
                raw=raw if raw is not None else f":61:{booking:%y%m%d}C{amount}NTRF//{bank_reference or 'NONREF'}",
                status="new",
            )
            s.add(txn)
            s.flush()
            return txn.id


def invoice_state(engine: Engine, invoice_id: str) -> tuple[Decimal, str]:
    """(open_amount, status) of an invoice as the database holds it."""
    with transaction(engine) as s:
        inv = s.get(Invoice, invoice_id)
        assert inv is not None
        return inv.open_amount, inv.status


def transaction_status(engine: Engine, transaction_id: int) -> str:
    """The status of a bank line as the database holds it."""
    with transaction(engine) as s:
        txn = s.get(BankTransaction, transaction_id)
        assert txn is not None
        return txn.status
