"""``recon export allocations``: the contract's columns, every kind of row, spreadsheet safety, three formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger import posting
from ledger.db import transaction
from ledger.models import BankTransaction
from ledger.posting import AllocationLine, SuggestionGroup
from reports.export import COLUMNS, _cell_text, neutralise
from tests.ledger.books import Books

D = Decimal
ACC = "DE89370400440532013000"
CONTRACT_COLUMNS = (
    "bank_reference,account,booking_date,transaction_amount,currency,invoice_id,allocated_amount,status,"
    "confidence,reason,adjustment_amount,adjustment_reason"
)

EXPECTED = [
    # bank_reference, account, booking_date, transaction_amount, currency, invoice_id, allocated_amount, status,
    # confidence, reason, adjustment_amount, adjustment_reason
    ["B-01", ACC, "2026-10-01", "100.00", "EUR", "INV-1", "100.00", "posted", "0.97", "reference+amount", "0.00", ""],
    ["B-02", ACC, "2026-10-02", "235.00", "EUR", "INV-2", "235.00", "posted", "1", "manual", "15.00", "bank-charges"],
    ["B-03", ACC, "2026-10-03", "300.00", "EUR", "INV-3", "300.00", "suggested", "0.8", "name+amount", "0.00", ""],
    ["B-03", ACC, "2026-10-03", "300.00", "EUR", "INV-4", "200.00", "suggested", "0.35", "subset", "0.00", ""],
    ["B-03", ACC, "2026-10-03", "300.00", "EUR", "INV-5", "96.00", "suggested", "0.35", "subset", "4.00", "discount"],
    ["'=HYPERLINK(\"http://evil.example\",\"click\")", ACC, "2026-10-04", "55.00", "EUR", "", "0.00", "unmatched", "0",
     "no-candidate", "0.00", ""],
    ["B-05", ACC, "2026-10-05", "3.21", "EUR", "", "0.00", "ignored", "0", "interest", "0.00", ""],
    ["'@SUM(A1:A9)", ACC, "2026-10-06", "42.00", "EUR", "", "0.00", "ignored", "0", "dismissed", "0.00", ""],
    ["'-42", ACC, "2026-10-07", "7.00", "EUR", "", "0.00", "unmatched", "0", "not-matched-yet", "0.00", ""],
    ["'+B-08", ACC, "2026-10-08", "500.00", "EUR", "", "0.00", "posted", "1", "on-account", "0.00", ""],
    ["B-10", ACC, "2026-10-10", "80.00", "EUR", "", "0.00", "unmatched", "0", "reversed", "0.00", ""],
    ["B-11", ACC, "2026-10-11", "20.00", "EUR", "INV-6", "20.00", "suggested", "1", "pending-approval", "80.00",
     "write-off"],
]


@pytest.fixture
def books(engine: Engine) -> Books:
    """One transaction of every kind the export knows, booked on consecutive days."""
    b = Books(engine)
    b.customer("C1", "Acme GmbH")
    for inv, amount in (("INV-1", "100.00"), ("INV-2", "250.00"), ("INV-3", "300.00"), ("INV-4", "200.00"),
                        ("INV-5", "100.00"), ("INV-6", "100.00"), ("INV-7", "80.00")):
        b.invoice(inv, "C1", amount)

    ids = {}
    for day, amount, ref in [
        (1, "100.00", "B-01"), (2, "235.00", "B-02"), (3, "300.00", "B-03"),
        (4, "55.00", '=HYPERLINK("http://evil.example","click")'), (5, "3.21", "B-05"), (6, "42.00", "@SUM(A1:A9)"),
        (7, "7.00", "-42"), (8, "500.00", "+B-08"), (9, "-60.00", "B-09"), (10, "80.00", "B-10"),
        (11, "20.00", "B-11"),
    ]:
        ids[day] = b.transaction(amount, bank_reference=ref, booking=date(2026, 10, day))
    with transaction(engine) as s:
        def t(day: int) -> BankTransaction:
            return s.get(BankTransaction, ids[day])

        posting.post(s, t(1), [AllocationLine("INV-1", D("100.00"))], actor="recon", reason="reference+amount",
                     confidence=D("0.97"), automatic=True)
        posting.post(s, t(2), [AllocationLine("INV-2", D("235.00"), D("15.00"), "bank-charges")], actor="alice",
                     reason="manual", automatic=False)
        posting.enqueue(s, t(3), "ambiguous", actor="recon", suggestions=[
            SuggestionGroup([AllocationLine("INV-3", D("300.00"))], D("0.8"), "name+amount"),
            SuggestionGroup([AllocationLine("INV-4", D("200.00")),
                             AllocationLine("INV-5", D("96.00"), D("4.00"), "discount")], D("0.35"), "subset"),
        ])
        posting.enqueue(s, t(4), "no-candidate", actor="recon")
        posting.ignore(s, t(5), "interest", actor="recon", automatic=True)
        posting.enqueue(s, t(6), "unknown-payer", actor="recon")
        posting.ignore(s, t(6), "tax refund, not a customer payment", actor="bob", automatic=False)
        posting.assign_on_account(s, t(8), "C1", actor="carol")
        posting.ignore(s, t(9), "debit", actor="recon", automatic=True)
        posting.post(s, t(10), [AllocationLine("INV-7", D("80.00"))], actor="recon", reason="reference+amount",
                     automatic=True)
        posting.unmatch(s, t(10), actor="dave")
        posting.post(s, t(11), [AllocationLine("INV-6", D("20.00"), D("80.00"), "write-off")], actor="erin",
                     reason="manual", automatic=False, approval_limit=D("50.00"))
    return b


def test_csv_has_the_contract_columns_and_one_row_per_allocation_suggestion_and_unallocated_credit(
    cli_run, books: Books
) -> None:
    out = cli_run("export", "allocations").output
    lines = out.splitlines()
    assert lines[0] == CONTRACT_COLUMNS
    assert tuple(lines[0].split(",")) == COLUMNS
    rows = list(csv.reader(io.StringIO(out)))[1:]
    assert rows == EXPECTED
    # the debit (B-09) never appears; the reversed allocation of B-10 is not a current one
    assert not any(r[0] == "B-09" for r in rows)
    assert not any(r[0] == "B-10" and r[5] for r in rows)


def test_json_carries_the_same_rows_unneutralised(cli_run, books: Books) -> None:
    rows = json.loads(cli_run("export", "allocations", "--format", "json").output)
    assert [list(r) for r in rows] == [list(COLUMNS)] * len(EXPECTED)
    assert [r["bank_reference"] for r in rows][5:10] == [
        '=HYPERLINK("http://evil.example","click")', "B-05", "@SUM(A1:A9)", "-42", "+B-08"]
    assert rows[1] == {
        "bank_reference": "B-02", "account": ACC, "booking_date": "2026-10-02", "transaction_amount": "235.00",
        "currency": "EUR", "invoice_id": "INV-2", "allocated_amount": "235.00", "status": "posted",
        "confidence": "1", "reason": "manual", "adjustment_amount": "15.00", "adjustment_reason": "bank-charges",
    }


def test_xlsx_for_accountants_never_holds_a_formula(cli_run, books: Books, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "allocations.xlsx"
    result = cli_run("export", "allocations", "--format", "xlsx", "--output", str(target))
    assert f"{len(EXPECTED)} row(s) written to {target}" in result.output
    ws = load_workbook(target).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert len(rows) == len(EXPECTED) + 1
    cell = ws["A7"]
    assert cell.value == "'=HYPERLINK(\"http://evil.example\",\"click\")" and cell.data_type == "s"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    first = rows[1]
    assert first[2].date() == date(2026, 10, 1)
    assert first[3] == 100 and isinstance(first[3], (int, float, Decimal))  # a number a spreadsheet can sum
    assert ws["D2"].number_format == "#,##0.00"


def test_output_file_and_period(cli_run, books: Books, tmp_path: Path) -> None:
    target = tmp_path / "oct.csv"
    cli_run("export", "allocations", "--output", str(target), "--since", "2026-10-03", "--until", "2026-10-04")
    rows = list(csv.reader(target.open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == ["B-03", "B-03", "B-03", "'=HYPERLINK(\"http://evil.example\",\"click\")"]
    assert not list(tmp_path.glob(".oct.csv.*"))  # no temporary file left behind
    missing = cli_run("export", "allocations", "--output", str(tmp_path / "nope" / "x.csv"), expect=1)
    assert "does not exist" in missing.output and "Traceback" not in missing.output


def test_an_empty_database_exports_just_the_header(cli_run) -> None:
    assert cli_run("export", "allocations").output == CONTRACT_COLUMNS + "\n"
    assert json.loads(cli_run("export", "allocations", "--format", "json").output) == []


def test_neutralise_touches_text_never_numbers() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+49 30 1234") == "'+49 30 1234"
    assert neutralise("-INV") == "'-INV"
    assert neutralise("@cmd") == "'@cmd"
    assert neutralise("\t=1") == "'\t=1"
    assert neutralise("INV-=1") == "INV-=1"
    assert _cell_text("transaction_amount", D("-100.00")) == "-100.00"
    assert _cell_text("adjustment_amount", D("-0.50")) == "-0.50"
    assert _cell_text("reason", "-x") == "'-x"
