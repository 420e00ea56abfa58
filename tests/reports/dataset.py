"""A hand-checked set of books for the report tests, built through the ORM and ``ledger.posting``.

Every decision is made at a controlled moment (``Clock``), so that the
reports' "as at the cutoff" reading can be checked.  The figures each test
expects are worked out by hand in the test's docstring or comments; this
module only builds the data.

October 2026, account ``DE00OCT`` (EUR), statement opening 5,000.00 on 30 Sep:

====  ======  =========  ========================================================  ===========
txn   booked  amount     what happens (decision time)                               at 31 Oct 24:00
====  ======  =========  ========================================================  ===========
T1    10 Oct  1,000.00   auto post I1 (10 Oct)                                      auto
T2    15 Oct    780.00   manual post I3 780 + 20 discount (16 Oct)                  manual
T3    18 Oct    550.00   auto post I2 500 + 50 unapplied (18 Oct)                   auto 500, unapplied 50
T4    20 Oct    400.00   queued no-candidate (20 Oct)                               queue
T5    22 Oct    120.00   ignored "interest" by a rule (22 Oct)                      set aside
T6    25 Oct   -350.00   a debit, never touched                                     debit
T7    28 Oct    100.00   auto post I4 (28 Oct); undone 3 Nov                        auto
T8    30 Oct    250.00   queued ambiguous (30 Oct); manual post I6 (2 Nov)          queue
T9    31 Oct     60.00   never matched                                              unclassified
T10    5 Oct    200.00   auto post I5 (5 Oct), undone 7 Oct, manual post I5 (8 Oct)  manual
====  ======  =========  ========================================================  ===========

Closing balance 31 Oct: 5,000.00 + 3,460.00 - 350.00 = 8,110.00.
November: T11 25 Nov +60.00 auto post I9 (25 Nov).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

import ledger.posting as posting
from ledger.db import transaction
from ledger.models import BankAccount, BankTransaction, Customer, Invoice, Statement, StatementFile
from ledger.posting import AllocationLine, SuggestionGroup

ACCOUNT = "DE00OCT"


class Clock:
    """The time ``ledger.posting`` stamps on decisions, set by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date, hour: int = 10, minute: int = 0) -> None:
        """Decisions from now on happen at ``day`` ``hour``:``minute`` UTC."""
        self.now = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def install_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Make ``ledger.posting`` stamp decisions with a clock the test controls."""
    clock = Clock()
    monkeypatch.setattr(posting, "utcnow", clock)
    return clock


class Books:
    """Builds data; every method is one committed database transaction."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._n = 0

    def customer(self, customer_id: str, name: str, **kw: Any) -> str:
        with transaction(self.engine) as s:
            s.add(Customer(customer_id=customer_id, name=name, **kw))
        return customer_id

    def invoice(
        self, invoice_id: str, customer_id: str, amount: str, issue: date, due: date, *,
        open_amount: str | None = None, currency: str = "EUR",
    ) -> str:
        amt = Decimal(amount)
        open_amt = Decimal(open_amount) if open_amount is not None else amt
        status = "open" if open_amt == amt else ("paid" if open_amt == 0 else "partly_paid")
        with transaction(self.engine) as s:
            s.add(
                Invoice(
                    invoice_id=invoice_id, customer_id=customer_id, issue_date=issue, due_date=due,
                    currency=currency, amount=amt, open_amount=open_amt, erp_open_amount=open_amt, status=status,
                )
            )
        return invoice_id

    def statement(
        self, account: str, opening: str | None, opening_date: date | None, closing: str | None,
        closing_date: date | None, lines: list[tuple[date, str]], *, currency: str = "EUR",
        ref: str | None = None, warnings: list[str] | None = None, imported_at: datetime | None = None,
    ) -> list[int]:
        """A statement with its lines (booking date, amount); returns the transaction ids.

        The lines were imported at ``imported_at`` (default: the evening of their booking day)."""
        self._n += 1
        with transaction(self.engine) as s:
            acct = s.scalars(select(BankAccount).where(BankAccount.account == account)).first()
            if acct is None:
                acct = BankAccount(account=account, currency=currency)
                s.add(acct)
                s.flush()
            f = StatementFile(
                content_hash=hashlib.sha256(f"file-{self._n}".encode()).hexdigest(),
                file_name=f"stmt-{self._n}.sta", format="mt940", size_bytes=1,
            )
            s.add(f)
            s.flush()
            days = [d for d, _ in lines]
            st = Statement(
                file_id=f.id, account_id=acct.id, kind="mt940", statement_ref=ref, currency=currency,
                opening_balance=None if opening is None else Decimal(opening), opening_date=opening_date,
                closing_balance=None if closing is None else Decimal(closing), closing_date=closing_date,
                first_booking_date=min(days) if days else None, last_booking_date=max(days) if days else None,
                line_count=len(lines), duplicate_count=0, warnings=warnings,
            )
            s.add(st)
            s.flush()
            ids = []
            for pos, (day, amount) in enumerate(lines):
                txn = BankTransaction(
                    statement_id=st.id, account_id=acct.id,
                    line_key=hashlib.sha256(f"{self._n}-{pos}".encode()).hexdigest()[:40], position=pos,
                    bank_reference=f"REF{self._n}-{pos}", booking_date=day, value_date=day, amount=Decimal(amount),
                    currency=currency, counterparty_name=f"Payer {pos}", status="new",
                    created_at=imported_at or datetime(day.year, day.month, day.day, 23, 30, tzinfo=UTC),
                )
                s.add(txn)
                s.flush()
                ids.append(txn.id)
        return ids

    # decisions, each at the given moment --------------------------------------------------------

    def _txn(self, s: Any, tid: int) -> BankTransaction:
        txn = s.get(BankTransaction, tid)
        assert txn is not None
        return txn

    def post(self, when: date, tid: int, lines: list[tuple[str, str] | tuple[str, str, str, str]], *,
             automatic: bool, remainder: str = "error", customer_id: str | None = None) -> None:
        self.clock.set(when)
        with transaction(self.engine) as s:
            posting.post(
                s, self._txn(s, tid),
                [AllocationLine(ln[0], Decimal(ln[1]), *( (Decimal(ln[2]), ln[3]) if len(ln) == 4 else ())) for ln in lines],
                actor="recon" if automatic else "anna", reason="reference+amount" if automatic else "manual",
                automatic=automatic, remainder=remainder, customer_id=customer_id,
            )

    def enqueue(self, when: date, tid: int, reason: str, suggestion: tuple[str, str] | None = None) -> None:
        self.clock.set(when)
        groups = []
        if suggestion:
            groups.append(SuggestionGroup([AllocationLine(suggestion[0], Decimal(suggestion[1]))], Decimal("0.6"), "name+amount"))
        with transaction(self.engine) as s:
            posting.enqueue(s, self._txn(s, tid), reason, actor="recon", suggestions=groups)

    def ignore(self, when: date, tid: int, reason: str, *, automatic: bool = True) -> None:
        self.clock.set(when)
        with transaction(self.engine) as s:
            posting.ignore(s, self._txn(s, tid), reason, actor="recon" if automatic else "anna", automatic=automatic)

    def unmatch(self, when: date, tid: int) -> None:
        self.clock.set(when)
        with transaction(self.engine) as s:
            posting.unmatch(s, self._txn(s, tid), actor="anna", note="wrong invoice")


def october_books(
    engine: Engine, clock: Clock, *, extra_line: str | None = None, october_imported: datetime | None = None
) -> dict[str, Any]:
    """The October 2026 books described in the module docstring; returns the transaction ids by name.

    ``extra_line``: the bank's closing balance also holds a line of this
    amount that recon never received (a line left out).  ``october_imported``:
    when the October statement was imported (default: each line the evening
    of its booking day).
    """
    b = Books(engine, clock)
    b.customer("C1", "Alpha GmbH", email="ap@alpha.example", phone="+49 30 1111", credit_limit=Decimal("100.00"))
    b.customer("C2", "Beta SARL", email="compta@beta.example", credit_limit=Decimal("150.00"))
    b.customer("C3", "Gamma Ltd")
    b.customer("C4", "Delta Oy", credit_limit=Decimal("1000.00"))
    b.invoice("I1", "C1", "1000.00", date(2026, 9, 10), date(2026, 10, 10))
    b.invoice("I2", "C1", "500.00", date(2026, 10, 5), date(2026, 11, 4))
    b.invoice("I3", "C2", "800.00", date(2026, 9, 20), date(2026, 10, 20))
    b.invoice("I4", "C2", "300.00", date(2026, 10, 12), date(2026, 11, 11), open_amount="100.00")
    b.invoice("I5", "C3", "400.00", date(2026, 8, 1), date(2026, 8, 31))
    b.invoice("I6", "C3", "250.00", date(2026, 10, 20), date(2026, 11, 19))
    b.invoice("I7", "C4", "90.00", date(2026, 12, 1), date(2026, 12, 31))
    b.invoice("I8", "C1", "120.00", date(2026, 11, 1), date(2026, 12, 1))
    b.invoice("I9", "C2", "60.00", date(2026, 11, 1), date(2026, 11, 15))
    b.invoice("I10", "C2", "70.00", date(2026, 12, 10), date(2027, 1, 9))

    # September closes at 5,000.00
    b.statement(ACCOUNT, "4000.00", date(2026, 8, 31), "5000.00", date(2026, 9, 30), [(date(2026, 9, 15), "1000.00")],
                ref="SEP")
    oct_lines = [
        (date(2026, 10, 10), "1000.00"),  # T1
        (date(2026, 10, 15), "780.00"),   # T2
        (date(2026, 10, 18), "550.00"),   # T3
        (date(2026, 10, 20), "400.00"),   # T4
        (date(2026, 10, 22), "120.00"),   # T5
        (date(2026, 10, 25), "-350.00"),  # T6
        (date(2026, 10, 28), "100.00"),   # T7
        (date(2026, 10, 30), "250.00"),   # T8
        (date(2026, 10, 31), "60.00"),    # T9
        (date(2026, 10, 5), "200.00"),    # T10
    ]
    closing = Decimal("8110.00") + (Decimal(extra_line) if extra_line else Decimal("0"))
    ids = b.statement(ACCOUNT, "5000.00", date(2026, 9, 30), str(closing), date(2026, 10, 31), oct_lines, ref="OCT",
                      imported_at=october_imported)
    t = {f"T{i + 1}": tid for i, tid in enumerate(ids)}

    b.post(date(2026, 10, 5), t["T10"], [("I5", "200.00")], automatic=True)
    b.unmatch(date(2026, 10, 7), t["T10"])
    b.post(date(2026, 10, 8), t["T10"], [("I5", "200.00")], automatic=False)
    b.post(date(2026, 10, 10), t["T1"], [("I1", "1000.00")], automatic=True)
    b.post(date(2026, 10, 16), t["T2"], [("I3", "780.00", "20.00", "discount")], automatic=False)
    b.post(date(2026, 10, 18), t["T3"], [("I2", "500.00")], automatic=True, remainder="unapplied")
    b.enqueue(date(2026, 10, 20), t["T4"], "no-candidate")
    b.ignore(date(2026, 10, 22), t["T5"], "interest")
    b.post(date(2026, 10, 28), t["T7"], [("I4", "100.00")], automatic=True)
    b.enqueue(date(2026, 10, 30), t["T8"], "ambiguous", ("I6", "250.00"))
    # after the October cutoff
    b.post(date(2026, 11, 2), t["T8"], [("I6", "250.00")], automatic=False)
    b.unmatch(date(2026, 11, 3), t["T7"])
    nov = b.statement(ACCOUNT, str(closing), date(2026, 10, 31), str(closing + Decimal("60.00")), date(2026, 11, 30),
                      [(date(2026, 11, 25), "60.00")], ref="NOV")
    t["T11"] = nov[0]
    b.post(date(2026, 11, 25), t["T11"], [("I9", "60.00")], automatic=True)
    clock.set(date(2026, 12, 20))
    return t
