"""``recon queue``: listing, showing and every decision, through the real command line, on both databases.

The queue is filled through ``ledger.posting`` (as the matcher does) so that
these tests do not depend on the matcher's judgement; the end-to-end test
drives the matcher itself.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger import posting
from ledger.db import transaction
from ledger.models import (
    Allocation,
    AuditEntry,
    BankTransaction,
    CustomerAccount,
    CustomerAlias,
    UnappliedCash,
)
from ledger.posting import AllocationLine, SuggestionGroup
from tests.ledger.books import Books, invoice_state, transaction_status

D = Decimal
EVIDENCE = {
    "reference": {"found": "inv 1001", "in": "remittance", "match": "exact", "invoice": "INV-1001"},
    "amount": {"expected": "1000.00", "paid": "1000.00", "match": "exact"},
    "payer": {"by": "fuzzy-name", "customer_id": "C1", "score": 0.91, "name": "ACME GMBH"},
    "date": {"due": "2026-10-01", "days_after_due": 4},
    "unique": False,
    "confidence": {"reference": 0.9, "payer": 0.6, "total": 0.78},
}


class Scenario:
    """Customers C1 (Acme) and C2 (Beta), five invoices, four queued payments and one new one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        b = self.books = Books(engine)
        b.customer("C1", "Acme GmbH")
        b.customer("C2", "Beta B.V.")
        b.invoice("INV-1001", "C1", "1000.00")
        b.invoice("INV-1002", "C1", "500.00")
        b.invoice("INV-1003", "C1", "300.00", due=date(2026, 11, 1))
        b.invoice("INV-2001", "C2", "80.00")
        b.invoice("INV-2002", "C2", "1200.00")
        # ambiguous: two suggestions
        self.ambiguous = b.transaction(
            "1000.00", bank_reference="REF-A", name="ACME GMBH", payer_account="DE02 1001 0010 9307 1186 03",
            remittance="inv 1001", booking=date(2026, 10, 5),
            raw=":61:2610051005C1000,00NTRFREF-A//B-1\n:86:166?00SEPA?20inv 1001?32ACME GMBH",
        )
        # amount mismatch, no suggestion, suspected payer C1: to be allocated by hand
        self.manual = b.transaction("1485.00", bank_reference="REF-B", name="Acme", booking=date(2026, 10, 12))
        # unknown payer: not a customer payment
        self.stranger = b.transaction("42.00", bank_reference="REF-C", name="Finanzamt", booking=date(2026, 10, 20),
                                      account="NL91ABNA0417164300")
        # overpayment suggestion of C2
        self.over = b.transaction("100.00", bank_reference="REF-D", name="Beta", booking=date(2026, 10, 25))
        self.fresh = b.transaction("7.00", bank_reference="REF-E", booking=date(2026, 10, 26))
        with transaction(engine) as s:
            posting.enqueue(s, s.get(BankTransaction, self.ambiguous), "ambiguous", actor="recon",
                            detail="two invoices of Acme GmbH fit", customer_id="C1", suggestions=[
                                SuggestionGroup([AllocationLine("INV-1001", D("1000.00"))], D("0.78"),
                                                "reference+amount", EVIDENCE),
                                SuggestionGroup([AllocationLine("INV-1002", D("500.00")),
                                                 AllocationLine("INV-1003", D("300.00"))], D("0.40"), "subset", {}),
                            ])
            posting.enqueue(s, s.get(BankTransaction, self.manual), "amount-mismatch", actor="recon", customer_id="C1")
            posting.enqueue(s, s.get(BankTransaction, self.stranger), "unknown-payer", actor="recon")
            posting.enqueue(s, s.get(BankTransaction, self.over), "overpayment", actor="recon", customer_id="C2",
                            suggestions=[SuggestionGroup([AllocationLine("INV-2001", D("80.00"))], D("0.9"),
                                                         "reference+amount", {})])


@pytest.fixture
def sc(engine: Engine) -> Scenario:
    return Scenario(engine)


def _json(result) -> object:  # type: ignore[no-untyped-def]
    return json.loads(result.output)


def _one_line_error(result, text: str) -> None:  # type: ignore[no-untyped-def]
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines and (lines[-1].startswith("recon: error: ") or lines[-1].startswith("Error: ")), result.output
    assert text in result.output, result.output
    assert "Traceback" not in result.output


# --- list -----------------------------------------------------------------------------------------


def test_list_shows_every_open_item_oldest_first(cli_run, sc: Scenario) -> None:
    out = cli_run("queue", "list", "--as-of", "2026-11-04").output
    for ref_id in (sc.ambiguous, sc.manual, sc.stranger, sc.over):
        assert f"│ {ref_id} " in out
    assert "INV-1001 (0.78)" in out and "ambiguous" in out and "unknown-payer" in out
    assert "4 item(s), 2,627.00 in all" in out
    rows = _json(cli_run("queue", "list", "--format", "json", "--as-of", "2026-11-04"))
    assert [r["id"] for r in rows] == [sc.ambiguous, sc.manual, sc.stranger, sc.over]  # not the new sc.fresh
    first = rows[0]
    assert first["age_days"] == 30 and first["amount"] == "1000.00" and first["customer_id"] == "C1"
    assert first["customer_name"] == "Acme GmbH" and first["account"] == "DE89370400440532013000"
    assert [s["rank"] for s in first["suggestions"]] == [1, 2]
    assert [i["invoice_id"] for i in first["suggestions"][1]["invoices"]] == ["INV-1002", "INV-1003"]
    assert first["suggestions"][1]["unapplied"] == "200.00"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--reason", "ambiguous", "--reason", "overpayment"), ["ambiguous", "over"]),
        (("--account", "nl91 abna 0417 1643 00"), ["stranger"]),
        (("--customer", "C2"), ["over"]),
        (("--customer", "C1"), ["ambiguous", "manual"]),
        (("--min-amount", "100.00", "--max-amount", "1000.00"), ["ambiguous", "over"]),
        (("--min-age", "20", "--as-of", "2026-11-04"), ["ambiguous", "manual"]),
        (("--max-age", "15", "--as-of", "2026-11-04"), ["stranger", "over"]),
        (("--sort", "amount", "--desc"), ["manual", "ambiguous", "over", "stranger"]),
        (("--sort", "confidence", "--desc", "--limit", "2"), ["over", "ambiguous"]),
    ],
)
def test_list_filters_and_sorts(cli_run, sc: Scenario, args: tuple[str, ...], expected: list[str]) -> None:
    rows = _json(cli_run("queue", "list", "--format", "json", *args))
    assert [r["id"] for r in rows] == [getattr(sc, name) for name in expected]


def test_list_refuses_a_bad_amount_in_one_line(cli_run, sc: Scenario) -> None:
    result = cli_run("queue", "list", "--min-amount", "1,000.00", expect=1)
    _one_line_error(result, "--min-amount: '1,000.00' is not an amount")


# --- show -----------------------------------------------------------------------------------------


def test_show_has_the_bank_line_the_evidence_in_words_and_the_payers_other_invoices(cli_run, sc: Scenario) -> None:
    out = cli_run("queue", "show", str(sc.ambiguous)).output
    assert "reason: ambiguous" in out and "two invoices of Acme GmbH fit" in out
    assert ":86:166?00SEPA?20inv 1001?32ACME GMBH" in out  # raw, as the bank wrote it
    assert "payer account   DE02 1001 0010 9307 1186 03" in out
    assert "1. INV-1001 1,000.00   confidence 0.78 (reference+amount)" in out
    assert "the remittance names invoice INV-1001: 'inv 1001' (exactly)" in out
    assert "1000.00 EUR paid is exactly the open amount" in out
    assert "the payer's name is similar to C1's (similarity 0.91)" in out
    assert "paid 4 day(s) after the due date 2026-10-01" in out
    assert "another candidate fits about as well" in out
    assert "2. INV-1002 500.00, INV-1003 300.00" in out
    assert "accepting it leaves 200.00 as unapplied cash" in out
    # every open invoice of the payer was suggested, so none is "other"; Beta's are not the payer's
    assert "No other open invoices of Acme GmbH (C1)." in out
    assert "INV-2002" not in out
    data = _json(cli_run("queue", "show", "REF-B", "--format", "json"))
    assert data["id"] == sc.manual and data["queue"]["reason"] == "amount-mismatch"
    assert [i["invoice_id"] for i in data["other_open_invoices"]] == ["INV-1001", "INV-1002", "INV-1003"]


def test_show_an_unknown_id_is_one_line(cli_run, sc: Scenario) -> None:
    result = cli_run("queue", "show", "999999", expect=1)
    _one_line_error(result, "no transaction with id or bank reference '999999'")


# --- accept ---------------------------------------------------------------------------------------


def test_accept_posts_the_suggestion_records_the_user_and_learns(cli_run, sc: Scenario, engine: Engine) -> None:
    out = cli_run("queue", "accept", str(sc.ambiguous), "--user", "alice").output
    assert "suggestion 1 accepted by alice" in out and "INV-1001: 1,000.00 -> invoice now 0.00 open (paid)" in out
    assert invoice_state(engine, "INV-1001") == (D("0.00"), "paid")
    assert transaction_status(engine, sc.ambiguous) == "posted"
    with transaction(engine) as s:
        alloc = s.scalars(select(Allocation)).one()
        assert (alloc.decided_by, alloc.automatic, alloc.reason, alloc.confidence) == (
            "alice", False, "reference+amount", D("1"))
        assert alloc.evidence["accepted_suggestion"] == 1
        learned = s.scalars(select(CustomerAccount).where(CustomerAccount.source == "learned")).one()
        assert (learned.customer_id, learned.account) == ("C1", "DE02100100109307118603")
        assert s.scalars(select(CustomerAlias.alias).where(CustomerAlias.customer_id == "C1")).all() == ["ACME GMBH"]
        actors = {e.actor for e in s.scalars(select(AuditEntry).where(AuditEntry.transaction_id == sc.ambiguous))}
    assert "alice" in actors
    # nothing left to accept
    _one_line_error(cli_run("queue", "accept", str(sc.ambiguous), expect=1), "is not in the queue (status posted)")


def test_accept_another_suggestion_leaves_the_rest_on_account(cli_run, sc: Scenario, engine: Engine) -> None:
    result = _json(cli_run("queue", "accept", str(sc.ambiguous), "--suggestion", "2", "--format", "json", user="bob"))
    assert [a["invoice_id"] for a in result["allocations"]] == ["INV-1002", "INV-1003"]
    assert result["unapplied_cash"] == [{"customer_id": "C1", "amount": "200.00", "reason": "overpayment"}]
    assert result["by"] == "bob"
    assert invoice_state(engine, "INV-1001") == (D("1000.00"), "open")


def test_accept_refuses_what_does_not_exist(cli_run, sc: Scenario) -> None:
    _one_line_error(cli_run("queue", "accept", str(sc.ambiguous), "--suggestion", "3", expect=1),
                    "has 2 suggestion(s); there is no suggestion 3")
    _one_line_error(cli_run("queue", "accept", str(sc.manual), expect=1), "has no suggestion")


# --- allocate -------------------------------------------------------------------------------------


def test_allocate_across_two_invoices_with_bank_charges(cli_run, sc: Scenario, engine: Engine) -> None:
    out = cli_run(
        "queue", "allocate", str(sc.manual),
        "--invoice", "INV-1001", "--amount", "1000.00",
        "--invoice", "INV-1002", "--amount", "485.00", "--adjustment", "15.00", "--adjustment-reason", "bank-charges",
        "--user", "carol",
    ).output
    assert "allocated by carol" in out
    assert "INV-1002: 485.00 + 15.00 bank-charges -> invoice now 0.00 open (paid)" in out
    assert invoice_state(engine, "INV-1001") == (D("0.00"), "paid")
    assert invoice_state(engine, "INV-1002") == (D("0.00"), "paid")
    with transaction(engine) as s:
        rows = [(a.invoice_id, a.amount, a.adjustment_amount, a.adjustment_reason, a.reason, a.decided_by)
                for a in s.scalars(select(Allocation).order_by(Allocation.id))]
    assert rows == [
        ("INV-1001", D("1000.00"), D("0.00"), None, "manual", "carol"),
        ("INV-1002", D("485.00"), D("15.00"), "bank-charges", "manual", "carol"),
    ]


def test_allocate_pairs_options_by_position_and_defaults_the_amount(cli_run, sc: Scenario, engine: Engine) -> None:
    # the adjustment belongs to the first invoice; the second takes its open amount
    cli_run("queue", "allocate", str(sc.manual),
            "--invoice", "INV-1003", "--amount=290.00", "--adjustment-reason", "discount", "--adjustment", "10.00",
            "--invoice=INV-1001", "--rest-on-account", "--user", "dave")
    assert invoice_state(engine, "INV-1003") == (D("0.00"), "paid")
    assert invoice_state(engine, "INV-1001") == (D("0.00"), "paid")
    with transaction(engine) as s:
        cash = s.scalars(select(UnappliedCash)).one()
    assert (cash.customer_id, cash.amount) == ("C1", D("195.00"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--amount", "10.00", "--invoice", "INV-1001"), 2, "--amount 10.00 comes before any --invoice"),
        (("--invoice", "INV-1001", "--amount", "1.00", "--amount", "2.00"), 2, "--amount is given twice for invoice INV-1001"),
        (("--invoice", "INV-1001", "--adjustment", "5.00"), 2, "needs --adjustment-reason"),
        (("--invoice", "INV-1001", "--adjustment-reason", "discount"), 2, "needs --adjustment X"),
        (("--invoice", "INV-1001", "--amount", "1,485.00"), 1, "is not an amount"),
        (("--invoice", "INV-1001", "--amount", "1485.001"), 1, "is not an amount in cents"),
        (("--invoice", "NOPE", "--amount", "1485.00"), 1, "unknown invoice NOPE"),
        (("--invoice", "INV-1001", "--amount", "1485.00"), 1, "INV-1001 has 1000.00 open; cannot allocate 1485.00"),
        (("--invoice", "INV-1001", "--amount", "1000.00"), 1,
         "leave 485.00 of the payment of 1485.00 unallocated; allocate it all or put the rest on the customer's "
         "account (--rest-on-account)"),
        (("--invoice", "INV-1001", "--amount", "1000.00", "--invoice", "INV-1002", "--amount", "500.00"), 1,
         "allocations of 1500.00 exceed the payment of 1485.00"),
        (("--invoice", "INV-1001", "--amount", "1000.00", "--rest-on-account", "--customer", "C404"), 1,
         "unknown customer C404"),
        (("--invoice", "INV-2001", "--amount", "80.00", "--adjustment", "5.00", "--adjustment-reason", "discount",
          "--rest-on-account"), 1, "INV-2001 has 80.00 open; cannot allocate 85.00"),
    ],
)
def test_allocate_refusals_are_one_line_and_change_nothing(
    cli_run, sc: Scenario, engine: Engine, args: tuple[str, ...], code: int, message: str
) -> None:
    result = cli_run("queue", "allocate", str(sc.manual), *args, expect=code)
    assert message in result.output
    assert "Traceback" not in result.output
    assert transaction_status(engine, sc.manual) == "queued"
    assert invoice_state(engine, "INV-1001") == (D("1000.00"), "open")
    with transaction(engine) as s:
        assert s.scalars(select(Allocation)).all() == []


# --- four eyes ------------------------------------------------------------------------------------


def test_four_eyes_through_the_command_line(cli_run, sc: Scenario, engine: Engine) -> None:
    out = cli_run("queue", "allocate", str(sc.over), "--invoice", "INV-2002", "--amount", "100.00",
                  "--adjustment", "80.00", "--adjustment-reason", "write-off", user="alice").output
    assert "waits for approval; invoice unchanged" in out
    assert "recon queue approve" in out
    assert invoice_state(engine, "INV-2002") == (D("1200.00"), "open")
    listed = _json(cli_run("queue", "list", "--reason", "pending-approval", "--format", "json"))
    assert [r["id"] for r in listed] == [sc.over] and listed[0]["suggestions"] == []
    shown = cli_run("queue", "show", str(sc.over)).output
    assert "INV-2002 100.00 + 80.00 write-off: waits for a second person's approval (by alice" in shown
    assert f"Next: recon queue approve {sc.over} --user SOMEONE-ELSE" in shown
    assert "No suggestion" not in shown
    assert "Suggestions" not in shown  # the matcher's suggestions are history once a person decided
    others = shown.split("Other open invoices of Beta B.V. (C2)")[1]
    assert "  INV-2001 " in others and "  INV-2002 " not in others  # the invoice decided on is not "other"

    refused = cli_run("queue", "approve", str(sc.over), user="alice", expect=1)
    _one_line_error(refused, "alice decided this allocation and cannot approve it too (four eyes)")
    assert invoice_state(engine, "INV-2002") == (D("1200.00"), "open")

    out = cli_run("queue", "approve", str(sc.over), "--user", "bob").output
    assert "approved by bob" in out
    assert invoice_state(engine, "INV-2002") == (D("1020.00"), "partly_paid")
    with transaction(engine) as s:
        alloc = s.scalars(select(Allocation)).one()
    assert (alloc.status, alloc.decided_by, alloc.approved_by) == ("posted", "alice", "bob")
    _one_line_error(cli_run("queue", "approve", str(sc.over), user="carol", expect=1), "nothing waiting for approval")


def test_the_four_eyes_limit_comes_from_the_rules(cli_run, sc: Scenario, engine: Engine, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[posting]\nfour_eyes_limit = "100.00"\n', encoding="utf-8")
    cli_run("queue", "allocate", str(sc.over), "--invoice", "INV-2002", "--amount", "100.00",
            "--adjustment", "80.00", "--adjustment-reason", "write-off", "--rules", str(rules), user="alice")
    assert invoice_state(engine, "INV-2002") == (D("1020.00"), "partly_paid")
    assert transaction_status(engine, sc.over) == "posted"


# --- dismiss, assign ------------------------------------------------------------------------------


def test_dismiss_sets_aside_with_the_reason_and_unmatch_brings_it_back(cli_run, sc: Scenario, engine: Engine) -> None:
    out = cli_run("queue", "dismiss", "REF-C", "--reason", "VAT refund from the tax office", user="erin").output
    assert "dismissed (VAT refund from the tax office) by erin" in out
    assert transaction_status(engine, sc.stranger) == "ignored"
    assert sc.stranger not in [r["id"] for r in _json(cli_run("queue", "list", "--format", "json"))]
    with transaction(engine) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "dismiss")).one()
    assert (entry.actor, entry.detail["reason"]) == ("erin", "VAT refund from the tax office")
    _one_line_error(cli_run("queue", "dismiss", "REF-C", "--reason", "again", expect=1), "already set aside")
    cli_run("unmatch", "REF-C", user="erin")
    assert transaction_status(engine, sc.stranger) == "queued"


def test_assign_puts_the_payment_on_account_and_learns_the_payer(cli_run, sc: Scenario, engine: Engine) -> None:
    out = cli_run("queue", "assign", str(sc.manual), "--customer", "C2", user="frank").output
    assert "1,485.00 on C2's account as unapplied cash (on-account)" in out
    assert transaction_status(engine, sc.manual) == "posted"
    with transaction(engine) as s:
        cash = s.scalars(select(UnappliedCash)).one()
        aliases = s.scalars(select(CustomerAlias.alias).where(CustomerAlias.customer_id == "C2")).all()
    assert (cash.customer_id, cash.amount, cash.reason, cash.created_by) == ("C2", D("1485.00"), "on-account", "frank")
    assert aliases == ["Acme"]
    _one_line_error(cli_run("queue", "assign", str(sc.over), "--customer", "C404", expect=1), "unknown customer C404")


# --- identifying a transaction --------------------------------------------------------------------


def test_a_bank_reference_on_two_accounts_needs_the_account(cli_run, sc: Scenario, engine: Engine) -> None:
    twin = sc.books.transaction("5.00", bank_reference="REF-A", account="NL91ABNA0417164300")
    _one_line_error(cli_run("queue", "show", "REF-A", expect=1), "stands on 2 accounts")
    data = _json(cli_run("queue", "show", "REF-A", "--account", "NL91 ABNA 0417 1643 00", "--format", "json"))
    assert data["id"] == twin
    # a number that is both an id and another line's bank reference is refused, not guessed
    sc.books.transaction("6.00", bank_reference=str(sc.ambiguous))
    _one_line_error(cli_run("queue", "show", str(sc.ambiguous), expect=1), "add --account ACCOUNT")


def test_every_queue_command_explains_itself(cli_run) -> None:
    for cmd in ("list", "show", "accept", "allocate", "dismiss", "assign", "approve"):
        out = cli_run("queue", cmd, "--help").output
        assert "Example" in out, cmd
    allocate_help = cli_run("queue", "allocate", "--help").output
    assert "--adjustment-reason bank-charges" in allocate_help and "--rest-on-account" in allocate_help
