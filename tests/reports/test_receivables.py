"""Aging, statement of account, reminders and payment behaviour on the hand-checked books.

Open at 15 Dec 2026 (end of day), with every decision of the books made:
I4 C2 100.00 (due 11 Nov: 34 days past due; T7 undone 3 Nov), I5 C3 200.00 (due 31 Aug: 106 days),
I7 C4 90.00 (due 31 Dec: current), I8 C1 120.00 (due 1 Dec: 14 days), I10 C2 70.00 (due 9 Jan: current).
Unapplied cash: C1 50.00 (T3's surplus).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from reports.aging import BUCKET_KEYS, aging, bucket_of
from reports.behaviour import behaviour
from reports.data import ReportError, parse_period
from reports.reminders import reminders
from reports.statement_of_account import statement_of_account
from rules import load_rules

D = Decimal
DEC15 = date(2026, 12, 15)


# --- aging -------------------------------------------------------------------------------------------


def test_bucket_boundaries() -> None:
    assert [bucket_of(d) for d in (-30, 0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "current", "current", "d1_30", "d1_30", "d31_60", "d31_60", "d61_90", "d61_90", "over_90", "over_90",
    ]


def test_aging_buckets_per_customer_and_in_total(engine: Engine, october: dict[str, int]) -> None:
    data = aging(engine, DEC15).data
    by_c = {c["customer_id"]: c for c in data["customers"]}
    assert set(by_c) == {"C1", "C2", "C3", "C4"}
    assert (by_c["C1"]["d1_30"], by_c["C1"]["total"], by_c["C1"]["unapplied"], by_c["C1"]["net"]) == (
        D("120.00"), D("120.00"), D("50.00"), D("70.00"),
    )
    assert (by_c["C2"]["current"], by_c["C2"]["d31_60"], by_c["C2"]["total"]) == (D("70.00"), D("100.00"), D("170.00"))
    assert (by_c["C3"]["over_90"], by_c["C3"]["total"]) == (D("200.00"), D("200.00"))
    assert (by_c["C4"]["current"], by_c["C4"]["total"]) == (D("90.00"), D("90.00"))
    (t,) = data["totals"]
    assert [t[k] for k in BUCKET_KEYS] == [D("160.00"), D("120.00"), D("100.00"), D("0.00"), D("200.00")]
    assert t["total"] == D("580.00") and t["unapplied"] == D("50.00") and t["net"] == D("530.00")
    assert t["invoices"] == 5
    # the buckets add up to the open total, per customer and in total
    for row in [*data["customers"], t]:
        assert sum(row[k] for k in BUCKET_KEYS) == row["total"]


def test_aging_as_of_a_past_date_reads_the_books_as_they_were(engine: Engine, october: dict[str, int]) -> None:
    """At 31 Oct, T7 still paid I4 (undone 3 Nov) and T8 had not paid I6 (posted 2 Nov)."""
    data = aging(engine, date(2026, 10, 31)).data
    open_by_c = {c["customer_id"]: c["total"] for c in data["customers"]}
    assert open_by_c == {"C3": D("450.00"), "C1": D("0.00")}  # C1: only its unapplied cash
    (t,) = data["totals"]
    assert t["total"] == D("450.00") and t["unapplied"] == D("50.00")


# --- statement of account ---------------------------------------------------------------------------


def _lines(rep: Any) -> list[tuple[Any, ...]]:
    (acc,) = rep.data["currencies"]
    return [(ln["date"], ln["text"], ln["reference"], ln["debit"], ln["credit"], ln["balance"]) for ln in acc["lines"]]


def test_statement_running_balance_with_payment_on_account(engine: Engine, october: dict[str, int]) -> None:
    """C1: I1 1,000 issued in September is brought forward; I2 500 on 5 Oct; T1 pays I1 on 10 Oct;
    T3 pays I2 and leaves 50 on account on 18 Oct: the customer ends 50.00 in credit."""
    rep = statement_of_account(engine, "C1", parse_period("2026-10"))
    (acc,) = rep.data["currencies"]
    assert acc["opening_balance"] == D("1000.00")
    assert _lines(rep) == [
        (date(2026, 10, 5), "Invoice", "I2", D("500.00"), None, D("1500.00")),
        (date(2026, 10, 10), "Payment received (for I1)", _ref(acc, 1), None, D("1000.00"), D("500.00")),
        (date(2026, 10, 18), "Payment received (for I2; 50.00 on account)", _ref(acc, 2), None, D("550.00"), D("-50.00")),
    ]
    assert acc["closing_balance"] == D("-50.00")
    assert acc["open_items"] == [] and acc["on_account"] == D("50.00")
    assert acc["invoiced"] == D("500.00") and acc["received"] == D("1550.00")


def _ref(acc: dict[str, Any], i: int) -> str:
    return acc["lines"][i]["reference"]


def test_statement_shows_earlier_settlement_discount_and_not_undone_postings(
    engine: Engine, october: dict[str, int]
) -> None:
    """C2: I3 800 brought forward; I4 300 of which the ERP had settled 200; T2 780 + 20 discount close I3;
    T7's posting on I4 was undone on 3 Nov, so it is not on the statement: 100.00 owed."""
    rep = statement_of_account(engine, "C2", parse_period("2026-10"))
    (acc,) = rep.data["currencies"]
    assert acc["opening_balance"] == D("800.00")
    rows = _lines(rep)
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows] == [
        (date(2026, 10, 12), "Invoice", D("300.00"), None, D("1100.00")),
        (date(2026, 10, 12), "Settled before (per our records)", None, D("200.00"), D("900.00")),
        (date(2026, 10, 15), "Payment received (for I3)", None, D("780.00"), D("120.00")),
        (date(2026, 10, 15), "Early-payment discount", None, D("20.00"), D("100.00")),
    ]
    assert acc["closing_balance"] == D("100.00")
    assert [(i["invoice_id"], i["open"]) for i in acc["open_items"]] == [("I4", D("100.00"))]
    assert acc["open_items_total"] - acc["on_account"] == acc["closing_balance"]


def test_statement_places_a_late_posting_on_the_payment_date(engine: Engine, october: dict[str, int]) -> None:
    """C3: T10 (5 Oct) pays 200 of I5 (its undone automatic posting is not shown); T8, booked 30 Oct and
    posted on 2 Nov, pays I6 on 30 Oct.  400 + (-200) + 250 - 250 = 200.00 owed (I5)."""
    rep = statement_of_account(engine, "C3", parse_period("2026-10"))
    (acc,) = rep.data["currencies"]
    assert acc["opening_balance"] == D("400.00")
    assert [(r[0], r[3], r[4], r[5]) for r in _lines(rep)] == [
        (date(2026, 10, 5), None, D("200.00"), D("200.00")),
        (date(2026, 10, 20), D("250.00"), None, D("450.00")),
        (date(2026, 10, 30), None, D("250.00"), D("200.00")),
    ]
    assert acc["closing_balance"] == D("200.00")
    assert [(i["invoice_id"], i["open"], i["days_past_due"]) for i in acc["open_items"]] == [("I5", D("200.00"), 61)]


def test_statement_of_an_unknown_customer(engine: Engine, october: dict[str, int]) -> None:
    with pytest.raises(ReportError, match="no customer 'NOPE'"):
        statement_of_account(engine, "NOPE", parse_period("2026-10"))


# --- reminders ---------------------------------------------------------------------------------------


def _reminded(rep: Any) -> list[tuple[str, str, str, Decimal]]:
    return [(r["customer_id"], r["invoice_id"], r["step"], r["open_amount"]) for r in rep.data["reminders"]]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 18), [("C2", "I4", "7 days overdue", D("100.00"))]),  # due 11 Nov
        (date(2026, 11, 24), [("C1", "I8", "7 days before due", D("120.00"))]),  # due 1 Dec
        (date(2026, 11, 28), [("C1", "I8", "3 days before due", D("120.00"))]),
        (date(2026, 12, 1), [("C1", "I8", "due today", D("120.00"))]),
        (date(2026, 12, 11), [("C2", "I4", "30 days overdue", D("100.00"))]),
        # I5 due 31 Aug: 400.00 less T10's 200.00 (posted by a person on 8 Oct)
        (date(2026, 10, 30), [("C3", "I5", "60 days overdue", D("200.00"))]),
        (date(2026, 11, 19), []),  # I6 was due today, but T8 paid it on 2 Nov
        (date(2026, 11, 20), []),
    ],
)
def test_reminders_follow_the_schedule(engine: Engine, october: dict[str, int], day: date, expected: list[Any]) -> None:
    assert _reminded(reminders(engine, day)) == expected


def test_a_weekly_run_lists_the_latest_step_of_the_week(engine: Engine, october: dict[str, int]) -> None:
    """12-18 Nov: I4 (due 11 Nov) reaches "7 days overdue" on the 18th; I9 (due 15 Nov, paid 25 Nov) had
    "3 days before due" on the 12th and "due today" on the 15th: only the latter is listed."""
    rep = reminders(engine, date(2026, 11, 18), window_days=7)
    assert _reminded(rep) == [("C2", "I4", "7 days overdue", D("100.00")), ("C2", "I9", "due today", D("60.00"))]
    (c2,) = rep.data["customers"]
    assert c2["to_remind"] == D("160.00") and c2["email"] == "compta@beta.example"


def test_reminders_carry_contact_data_and_unapplied_cash(engine: Engine, october: dict[str, int]) -> None:
    (r,) = reminders(engine, date(2026, 11, 24)).data["reminders"]
    assert (r["email"], r["phone"], r["customer_unapplied"], r["customer_owes"]) == (
        "ap@alpha.example", "+49 30 1111", D("50.00"), D("120.00"),
    )


def test_a_customer_schedule_and_minimum_from_the_rules(engine: Engine, october: dict[str, int], tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        '[reminders]\nminimum_amount = "150.00"\n\n[customers."C2".reminders]\noverdue_days = [5]\nminimum_amount = "1.00"\n'
    )
    rules = load_rules(rules_file)
    assert _reminded(reminders(engine, date(2026, 11, 16), rules=rules)) == [("C2", "I4", "5 days overdue", D("100.00"))]
    assert _reminded(reminders(engine, date(2026, 11, 18), rules=rules)) == []  # C2's own schedule has no 7
    assert _reminded(reminders(engine, date(2026, 11, 24), rules=rules)) == []  # I8's 120.00 is below 150.00


# --- payment behaviour -----------------------------------------------------------------------------


def test_behaviour_figures(engine: Engine, october: dict[str, int]) -> None:
    """Paid in full by 15 Dec (paid date = booking date of the last payment):
    I1 C1 issued 10 Sep, paid 10 Oct, due 10 Oct: 30 days, 0 late
    I2 C1 issued 5 Oct, paid 18 Oct, due 4 Nov: 13 days, -17
    I3 C2 issued 20 Sep, paid 15 Oct, due 20 Oct: 25 days, -5
    I9 C2 issued 1 Nov, paid 25 Nov, due 15 Nov: 24 days, +10 (late)
    I6 C3 issued 20 Oct, paid 30 Oct, due 19 Nov: 10 days, -20
    Overall: 102 / 5 = 20.4 days to pay, 1 of 5 late (20 %), -32 / 5 = -6.4 days late.
    DSO: open 580.00 / invoiced 17 Sep-15 Dec 2,190.00 (I3 800, I2 500, I4 300, I6 250, I8 120, I9 60,
    I7 90, I10 70) * 90 = 23.835... = 23.8 days."""
    data = behaviour(engine, DEC15, weeks=4).data
    o = data["overall"]
    assert (o["invoices_paid"], o["avg_days_to_pay"], o["share_paid_late"], o["avg_days_late"]) == (
        5, D("20.4"), D("20.00"), D("-6.4"),
    )
    (dso,) = data["dso"]
    assert (dso["open"], dso["sales"], dso["dso"]) == (D("580.00"), D("2190.00"), D("23.8"))
    c = {r["customer_id"]: r for r in data["customers"]}
    assert (c["C1"]["avg_days_to_pay"], c["C1"]["avg_days_late"], c["C1"]["share_paid_late"]) == (D("21.5"), D("-8.5"), D("0.00"))
    assert (c["C2"]["avg_days_to_pay"], c["C2"]["avg_days_late"], c["C2"]["share_paid_late"]) == (D("24.5"), D("2.5"), D("50.00"))
    assert (c["C3"]["avg_days_to_pay"], c["C3"]["invoices_paid"]) == (D("10.0"), 1)
    assert c["C4"]["avg_days_to_pay"] is None
    # exposure = open - unapplied against the limit: C2 170 > 150 is over its limit; C1 120 - 50 = 70 <= 100
    assert (c["C2"]["exposure"], c["C2"]["credit_limit"], c["C2"]["over_limit"]) == (D("170.00"), D("150.00"), True)
    assert (c["C1"]["exposure"], c["C1"]["over_limit"], c["C1"]["limit_used"]) == (D("70.00"), False, D("70.00"))
    assert c["C3"]["over_limit"] is False and c["C3"]["credit_limit"] is None
    assert o["customers_over_limit"] == 1


def test_cash_in_forecast_uses_each_customers_habit(engine: Engine, october: dict[str, int]) -> None:
    """Weeks from 16 Dec.  I10 C2 due 9 Jan + C2's 2.5 -> 3 days late = 12 Jan: week 4 (6-12 Jan).
    I7 C4 (no history) due 31 Dec + everyone's -6.4 -> -6 = 25 Dec: week 2.  I4, I5 and I8 were expected
    before 16 Dec already: 100 + 200 + 120 = 420.00 overdue beyond habit."""
    (f,) = behaviour(engine, DEC15, weeks=4).data["forecast"]
    assert [(w["week"], w["from"], w["to"], w["amount"]) for w in f["weeks"]] == [
        (1, date(2026, 12, 16), date(2026, 12, 22), D("0.00")),
        (2, date(2026, 12, 23), date(2026, 12, 29), D("90.00")),
        (3, date(2026, 12, 30), date(2027, 1, 5), D("0.00")),
        (4, date(2027, 1, 6), date(2027, 1, 12), D("70.00")),
    ]
    assert f["overdue_beyond_habit"] == D("420.00")
    assert f["later"] == D("0.00")
    assert f["open_total"] == D("580.00")
    # three weeks: I10 falls beyond them
    (f3,) = behaviour(engine, DEC15, weeks=3).data["forecast"]
    assert f3["later"] == D("70.00")


def test_reports_are_stamped_with_the_time_they_were_made(engine: Engine, october: dict[str, int]) -> None:
    rep = aging(engine, DEC15)
    assert isinstance(rep.generated_at, datetime) and rep.generated_at.tzinfo is not None
