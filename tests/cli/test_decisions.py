"""``recon unmatch`` and ``recon audit`` through the command line, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ledger import posting
from ledger.db import transaction
from ledger.models import Allocation, BankTransaction, QueueItem
from ledger.posting import AllocationLine
from tests.ledger.books import Books, invoice_state, transaction_status

D = Decimal


@pytest.fixture
def books(engine: Engine) -> Books:
    b = Books(engine)
    b.customer("C1", "Acme GmbH")
    b.invoice("INV-1", "C1", "100.00")
    b.invoice("INV-2", "C1", "250.00")
    return b


def _post(engine: Engine, txn_id: int, lines: list[AllocationLine], actor: str = "recon", **kw) -> None:
    with transaction(engine) as s:
        posting.post(s, s.get(BankTransaction, txn_id), lines, actor=actor, reason=kw.pop("reason", "reference+amount"),
                     automatic=actor == "recon", confidence=D("0.97"), **kw)


def test_unmatch_an_automatic_posting_by_bank_reference(cli_run, books: Books, engine: Engine) -> None:
    t = books.transaction("350.00", bank_reference="2026100500042")
    _post(engine, t, [AllocationLine("INV-1", D("100.00")), AllocationLine("INV-2", D("250.00"))])
    out = cli_run("unmatch", "2026100500042", "--note", "wrong customer", user="alice").output
    assert f"transaction {t} (2026100500042, 350.00 EUR): 2 allocation(s) reversed; back in the queue" in out
    assert "invoice INV-2: open 250.00 (open)" in out
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")
    assert transaction_status(engine, t) == "queued"
    with transaction(engine) as s:
        assert {(a.status, a.reversed_by) for a in s.scalars(select(Allocation))} == {("reversed", "alice")}
        item = posting.open_queue_item(s, t)
        assert item is not None and item.reason == "reversed" and "wrong customer" in (item.detail or "")
    # the audit trail keeps both the posting and its reversal, in order
    trail = json.loads(cli_run("audit", "--transaction", str(t), "--format", "json").output)
    actions = [(e["actor"], e["action"], e["invoice"]) for e in trail]
    assert actions.index(("recon", "post", "INV-1")) < actions.index(("alice", "unmatch", "INV-1"))
    assert ("recon", "post", "INV-2") in actions and ("alice", "unmatch", "INV-2") in actions
    # undoing twice is refused in one line
    again = cli_run("unmatch", str(t), expect=1)
    assert "has no posting to undo (status queued)" in again.output and "Traceback" not in again.output


def test_unmatch_with_the_account_and_json(cli_run, books: Books, engine: Engine) -> None:
    a = books.transaction("100.00", bank_reference="NONREF")
    b = books.transaction("100.00", bank_reference="NONREF", account="NL91ABNA0417164300")
    _post(engine, b, [AllocationLine("INV-1", D("100.00"))])
    refused = cli_run("unmatch", "NONREF", expect=1)
    assert "stands on 2 accounts" in refused.output and "--account" in refused.output
    data = json.loads(cli_run("unmatch", "NONREF", "--account", "NL91ABNA0417164300", "--format", "json",
                              user="bob").output)
    assert (data["transaction"], data["reversed_allocations"], data["status"], data["by"]) == (b, 1, "queued", "bob")
    assert data["invoices"] == [{"invoice_id": "INV-1", "open_amount": "100.00", "status": "open"}]
    assert transaction_status(engine, a) == "new"


def test_unmatch_an_unknown_transaction_is_one_line(cli_run, books: Books) -> None:
    result = cli_run("unmatch", "NO-SUCH-REF", expect=1)
    assert result.output.strip() == "recon: error: no transaction with id or bank reference 'NO-SUCH-REF' " \
                                    "(see `recon queue list` or the export)"


def test_unmatch_a_pending_approval_leaves_invoices_untouched(cli_run, books: Books, engine: Engine) -> None:
    t = books.transaction("170.00")
    _post(engine, t, [AllocationLine("INV-2", D("170.00"), D("80.00"), "write-off")], actor="alice",
          reason="manual", approval_limit=D("50.00"))
    cli_run("unmatch", str(t), user="bob")
    assert invoice_state(engine, "INV-2") == (D("250.00"), "open")
    with transaction(engine) as s:
        items = s.scalars(select(QueueItem).where(QueueItem.transaction_id == t, QueueItem.status == "open")).all()
    assert [i.reason for i in items] == ["reversed"]


def test_audit_filters(cli_run, books: Books, engine: Engine) -> None:
    t1 = books.transaction("100.00", bank_reference="R1")
    t2 = books.transaction("250.00", bank_reference="R2")
    _post(engine, t1, [AllocationLine("INV-1", D("100.00"))], actor="alice", reason="manual")
    _post(engine, t2, [AllocationLine("INV-2", D("250.00"))])
    cli_run("unmatch", "R1", user="bob")

    def entries(*args: str) -> list[dict]:
        return json.loads(cli_run("audit", "--format", "json", *args).output)

    everything = entries()
    assert {e["actor"] for e in everything} == {"alice", "recon", "bob"}
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)
    assert {e["transaction"] for e in entries("--transaction", "R2")} == {t2}
    by_invoice = entries("--invoice", "INV-1")
    assert [(e["actor"], e["action"]) for e in by_invoice] == [("alice", "post"), ("bob", "unmatch")]
    assert by_invoice[0]["before"] == {"open_amount": "100.00", "status": "open"}
    assert by_invoice[0]["after"] == {"open_amount": "0.00", "status": "paid"}
    assert {e["actor"] for e in entries("--actor", "bob")} == {"bob"}
    assert {e["action"] for e in entries("--action", "unmatch", "--action", "post")} == {"unmatch", "post"}
    assert len(entries("--limit", "2")) == 2 and entries("--limit", "2")[-1]["id"] == everything[-1]["id"]
    this_month = datetime.now(UTC).strftime("%Y-%m")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(entries("--period", this_month)) == len(everything)
    assert entries("--period", "2001-01") == []
    assert len(entries("--since", today, "--until", today)) == len(everything)
    assert entries("--until", "2001-01-31") == []

    table = cli_run("audit", "--invoice", "INV-1").output
    assert "open 100.00 -> 0.00 (paid)" in table and "open 0.00 -> 100.00 (open)" in table
    assert "alice" in table and "bob" in table


def test_audit_usage_errors(cli_run, books: Books) -> None:
    result = cli_run("audit", "--period", "2026-10", "--since", "2026-10-01", expect=2)
    assert "either --period or --since/--until" in result.output
    result = cli_run("audit", "--period", "October", expect=2)
    assert "'October' is not a month as YYYY-MM" in result.output
    assert "no audit entries match" in cli_run("audit", "--period", "2001-01").output


def test_unmatch_takes_the_bank_reference_as_the_csv_export_writes_it(cli_run, books: Books, engine: Engine) -> None:
    t = books.transaction("100.00", bank_reference="-42")
    _post(engine, t, [AllocationLine("INV-1", D("100.00"))])
    assert "'-42," in cli_run("export", "allocations").output
    cli_run("unmatch", "'-42", user="alice")
    assert invoice_state(engine, "INV-1") == (D("100.00"), "open")
