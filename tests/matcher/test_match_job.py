"""``recon match`` end to end on a database: posts, queues, sets aside; twice changes nothing."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

import jobs.match as match_job
from jobs.match import run_match
from ledger import posting
from ledger.db import transaction
from ledger.models import Allocation, AuditEntry, BankTransaction, JobRun, QueueItem
from rules import load_rules
from tests.matcher.helpers import Books, open_amount, outcome


def _books() -> Books:
    b = Books()
    b.customer("C1", "Müller Maschinenbau GmbH", accounts=("DE02120300000000202051",))
    b.customer("C2", "Van der Berg B.V.")
    b.customer("C3", "Shenzhen Huaqiang Co., Ltd.")
    b.customer("P", "Holding AG").customer("S", "Tochter GmbH", parent="P", accounts=("DE00SUB",))
    b.invoice("INV-2026-0042", "C1", "1200.00")
    b.invoice("INV-2026-0043", "C1", "800.00").invoice("INV-2026-0044", "C1", "500.00")
    b.invoice("INV-2026-0050", "C2", "300.00").invoice("INV-2026-0051", "C2", "300.00")
    b.invoice("INV-2026-0060", "C3", "1000.00", discount_pct="2", discount_until=date(2026, 10, 10))
    b.invoice("INV-2026-0070", "S", "444.44")
    b.invoice("INV-2026-0080", "C3", "700.00", currency="USD")
    b.line("1200.00", name="MUELLER MASCHINENBAU", text="inv 2026/42", ref="clean")
    b.line("1300.00", name="MUELLER MASCHINENBAU", account="DE02 1203 0000 0000 2020 51", ref="multi")
    b.line("300.00", name="VAN DER BERG BV", ref="twins")
    b.line("980.00", name="SHENZHEN HUAQIANG", text="Payment ＩＮＶ２０２６００６０", ref="discount")
    b.line("-50.00", name="Bank", text="Entgelt", ref="debit")
    b.line("1200.00", name="MUELLER MASCHINENBAU", text="INV-2026-0042", ref="dup", booking=date(2026, 10, 6))
    b.line("77.00", name="Nobody", text="hello", ref="unknown")
    b.line("444.44", name="HOLDING AG", ref="parent")
    b.line("3.12", name="Our Bank", text="Habenzinsen 3. Quartal", ref="interest")
    b.line("700.00", name="Shenzhen Huaqiang", text="INV-2026-0080", ref="currency")
    return b


def test_recon_match_posts_queues_and_sets_aside(cli_run, db_url: str, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = _books().save(engine)
    res = cli_run("match", "--format", "json")
    summary = json.loads(res.output)
    assert summary["considered"] == 10
    assert summary["posted"] == 4 and summary["ignored"] == 2
    _assert_outcomes(engine, ids)

    # the second run changes nothing
    before = _counts(engine)
    res = cli_run("match", "--format", "json")
    assert json.loads(res.output)["considered"] == 0
    assert _counts(engine) == before

    res = cli_run("match")
    assert "0 transaction(s) considered" in res.output


def test_reading_only_the_relevant_invoices_gives_the_same_outcomes(engine: Engine) -> None:
    """A day against a large book looks its invoices up (stored keys, payers' customers and their
    subsidiaries, amounts) instead of reading them all: on both databases, the same outcomes."""
    b = _books()
    b.customer("X", "Unrelated Ltd").invoice("INV-2026-0900", "X", "77.00")  # the unknown payer's amount
    b.invoice("INV-2026-0901", "X", "77.00")
    ids = b.save(engine)
    with engine.begin() as conn:  # a cancelled invoice is never a candidate
        conn.execute(text("UPDATE invoices SET status = 'cancelled' WHERE invoice_id = 'INV-2026-0901'"))
    summary = run_match(engine, load_rules(), scope="relevant")
    assert (summary.considered, summary.posted, summary.ignored, summary.queued) == (10, 4, 2, 4)
    _assert_outcomes(engine, ids)
    o = outcome(engine, ids["unknown"])
    assert [sg[1] for sg in o.suggestions] == ["INV-2026-0900"]  # found by its amount alone


def test_a_writer_process_writes_what_the_writer_thread_writes(engine: Engine) -> None:
    """Large runs write their chunks in a second process (its own engine from the URL, a PostgreSQL
    search_path included); small chunks here, so that several are in flight."""
    ids = _books().save(engine)
    summary = run_match(engine, load_rules(), chunk_size=3, writer="process")
    assert (summary.considered, summary.posted, summary.ignored, summary.queued) == (10, 4, 2, 4)
    assert summary.queued_by_reason == {"ambiguous": 1, "possible-duplicate": 1, "unknown-payer": 1,
                                        "currency-mismatch": 1}
    _assert_outcomes(engine, ids)
    before = _counts(engine)
    assert run_match(engine, load_rules(), writer="process").considered == 0
    assert _counts(engine) == before


def _assert_outcomes(engine: Engine, ids: dict[str, int]) -> None:
    o = outcome(engine, ids["clean"])
    assert o.status == "posted" and o.allocations[0][0] == "INV-2026-0042" and o.allocations[0][4] == "reference+amount"
    assert o.evidence["reference"] == {"found": "inv 2026/42", "in": "remittance", "match": "leading-zeros",
                                       "invoice": "INV-2026-0042"}
    assert o.evidence["amount"]["expected"] == "1200.00" and o.evidence["payer"]["customer_id"] == "C1"

    o = outcome(engine, ids["multi"])
    assert o.status == "posted" and sorted(a[0] for a in o.allocations) == ["INV-2026-0043", "INV-2026-0044"]
    assert {a[4] for a in o.allocations} == {"multi-invoice"}

    o = outcome(engine, ids["twins"])
    assert o.status == "queued" and o.queue_reason == "ambiguous" and len(o.suggestions) == 2

    o = outcome(engine, ids["discount"])
    assert o.allocations == [("INV-2026-0060", Decimal("980.00"), Decimal("20.00"), "discount", "discount")]
    assert open_amount(engine, "INV-2026-0060") == (Decimal("0.00"), "paid")

    assert outcome(engine, ids["debit"]).ignore_reason == "debit"
    assert outcome(engine, ids["interest"]).ignore_reason == "interest"
    assert outcome(engine, ids["dup"]).queue_reason == "possible-duplicate"  # booked a day after the first
    assert outcome(engine, ids["unknown"]).queue_reason == "unknown-payer"
    o = outcome(engine, ids["parent"])
    assert o.status == "posted" and o.customer_id == "P" and o.evidence["payer"]["pays_for"] == "S"
    o = outcome(engine, ids["currency"])
    assert o.queue_reason == "currency-mismatch" and o.suggestions[0][1] == "INV-2026-0080"


def _counts(engine: Engine) -> tuple[int, ...]:
    with transaction(engine) as s:
        return (
            s.scalar(select(func.count()).select_from(Allocation)),
            s.scalar(select(func.count()).select_from(QueueItem)),
            s.scalar(select(func.count()).select_from(AuditEntry)),
            s.scalar(select(func.count()).select_from(BankTransaction).where(BankTransaction.status == "new")),
        )


def test_an_undone_posting_is_not_posted_again(engine: Engine) -> None:
    b = Books()
    b.customer("C1", "Alpha GmbH").invoice("INV-1001", "C1", "100.00").line("100.00", text="INV-1001", ref="t")
    ids = b.save(engine)
    rules = load_rules()
    assert run_match(engine, rules).posted == 1
    with transaction(engine) as s:
        posting.unmatch(s, s.get(BankTransaction, ids["t"]), actor="anna", note="wrong customer")
    summary = run_match(engine, rules)
    assert summary.considered == 0
    o = outcome(engine, ids["t"])
    assert o.status == "queued" and o.queue_reason == "reversed" and o.allocations == []


def test_within_one_run_an_invoice_is_not_allocated_twice(engine: Engine) -> None:
    b = Books()
    b.customer("C1", "Alpha GmbH").invoice("INV-1001", "C1", "100.00")
    b.line("100.00", text="INV-1001", ref="first", booking=date(2026, 10, 1))
    b.line("100.00", text="INV-1001", ref="second", booking=date(2026, 10, 2))
    ids = b.save(engine)
    run_match(engine, load_rules(), chunk_size=1)  # the second decision sees the first one's effect
    assert outcome(engine, ids["first"]).status == "posted"
    assert outcome(engine, ids["second"]).queue_reason == "possible-duplicate"


def test_booking_date_order_decides_who_gets_the_invoice(engine: Engine) -> None:
    b = Books()
    b.customer("C1", "Alpha GmbH").invoice("INV-1001", "C1", "100.00")
    b.line("100.00", text="INV-1001", ref="later", booking=date(2026, 10, 9))
    b.line("100.00", text="INV-1001", ref="earlier", booking=date(2026, 10, 2))
    ids = b.save(engine)
    run_match(engine, load_rules())
    assert outcome(engine, ids["earlier"]).status == "posted"
    assert outcome(engine, ids["later"]).status == "queued"


def test_learned_account_identifies_the_payer(engine: Engine) -> None:
    b = Books()
    b.customer("C1", "Alpha GmbH").customer("C2", "Beta GmbH")
    b.invoice("INV-1", "C1", "250.00").invoice("INV-2", "C1", "99.00").invoice("INV-3", "C2", "250.00")
    b.line("99.00", name="A. Person", account="DE11 5555", ref="first", booking=date(2026, 10, 1))
    ids = b.save(engine)
    run_match(engine, load_rules())
    assert outcome(engine, ids["first"]).status == "queued"  # nobody knows A. Person yet
    with transaction(engine) as s:  # a person confirms the match; posting remembers the account
        txn = s.get(BankTransaction, ids["first"])
        posting.post(s, txn, [posting.AllocationLine("INV-2", Decimal("99.00"))], actor="anna", reason="manual",
                     automatic=False, learn_payer=True)
    b.line("250.00", name="A. Person", account="DE115555", ref="second", booking=date(2026, 10, 9))
    ids.update(b.save(engine))
    run_match(engine, load_rules())
    o = outcome(engine, ids["second"])
    assert o.status == "posted" and o.allocations[0][0] == "INV-1"
    assert o.evidence["payer"]["by"] == "learned-account"


def test_rules_file_overrides_and_per_customer(engine: Engine, tmp_path: Path) -> None:
    b = Books()
    b.customer("C1", "Alpha GmbH", accounts=("ACC1",)).customer("C2", "Beta GmbH", accounts=("ACC2",))
    b.invoice("INV-1001", "C1", "1000.00").invoice("INV-2001", "C2", "1000.00")
    b.line("975.00", account="ACC1", text="INV-1001", ref="a")
    b.line("975.00", account="ACC2", text="INV-2001", ref="b")
    ids = b.save(engine)
    path = tmp_path / "rules.toml"
    path.write_text('[matching]\npost_partial_payments = false\n[customers."C2".matching]\nbank_charges_tolerance = "30.00"\n')
    run_match(engine, load_rules(path))
    assert outcome(engine, ids["a"]).queue_reason == "amount-mismatch"  # 25.00 short: beyond 15.00
    o = outcome(engine, ids["b"])
    assert o.status == "posted" and o.allocations[0][3] == "bank-charges"


def test_bad_rules_file_is_one_line(cli_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rules.toml"
    path.write_text('[[ignore.rules]]\nreason = "x"\nremittance = "(unclosed"\n')
    res = cli_run("match", "--rules", str(path), expect=1)
    assert "ignore rule 'x'" in res.output and "Traceback" not in res.output


def test_job_run_is_recorded(engine: Engine) -> None:
    Books().customer("C1", "A").invoice("INV-1001", "C1", "1.00").line("1.00", text="INV-1001").save(engine)
    summary = run_match(engine, load_rules(), actor="recon")
    with transaction(engine) as s:
        run = s.get(JobRun, summary.job_run_id)
        assert run.kind == "match" and run.status == "ok" and run.summary["posted"] == 1
        alloc = s.scalars(select(Allocation)).one()
        assert alloc.job_run_id == run.id and alloc.automatic and alloc.decided_by == "recon"


def test_master_data_is_read_in_key_order_whatever_order_the_database_keeps(engine: Engine) -> None:
    """Ties between customer names are broken by position; PostgreSQL moves an updated row to the end
    of its table, so the position must come from the keys, not from where a row lies (seen: 13 of
    1,000,000 payers differed between SQLite and PostgreSQL before)."""
    from jobs.match import _load_master

    b = Books()
    for cid in ("C3", "C1", "C2"):  # stored in this order
        b.customer(cid, f"Kunde {cid} GmbH", accounts=(f"DE{cid}",), aliases=(f"K{cid}", f"A{cid}"))
    b.save(engine)
    customers, aliases, accounts = _load_master(engine)
    assert customers["customer_id"].to_list() == ["C1", "C2", "C3"]
    assert aliases.select("customer_id", "alias").rows() == [
        ("C1", "AC1"), ("C1", "KC1"), ("C2", "AC2"), ("C2", "KC2"), ("C3", "AC3"), ("C3", "KC3"),
    ]
    assert accounts["customer_id"].to_list() == ["C1", "C2", "C3"]


def test_a_failed_chunk_stops_the_run_and_nothing_after_it_is_written(engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Several chunks are handed to the writer at a time: when one fails, those handed over after it
    are refused by the writer, not written (the run stops with the error, the rest stays new)."""
    _books().save(engine)
    real = match_job.write_plain
    calls: list[int] = []

    def flaky(conn, chunk, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(chunk))
        if len(calls) == 2:
            time.sleep(0.3)  # the next chunk is handed over meanwhile
            raise posting.PostingError("disk full (simulated)")
        return real(conn, chunk, *args, **kwargs)

    monkeypatch.setattr(match_job, "write_plain", flaky)
    with pytest.raises(posting.PostingError, match="simulated"):
        run_match(engine, load_rules(), chunk_size=3, writer="thread")
    assert len(calls) == 2  # the third chunk never reached the database code
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(BankTransaction).where(BankTransaction.status != "new")) == 3
        assert s.scalar(select(JobRun.status).order_by(JobRun.id.desc()).limit(1)) == "failed"
