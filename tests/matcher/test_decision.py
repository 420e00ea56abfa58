"""Evidence and decision rules, one small hand-written case each, on an in-memory book."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from matcher.decision import InvoiceBook, Payer, RefHit, TxnFacts, decide, fit_amount
from matcher.settings import MatchSettings

S = MatchSettings()
PAY_DAY = date(2026, 10, 5)


def book(*rows: tuple, parents: dict[str, str] | None = None) -> InvoiceBook:
    """rows: (invoice_id, customer, amount cents[, open cents[, discount cents, discount_until, currency]])."""
    ids, cust, cur, amt, opn, disc, until, due = [], [], [], [], [], [], [], []
    for r in rows:
        ids.append(r[0])
        cust.append(r[1])
        amt.append(r[2])
        opn.append(r[3] if len(r) > 3 and r[3] is not None else r[2])
        disc.append(r[4] if len(r) > 4 else 0)
        until.append(r[5].toordinal() if len(r) > 5 and r[5] else 0)
        cur.append(r[6] if len(r) > 6 else "EUR")
        due.append(date(2026, 10, 1).toordinal() + len(ids))
    return InvoiceBook(ids, cust, cur, amt, opn, disc, until, due, parent=parents or {}).finish()


def txn(amount: int, *, hits: list[tuple[int, str]] = (), payer: str | tuple[str, ...] | None = None,
        by: str = "account", score: float = 1.0, currency: str = "EUR", ignore: str | None = None,
        amount_only: list[int] = ()) -> TxnFacts:
    p = None
    if payer:
        p = Payer(payer if isinstance(payer, tuple) else (payer,), score, by, "X")
    return TxnFacts(1, amount, currency, PAY_DAY, PAY_DAY, hits=[RefHit(i, f, "x") for i, f in hits], payer=p,
                    ignore=ignore, amount_only=list(amount_only))


def lines(d) -> list[tuple[str, int, int, str | None]]:  # type: ignore[no-untyped-def]
    return [(d_inv, ln.cash, ln.adjustment, ln.adjustment_reason) for ln in d.lines for d_inv in [ln.inv]]


# --- amount evidence ------------------------------------------------------------------------------

def test_fit_amount_kinds() -> None:
    b = book(("A", "C1", 100000, None, 2000, date(2026, 10, 10)))
    assert fit_amount(b, 0, 100000, PAY_DAY, S)[0] == "exact"
    assert fit_amount(b, 0, 98000, PAY_DAY, S)[0] == "discount"
    assert fit_amount(b, 0, 98000, date(2026, 10, 20), S)[0] == "partial"  # too late for the discount
    assert fit_amount(b, 0, 99000, PAY_DAY, S)[0] == "bank-charges"
    assert fit_amount(b, 0, 50000, PAY_DAY, S)[0] == "partial"
    assert fit_amount(b, 0, 110000, PAY_DAY, S)[:3:2] == ("overpayment", 10000)
    b.open[0] = 0
    assert fit_amount(b, 0, 100000, PAY_DAY, S)[0] == "paid"


def test_bank_charges_tolerance_is_relative_too() -> None:
    b = book(("A", "C1", 10000))  # 100.00: 15.00 short is 15 %, more than bank_charges_max_pct
    assert fit_amount(b, 0, 8500, PAY_DAY, S)[0] == "partial"
    assert fit_amount(b, 0, 9800, PAY_DAY, S)[0] == "bank-charges"


# --- posting rules --------------------------------------------------------------------------------

def test_reference_and_amount_post() -> None:
    d = decide(txn(120000, hits=[(0, "exact")]), book(("A", "C1", 120000)), S)
    assert d.kind == "post" and d.reason == "reference+amount" and lines(d) == [(0, 120000, 0, None)]
    assert d.evidence["reference"]["match"] == "exact" and d.evidence["amount"]["match"] == "exact"


def test_rf_reference_reason() -> None:
    d = decide(txn(120000, hits=[(0, "rf")]), book(("A", "C1", 120000)), S)
    assert d.kind == "post" and d.reason == "rf-reference+amount"


def test_reference_with_wrong_amount_does_not_post_the_whole_invoice() -> None:
    s = replace(S, post_partial_payments=False)
    d = decide(txn(50000, hits=[(0, "exact")]), book(("A", "C1", 120000)), s)
    assert d.kind == "queue" and d.reason == "amount-mismatch"


def test_partial_payment_naming_its_invoice_posts_partially() -> None:
    d = decide(txn(50000, hits=[(0, "exact")], payer="C1"), book(("A", "C1", 120000)), S)
    assert d.kind == "post" and d.reason == "partial-payment" and lines(d) == [(0, 50000, 0, None)]


def test_known_payer_and_unique_amount_post() -> None:
    b = book(("A", "C1", 120000), ("B", "C1", 80000), ("C", "C2", 120000))
    d = decide(txn(120000, payer="C1"), b, S)
    assert d.kind == "post" and d.reason == "account+amount" and lines(d) == [(0, 120000, 0, None)]
    d = decide(txn(120000, payer="C1", by="name"), b, S)
    assert d.reason == "name+amount"


def test_twins_are_a_question_for_a_person() -> None:
    b = book(("A", "C1", 30000), ("B", "C1", 30000))
    d = decide(txn(30000, payer="C1"), b, S)
    assert d.kind == "queue" and d.reason == "ambiguous"
    assert [s[0][0].inv for s in d.suggestions] == [0, 1]


def test_twins_with_a_reference_post_the_named_one() -> None:
    b = book(("A", "C1", 30000), ("B", "C1", 30000))
    d = decide(txn(30000, payer="C1", hits=[(1, "exact")]), b, S)
    assert d.kind == "post" and lines(d) == [(1, 30000, 0, None)]


def test_unknown_payer_without_reference_is_never_posted() -> None:
    b = book(("A", "C1", 12345))
    d = decide(txn(12345, amount_only=[0]), b, S)
    assert d.kind == "queue" and d.reason == "unknown-payer" and d.suggestions[0][0][0].inv == 0


def test_nothing_at_all() -> None:
    d = decide(txn(12345), book(("A", "C1", 100)), S)
    assert d.kind == "queue" and d.reason == "unknown-payer" and not d.suggestions


def test_second_payment_for_a_paid_invoice_is_a_possible_duplicate() -> None:
    b = book(("A", "C1", 120000, 0), ("B", "C1", 120000))
    d = decide(txn(120000, payer="C1", hits=[(0, "exact")]), b, S)
    assert d.kind == "queue" and d.reason == "possible-duplicate"


def test_duplicate_without_reference() -> None:
    b = book(("A", "C1", 120000, 0))
    d = decide(txn(120000, payer="C1"), b, S)
    assert d.kind == "queue" and d.reason == "possible-duplicate"


def test_currency_mismatch_is_queued_with_the_difference() -> None:
    b = book(("A", "C1", 100000, None, 0, None, "USD"))
    d = decide(txn(100000, hits=[(0, "exact")], payer="C1", currency="EUR"), b, S)
    assert d.kind == "queue" and d.reason == "currency-mismatch"
    assert "USD" in d.detail and d.suggestions and d.suggestions[0][3]["currency"]["invoice"] == "USD"


def test_discount_in_time_posts_with_adjustment() -> None:
    b = book(("A", "C1", 100000, None, 2000, date(2026, 10, 10)))
    d = decide(txn(98000, hits=[(0, "exact")]), b, S)
    assert d.kind == "post" and d.reason == "discount" and lines(d) == [(0, 98000, 2000, "discount")]


def test_bank_charges_post_with_adjustment() -> None:
    d = decide(txn(119000, hits=[(0, "exact")]), book(("A", "C1", 120000)), S)
    assert d.kind == "post" and d.reason == "bank-charges" and lines(d) == [(0, 119000, 1000, "bank-charges")]


def test_overpayment_keeps_the_surplus_unapplied() -> None:
    d = decide(txn(125000, hits=[(0, "exact")], payer="C1"), book(("A", "C1", 120000)), S)
    assert d.kind == "post" and d.remainder == "unapplied" and lines(d) == [(0, 120000, 0, None)]
    d = decide(txn(125000, hits=[(0, "exact")], payer="C1"), book(("A", "C1", 120000)), replace(S, overpayment="queue"))
    assert d.kind == "queue" and d.reason == "overpayment"


def test_overpayment_that_is_another_invoice_pays_both() -> None:
    b = book(("A", "C1", 120000), ("B", "C1", 5000))
    d = decide(txn(125000, hits=[(0, "exact")], payer="C1"), b, S)
    assert d.kind == "post" and d.reason == "multi-invoice" and sorted(ln.inv for ln in d.lines) == [0, 1]
    assert d.evidence["reference"]["invoice"] == "A"


def test_overpayment_that_is_another_invoice_of_an_unknown_payer_is_queued() -> None:
    b = book(("A", "C1", 120000), ("B", "C1", 5000))
    d = decide(txn(125000, hits=[(0, "exact")]), b, S)
    assert d.kind == "queue" and d.reason == "overpayment"


def test_several_named_invoices() -> None:
    b = book(("A", "C1", 120000), ("B", "C1", 80000), ("C", "C1", 80000))
    d = decide(txn(200000, hits=[(0, "exact"), (1, "exact")]), b, S)
    assert d.kind == "post" and d.reason == "multi-invoice" and sorted(lines(d)) == [(0, 120000, 0, None), (1, 80000, 0, None)]


def test_unnamed_unique_subset_of_the_payer() -> None:
    b = book(("A", "C1", 120000), ("B", "C1", 80000), ("C", "C1", 33300))
    d = decide(txn(153300, payer="C1"), b, S)
    assert d.kind == "post" and d.reason == "multi-invoice" and sorted(ln.inv for ln in d.lines) == [0, 2]


def test_two_subsets_fit_is_ambiguous() -> None:
    b = book(("A", "C1", 100000), ("B", "C1", 50000), ("C", "C1", 70000), ("D", "C1", 80000))
    d = decide(txn(150000, payer="C1"), b, S)
    assert d.kind == "queue" and d.reason == "ambiguous"


def test_parent_pays_for_subsidiary() -> None:
    b = book(("A", "SUB", 120000), parents={"SUB": "PARENT"})
    d = decide(txn(120000, payer="PARENT"), b, S)
    assert d.kind == "post" and d.customer_id == "PARENT"
    assert d.evidence["payer"]["pays_for"] == "SUB"


def test_payer_contradicting_the_reference_lowers_confidence() -> None:
    b = book(("A", "C1", 120000))
    d = decide(txn(120000, hits=[(0, "exact")], payer="C9"), b, S)
    assert d.kind == "queue" and d.confidence < S.auto_post_threshold


def test_weak_typo_reference_alone_is_not_posted() -> None:
    d = decide(txn(120000, hits=[(0, "typo")]), book(("A", "C1", 120000)), S)
    assert d.kind == "queue" and d.suggestions[0][0][0].inv == 0


def test_text_naming_another_invoice_blocks_the_payer_route() -> None:
    b = book(("A", "C1", 120000, 0), ("B", "C1", 120000))
    d = decide(txn(120000, payer="C1", hits=[(0, "exact")]), b, S)
    assert d.kind == "queue"


def test_debits_and_ignore_rules() -> None:
    b = book(("A", "C1", 120000))
    assert decide(txn(-5000), b, S).reason == "debit"
    assert decide(txn(1200, ignore="interest"), b, S).kind == "ignore"
    # a rule never hides a line that names an open invoice with its exact amount
    assert decide(txn(120000, ignore="interest", hits=[(0, "exact")]), b, S).kind == "post"


def test_adjustment_above_four_eyes_limit_is_still_decided_as_post() -> None:
    b = book(("A", "C1", 1000000, None, 20000, date(2026, 10, 10)))
    d = decide(txn(980000, hits=[(0, "exact")]), b, S)
    assert d.kind == "post" and d.lines[0].adjustment == 20000  # posting keeps it pending for a second person
