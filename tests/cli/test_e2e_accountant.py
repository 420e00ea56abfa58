"""End to end, as an accountant works: load, import, match, clear the queue by hand, undo, match again.

Drives the real ``recon`` commands (in-process) on SQLite and PostgreSQL with
the data in ``fixtures/e2e/`` (see its README for what each bank line is
for) and checks the invoices, the allocations export and the audit trail
after every step.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from sqlalchemy import Engine, select

from ledger.db import transaction
from ledger.models import CustomerAccount, CustomerAlias, Invoice
from tests.conftest import FIXTURES

E2E = FIXTURES / "e2e"
D = Decimal
ACC = "DE75512108001245126199"
OPEN_AT_START = {
    "INV-E-1001": ("1190.00", "open"), "INV-E-2001": ("1000.00", "open"), "INV-E-2002": ("500.00", "open"),
    "INV-E-3001": ("2000.00", "open"), "INV-E-3002": ("2000.00", "open"), "INV-E-4001": ("640.00", "open"),
    "INV-E-4002": ("310.00", "open"),
}


def invoices(engine: Engine) -> dict[str, tuple[str, str]]:
    with transaction(engine) as s:
        return {i.invoice_id: (str(i.open_amount), i.status) for i in s.scalars(select(Invoice))}


def export_rows(cli_run) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    return list(csv.DictReader(io.StringIO(cli_run("export", "allocations").output)))


def by_ref(rows: list[dict[str, str]], ref: str) -> list[tuple[str, str, str, str, str, str, str]]:
    return [(r["invoice_id"], r["allocated_amount"], r["status"], r["confidence"], r["reason"],
             r["adjustment_amount"], r["adjustment_reason"]) for r in rows if r["bank_reference"] == ref]


def audit(cli_run, *args: str) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    entries = json.loads(cli_run("audit", "--format", "json", *args).output)
    return [(e["actor"], e["action"], e["invoice"]) for e in entries]


def queue_ids(cli_run) -> dict[str, tuple[int, str]]:  # type: ignore[no-untyped-def]
    return {r["bank_reference"]: (r["id"], r["reason"])
            for r in json.loads(cli_run("queue", "list", "--format", "json").output)}


def test_an_accountants_day(cli_run, engine: Engine) -> None:
    # --- master data and the bank file ----------------------------------------------------------
    cli_run("load", "customers", E2E / "customers.csv")
    cli_run("load", "invoices", E2E / "invoices.csv")
    assert invoices(engine) == OPEN_AT_START
    imported = json.loads(cli_run("import", "--format", "json", E2E / "inbox").output)
    assert [(f["status"], f["format"], f["transactions"]) for f in imported] == [("imported", "camt", 6)]
    rows = export_rows(cli_run)
    assert {r["status"] for r in rows} == {"unmatched"} and {r["reason"] for r in rows} == {"not-matched-yet"}
    assert len(rows) == 5  # five credits; the bank fee (a debit) is never in the export

    # --- match: two certain payments posted, three for a person, the debit set aside -------------
    summary = json.loads(cli_run("match", "--format", "json").output)
    assert (summary["considered"], summary["posted"], summary["queued"], summary["ignored"]) == (6, 2, 3, 1)
    assert summary["queued_by_reason"] == {"ambiguous": 1, "amount-mismatch": 1, "unknown-payer": 1}
    assert summary["ignored_by_reason"] == {"debit": 1}
    state = invoices(engine)
    assert state["INV-E-1001"] == ("0.00", "paid") and state["INV-E-4001"] == ("0.00", "paid")
    assert {k: v for k, v in state.items() if k not in ("INV-E-1001", "INV-E-4001")} == {
        k: v for k, v in OPEN_AT_START.items() if k not in ("INV-E-1001", "INV-E-4001")}
    rows = export_rows(cli_run)
    assert by_ref(rows, "E2E-0001") == [("INV-E-1001", "1190.00", "posted", "1", "reference+amount", "0.00", "")]
    assert by_ref(rows, "E2E-0006") == [("INV-E-4001", "640.00", "posted", "1", "reference+amount", "0.00", "")]
    assert {r[0] for r in by_ref(rows, "E2E-0003")} == {"INV-E-3001", "INV-E-3002"}
    assert {r[2] for r in by_ref(rows, "E2E-0003")} == {"suggested"}
    assert by_ref(rows, "E2E-0004") == [("", "0.00", "unmatched", "0", "unknown-payer", "0.00", "")]
    assert ("recon", "post", "INV-E-1001") in audit(cli_run, "--transaction", "E2E-0001")

    # --- the queue ------------------------------------------------------------------------------
    queued = queue_ids(cli_run)
    assert {ref: reason for ref, (_, reason) in queued.items()} == {
        "E2E-0002": "amount-mismatch", "E2E-0003": "ambiguous", "E2E-0004": "unknown-payer"}
    table = cli_run("queue", "list").output
    assert "LUMIERE TEXTILES SARL" in table and "3 item(s), 3,792.40 in all" in table

    twins_id = queued["E2E-0003"][0]
    shown = cli_run("queue", "show", str(twins_id)).output
    assert "<AcctSvcrRef>E2E-0003</AcctSvcrRef>" in shown  # the line as the bank wrote it
    assert "the account it pays from is C3's (master data)" in shown
    assert "another candidate fits about as well" in shown
    details = json.loads(cli_run("queue", "show", str(twins_id), "--format", "json").output)
    first_choice = details["suggestions"][0]["invoices"][0]["invoice_id"]
    other_twin = ({"INV-E-3001", "INV-E-3002"} - {first_choice}).pop()

    # --- accept the best suggestion ---------------------------------------------------------------
    cli_run("queue", "accept", str(twins_id), user="alice")
    state = invoices(engine)
    assert state[first_choice] == ("0.00", "paid") and state[other_twin] == ("2000.00", "open")
    rows = export_rows(cli_run)
    assert by_ref(rows, "E2E-0003") == [(first_choice, "2000.00", "posted", "1", "account+amount", "0.00", "")]
    assert ("alice", "post", first_choice) in audit(cli_run, "--transaction", str(twins_id))

    # --- allocate by hand across two invoices, with bank charges ----------------------------------
    cli_run("queue", "allocate", "E2E-0002",
            "--invoice", "INV-E-2001", "--amount", "1000.00",
            "--invoice", "INV-E-2002", "--amount", "480.00", "--adjustment", "20.00",
            "--adjustment-reason", "bank-charges", user="bob")
    state = invoices(engine)
    assert state["INV-E-2001"] == ("0.00", "paid") and state["INV-E-2002"] == ("0.00", "paid")
    rows = export_rows(cli_run)
    assert by_ref(rows, "E2E-0002") == [
        ("INV-E-2001", "1000.00", "posted", "1", "manual", "0.00", ""),
        ("INV-E-2002", "480.00", "posted", "1", "manual", "20.00", "bank-charges"),
    ]
    trail = audit(cli_run, "--transaction", "E2E-0002")
    assert ("bob", "post", "INV-E-2001") in trail and ("bob", "post", "INV-E-2002") in trail
    with transaction(engine) as s:  # learning: the payer's name is remembered for C2 (its account was known)
        assert "VAN DIJK LOGISTIEK BV" in s.scalars(
            select(CustomerAlias.alias).where(CustomerAlias.customer_id == "C2")).all()
        assert s.scalars(select(CustomerAccount.account).where(CustomerAccount.customer_id == "C2")).all() == [
            "NL91ABNA0417164300"]

    # --- dismiss the tax refund -------------------------------------------------------------------
    cli_run("queue", "dismiss", "E2E-0004", "--reason", "tax refund, not a customer payment", user="carol")
    assert invoices(engine) == state
    assert by_ref(export_rows(cli_run), "E2E-0004") == [("", "0.00", "ignored", "0", "dismissed", "0.00", "")]
    assert ("carol", "dismiss", None) in audit(cli_run, "--transaction", "E2E-0004")
    assert queue_ids(cli_run) == {}
    assert cli_run("queue", "list").output.strip() == "the queue is empty"

    # --- undo an automatic posting ----------------------------------------------------------------
    out = cli_run("unmatch", "E2E-0006", "--account", ACC, user="dave").output
    assert "1 allocation(s) reversed" in out
    state = invoices(engine)
    assert state["INV-E-4001"] == ("640.00", "open")
    rows = export_rows(cli_run)
    assert by_ref(rows, "E2E-0006") == [("", "0.00", "unmatched", "0", "reversed", "0.00", "")]
    trail = audit(cli_run, "--invoice", "INV-E-4001")
    assert trail == [("recon", "post", "INV-E-4001"), ("dave", "unmatch", "INV-E-4001")]
    assert {ref: reason for ref, (_, reason) in queue_ids(cli_run).items()} == {"E2E-0006": "reversed"}

    # --- match again: nothing changes -------------------------------------------------------------
    before_audit = audit(cli_run)
    summary = json.loads(cli_run("match", "--format", "json").output)
    assert (summary["considered"], summary["posted"], summary["queued"], summary["ignored"]) == (0, 0, 0, 0)
    assert invoices(engine) == state
    assert export_rows(cli_run) == rows
    assert audit(cli_run) == before_audit
    assert {ref: reason for ref, (_, reason) in queue_ids(cli_run).items()} == {"E2E-0006": "reversed"}

    # and importing the same file again adds nothing
    again = json.loads(cli_run("import", "--format", "json", E2E / "inbox").output)
    assert [f["status"] for f in again] == ["skipped"]
    assert export_rows(cli_run) == rows
