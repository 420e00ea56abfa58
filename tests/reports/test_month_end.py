"""The month-end reconciliation on the hand-checked October 2026 books (tests/reports/dataset.py).

Hand computation at the cutoff (31 Oct 24:00 UTC), opening balance 5,000.00:

* posted automatically: T1 1,000 + T3 500 (its allocation) + T7 100 (undone only on 3 Nov) = 1,600.00, 3 txns
* posted by a person: T2 780 + T10 200 (its automatic posting was undone on 7 Oct) = 980.00, 2 txns
* unapplied cash: T3's surplus 50.00 (T3 counts as automatic by count)
* in the queue: T4 400 + T8 250 (posted only on 2 Nov) = 650.00, 2 txns
* set aside: T5 120.00 (interest), 1 txn
* not classified: T9 60.00, 1 txn
* debits: T6 -350.00, 1 txn
* movements 3,110.00; expected closing 8,110.00 = the bank's closing balance: difference 0.00
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

import ledger.posting as posting
from ledger.db import transaction
from ledger.models import BankTransaction
from reports.data import ReportError, parse_period
from reports.month_end import ReconLine, month_end, reconcile
from tests.reports.dataset import ACCOUNT, Books, Clock, october_books

OCT = parse_period("2026-10")
D = Decimal


def lines_of(rec: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    return {ln["class"]: (ln["count"], ln["amount"]) for ln in rec["lines"]}


def test_difference_is_zero_when_every_movement_is_classified(engine: Engine, october: dict[str, int]) -> None:
    rep = month_end(engine, OCT)
    (acc,) = rep.data["accounts"]
    rec = acc["reconciliation"]
    assert acc["account"] == ACCOUNT
    assert acc["transactions"] == 10
    assert lines_of(rec) == {
        "auto": (3, D("1600.00")),
        "manual": (2, D("980.00")),
        "unapplied": (0, D("50.00")),
        "queue": (2, D("650.00")),
        "set_aside": (1, D("120.00")),
        "unclassified": (1, D("60.00")),
        "debit": (1, D("-350.00")),
    }
    assert rec["opening_balance"] == D("5000.00")
    assert rec["movements"] == D("3110.00")
    assert rec["expected_closing"] == D("8110.00")
    assert rec["closing_balance"] == D("8110.00")
    assert rec["difference"] == D("0.00")
    assert rec["explanation"] == []
    assert acc["set_aside_by_reason"] == [{"reason": "interest", "count": 1, "amount": D("120.00")}]
    (total,) = rep.data["totals"]
    assert total["currency"] == "EUR" and total["difference"] == D("0.00")


def test_a_line_recon_does_not_hold_is_the_exact_difference(engine: Engine, clock: Clock) -> None:
    # the bank's closing balance holds a line of 75.25 that never reached recon
    october_books(engine, clock, extra_line="75.25")
    rec = month_end(engine, OCT).data["accounts"][0]["reconciliation"]
    assert rec["closing_balance"] == D("8185.25")
    assert rec["expected_closing"] == D("8110.00")
    assert rec["difference"] == D("75.25")
    (explained,) = rec["explanation"]
    assert explained["amount"] == D("75.25")
    assert "lines recon does not hold" in explained["label"]


@pytest.mark.parametrize("left_out", ["auto", "manual", "unapplied", "queue", "set_aside", "unclassified", "debit"])
def test_leaving_a_class_out_makes_the_difference_exactly_that_line(
    engine: Engine, october: dict[str, int], left_out: str
) -> None:
    rec = month_end(engine, OCT).data["accounts"][0]["reconciliation"]
    lines = [ReconLine(ln["class"], ln["label"], ln["count"], ln["amount"]) for ln in rec["lines"]]
    kept = [ln for ln in lines if ln.key != left_out]
    (gone,) = [ln for ln in lines if ln.key == left_out]
    again = reconcile(rec["opening_balance"], rec["closing_balance"], kept)
    assert again["difference"] == gone.amount
    assert again["difference"] != 0


def test_decisions_after_the_cutoff_do_not_change_the_month(engine: Engine, october: dict[str, int], clock: Clock) -> None:
    before = month_end(engine, OCT).data
    # December: T4 is finally put on C4's account, T9 set aside by a person
    clock.set(date(2026, 12, 3))
    with transaction(engine) as s:
        posting.assign_on_account(s, s.get(BankTransaction, october["T4"]), "C4", actor="anna")
        posting.ignore(s, s.get(BankTransaction, october["T9"]), "internal transfer", actor="anna", automatic=False)
    after = month_end(engine, OCT).data
    for key in ("accounts", "totals", "automation", "automation_by_day", "book", "queue", "unapplied_cash", "aging"):
        assert after[key] == before[key], key


def test_a_later_cutoff_sees_the_later_decisions(engine: Engine, october: dict[str, int]) -> None:
    """As at 5 Nov: T7 was undone on 3 Nov (back in the queue), T8 posted by a person on 2 Nov."""
    rep = month_end(engine, OCT, as_at=datetime(2026, 11, 6, tzinfo=UTC))
    rec = rep.data["accounts"][0]["reconciliation"]
    assert lines_of(rec) == {
        "auto": (2, D("1500.00")),
        "manual": (3, D("1230.00")),
        "unapplied": (0, D("50.00")),
        "queue": (2, D("500.00")),
        "set_aside": (1, D("120.00")),
        "unclassified": (1, D("60.00")),
        "debit": (1, D("-350.00")),
    }
    assert rec["difference"] == D("0.00")


def test_the_cutoff_waits_for_a_late_import(engine: Engine, clock: Clock) -> None:
    """The October statement arrived on 2 Nov: the month is classified as it stood at 2 Nov 24:00,
    so T8 (posted by a person on 2 Nov) counts as posted; T7 (undone on 3 Nov) still as automatic."""
    october_books(engine, clock, october_imported=datetime(2026, 11, 2, 7, 0, tzinfo=UTC))
    data = month_end(engine, OCT, now=datetime(2026, 12, 1, tzinfo=UTC)).data
    assert data["cutoff"] == datetime(2026, 11, 3, tzinfo=UTC)
    assert data["provisional"] is False
    rec = data["accounts"][0]["reconciliation"]
    assert lines_of(rec) == {
        "auto": (3, D("1600.00")),
        "manual": (3, D("1230.00")),
        "unapplied": (0, D("50.00")),
        "queue": (1, D("400.00")),
        "set_aside": (1, D("120.00")),
        "unclassified": (1, D("60.00")),
        "debit": (1, D("-350.00")),
    }
    assert rec["difference"] == D("0.00")
    # made on 2 Nov at noon, the report knows its cutoff has not passed yet
    early = month_end(engine, OCT, now=datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    assert early.data["provisional"] is True and "provisional" in early.subtitle


def test_automation_figures(engine: Engine, october: dict[str, int]) -> None:
    """Receipts: the 8 credits not set aside (3,340.00); automatic: 3 of them, 1,600.00 of cash."""
    data = month_end(engine, OCT).data
    (auto,) = data["automation"]
    assert auto["receipts"] == 8
    assert auto["receipts_amount"] == D("3340.00")
    assert auto["posted_automatically"] == 3
    assert auto["posted_by_person"] == 2
    assert auto["automation_rate_count"] == D("37.50")  # 3 / 8
    assert auto["automation_rate_amount"] == D("47.90")  # 1600 / 3340 = 0.47904...
    by_day = {d["date"]: (d["receipts"], d["posted_automatically"]) for d in data["automation_by_day"]}
    assert by_day[date(2026, 10, 10)] == (1, 1)
    assert by_day[date(2026, 10, 5)] == (1, 0)  # T10: the automatic posting was undone
    assert date(2026, 10, 22) not in by_day  # T5 interest is not a receipt
    assert sum(n for n, _ in by_day.values()) == 8


def test_book_side_rolls_forward(engine: Engine, october: dict[str, int]) -> None:
    """Open at 1 Oct: I1 1,000 + I3 800 + I5 400 = 2,200.  Invoiced: I2 500 + I4 300 + I6 250 = 1,050,
    of which the ERP had settled 200 of I4 before recon.  Received: T10 200 (auto, then undone) + T10 200
    (manual) + T1 1,000 + T2 780 + T3 500 + T7 100 = 2,780; discount 20 (T2); undone 200 (T10's first).
    Open at 31 Oct: I5 200 + I6 250 = 450 = 2,200 + 1,050 - 200 - 2,780 - 20 + 200."""
    (book,) = month_end(engine, OCT).data["book"]
    assert book["open_at_start"] == D("2200.00")
    assert book["invoiced"] == D("1050.00")
    assert book["invoices_issued"] == 3
    assert book["settled_outside_recon"] == D("200.00")
    assert book["received"] == D("2780.00")
    assert book["adjusted"] == {"discount": D("20.00"), "bank-charges": D("0.00"), "write-off": D("0.00")}
    assert book["reversed"] == D("200.00")
    assert book["open_at_end"] == D("450.00")
    assert book["check_difference"] == D("0.00")


def test_queue_unapplied_and_aging_at_the_cutoff(engine: Engine, october: dict[str, int]) -> None:
    data = month_end(engine, OCT).data
    q = data["queue"]
    assert q["open"] == 2
    assert {(r["reason"], r["count"], r["amount"], r["oldest_days"]) for r in q["by_reason"]} == {
        ("no-candidate", 1, D("400.00"), 11),  # opened 20 Oct 10:00: 11.6 days before the cutoff
        ("ambiguous", 1, D("250.00"), 1),  # opened 30 Oct 10:00
    }
    ages = {r["age"]: (r["count"], r["amount"]) for r in q["by_age"]}
    assert ages == {
        "0-2 days": (1, D("250.00")),
        "3-7 days": (0, D("0.00")),
        "8-14 days": (1, D("400.00")),
        "15-30 days": (0, D("0.00")),
        "over 30 days": (0, D("0.00")),
    }
    assert data["unapplied_cash"]["customers"] == [
        {"customer_id": "C1", "name": "Alpha GmbH", "currency": "EUR", "payments": 1, "amount": D("50.00")}
    ]
    (aging,) = data["aging"]["totals"]
    assert aging["total"] == D("450.00") == data["book"][0]["open_at_end"]
    assert aging["current"] == D("250.00")  # I6, due 19 Nov
    assert aging["d61_90"] == D("200.00")  # I5, due 31 Aug: 61 days
    assert aging["unapplied"] == D("50.00")


def test_balance_gaps_are_shown_and_explain_the_difference(engine: Engine, clock: Clock) -> None:
    """Two October statements; the second opens 30.00 above the first's close (a statement is missing).
    September closed at 990.00 but October opens at 1,000.00: a gap before the period, shown, not counted."""
    b = Books(engine, clock)
    b.statement("GB00GAP", "900.00", date(2026, 8, 31), "990.00", date(2026, 9, 30), [(date(2026, 9, 3), "90.00")])
    b.statement("GB00GAP", "1000.00", date(2026, 9, 30), "1100.00", date(2026, 10, 15), [(date(2026, 10, 2), "100.00")])
    b.statement("GB00GAP", "1130.00", date(2026, 10, 16), "1080.00", date(2026, 10, 31), [(date(2026, 10, 20), "-50.00")])
    (acc,) = month_end(engine, OCT).data["accounts"]
    rec = acc["reconciliation"]
    assert rec["opening_balance"] == D("1000.00") and rec["closing_balance"] == D("1080.00")
    assert rec["movements"] == D("50.00")
    assert rec["difference"] == D("30.00")
    gaps = acc["bank"]["gaps"]
    assert [(g["amount"], g["before_period"]) for g in gaps] == [(D("10.00"), True), (D("30.00"), False)]
    (explained,) = rec["explanation"]
    assert explained["amount"] == D("30.00") and "balance gap" in explained["label"]


def test_statement_warnings_and_accounts_per_currency(engine: Engine, clock: Clock) -> None:
    b = Books(engine, clock)
    b.statement("EUR1", "0.00", date(2026, 9, 30), "10.00", date(2026, 10, 31), [(date(2026, 10, 3), "10.00")],
                warnings=["balance does not add up"])
    b.statement("EUR2", "5.00", date(2026, 9, 30), "25.00", date(2026, 10, 31), [(date(2026, 10, 4), "20.00")])
    b.statement("USD1", "100.00", date(2026, 9, 30), "90.00", date(2026, 10, 31), [(date(2026, 10, 5), "-10.00")],
                currency="USD")
    data = month_end(engine, OCT).data
    assert [a["account"] for a in data["accounts"]] == ["EUR1", "EUR2", "USD1"]
    assert data["accounts"][0]["bank"]["warnings"][0]["warning"] == "balance does not add up"
    totals = {t["currency"]: t for t in data["totals"]}
    assert totals["EUR"]["opening_balance"] == D("5.00") and totals["EUR"]["closing_balance"] == D("35.00")
    assert lines_of(totals["EUR"])["unclassified"] == (2, D("30.00"))
    assert totals["EUR"]["difference"] == D("0.00")
    assert totals["USD"]["difference"] == D("0.00")
    only = month_end(engine, OCT, accounts=["usd 1"]).data  # written as a person would
    assert [a["account"] for a in only["accounts"]] == ["USD1"]
    with pytest.raises(ReportError, match="no bank account NOPE; the imported statements name EUR1, EUR2, USD1"):
        month_end(engine, OCT, accounts=["NOPE"])


def test_an_account_without_balances_has_no_difference(engine: Engine, clock: Clock) -> None:
    b = Books(engine, clock)
    b.statement("CSV1", None, None, None, None, [(date(2026, 10, 3), "10.00")])
    (acc,) = month_end(engine, OCT).data["accounts"]
    assert acc["reconciliation"]["difference"] is None
    assert acc["bank"]["statements_without_balances"] == ["stmt-1.sta"]
    assert lines_of(acc["reconciliation"])["unclassified"] == (1, D("10.00"))


def test_a_set_aside_undone_later_still_counts_as_set_aside_at_the_cutoff(
    engine: Engine, october: dict[str, int], clock: Clock
) -> None:
    """T5 (interest, set aside on 22 Oct) is taken back into the queue on 10 Nov."""
    Books(engine, clock).unmatch(date(2026, 11, 10), october["T5"])
    oct_rec = month_end(engine, OCT).data["accounts"][0]
    assert lines_of(oct_rec["reconciliation"])["set_aside"] == (1, D("120.00"))
    assert oct_rec["set_aside_by_reason"] == [{"reason": "interest", "count": 1, "amount": D("120.00")}]
    later = month_end(engine, OCT, as_at=datetime(2026, 11, 11, tzinfo=UTC)).data["accounts"][0]["reconciliation"]
    assert lines_of(later)["set_aside"] == (0, D("0.00"))
    assert lines_of(later)["queue"] == (3, D("620.00"))  # T4 400 + T7 100 (undone 3 Nov) + T5 120
    assert later["difference"] == D("0.00")
