"""Benchmark: `recon report month-end` on 100,000 transactions (target: at most 30 s).

Builds a month of books by bulk insert (no matcher, no importer): three bank
accounts with daily statements whose balances add up, customers, invoices,
and for the credits the decisions in realistic proportions: most posted
automatically (a few over two invoices, a few with a surplus kept as
unapplied cash, a few undone and posted again by a person), some posted by a
person, some queued, some set aside, some untouched; the audit trail that
posting writes; debits.  Then it runs the real command in a fresh process
per format and reports the wall-clock time of each.

    .venv/bin/python benchmarks/month_end_speed.py                  # 100,000 on SQLite in a temp dir
    .venv/bin/python benchmarks/month_end_speed.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python benchmarks/month_end_speed.py --transactions 20000 --formats table,html

``--db`` must name an empty database (the script creates the schema).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, select, text  # noqa: E402

from ledger.db import ensure_schema, make_engine  # noqa: E402
from ledger.models import (  # noqa: E402
    Allocation,
    AuditEntry,
    BankAccount,
    BankTransaction,
    Customer,
    Invoice,
    QueueItem,
    Statement,
    StatementFile,
    UnappliedCash,
)

PERIOD_START = date(2026, 10, 1)
DAYS = 31
ACCOUNTS = (("DE44500105175407324931", "EUR", "Operating EUR"), ("DE02120300000000202051", "EUR", "Collections EUR"),
            ("GB33BUKB20201555555555", "USD", "USD receipts"))
QUEUE_REASONS = ("no-candidate", "ambiguous", "amount-mismatch", "unknown-payer", "low-confidence", "possible-duplicate")
IGNORE_REASONS = ("interest", "internal-transfer", "supplier-refund", "bank-fee")
CHUNK = 5000


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_dataset(engine: Engine, transactions: int = 100_000, seed: int = 7, customers: int = 2000) -> dict[str, int]:
    """Bulk-insert a month (October 2026) of ``transactions`` bank lines and everything around them."""
    rnd = random.Random(seed)
    ensure_schema(engine)
    rows: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("customers", "invoices", "files", "statements", "txns", "allocs", "unapplied", "queue", "audit")
    }
    cust_ids = [f"C{i:05d}" for i in range(1, customers + 1)]
    for i, cid in enumerate(cust_ids):
        rows["customers"].append({
            "customer_id": cid, "name": f"Customer {i + 1} {rnd.choice(['GmbH', 'Ltd', 'SARL', 'BV', 'Oy', 'S.p.A.'])}",
            "credit_limit": _money(rnd.choice([500_000, 1_000_000, 2_500_000, 5_000_000])) if i % 3 else None,
            "payment_terms_days": 30, "email": f"ap{i + 1}@customer.example", "created_at": _at(PERIOD_START, 0),
            "updated_at": _at(PERIOD_START, 0),
        })
    inv_n = 0
    alloc_id = 0
    audit_id = 0

    def invoice(cid: str, cents: int, currency: str, open_cents: int, issue: date) -> str:
        nonlocal inv_n
        inv_n += 1
        iid = f"INV{inv_n:07d}"
        status = "open" if open_cents == cents else ("paid" if open_cents == 0 else "partly_paid")
        rows["invoices"].append({
            "invoice_id": iid, "customer_id": cid, "issue_date": issue, "due_date": issue + timedelta(days=30),
            "currency": currency, "amount": _money(cents), "open_amount": _money(open_cents),
            "erp_open_amount": _money(cents), "status": status, "created_at": _at(PERIOD_START, 0),
            "updated_at": _at(PERIOD_START, 0),
        })
        return iid

    def audit(action: str, tid: int, at: datetime, entity: str, after: dict[str, Any] | None,
              invoice_id: str | None = None, entity_id: Any = None) -> None:
        nonlocal audit_id
        audit_id += 1
        rows["audit"].append({
            "id": audit_id, "at": at, "actor": "recon", "action": action, "transaction_id": tid, "invoice_id": invoice_id,
            "entity": entity, "entity_id": str(entity_id if entity_id is not None else tid), "before": None,
            "after": after, "detail": None, "job_run_id": None,
        })

    def allocate(tid: int, iid: str, cents: int, at: datetime, automatic: bool, status: str = "posted",
                 reversed_at: datetime | None = None) -> None:
        nonlocal alloc_id
        alloc_id += 1
        rows["allocs"].append({
            "id": alloc_id, "transaction_id": tid, "invoice_id": iid, "amount": _money(cents),
            "adjustment_amount": Decimal("0"), "adjustment_reason": None, "status": status,
            "confidence": Decimal("0.97") if automatic else Decimal("1"),
            "reason": "reference+amount" if automatic else "manual", "evidence": {"fields": ["reference", "amount"]},
            "automatic": automatic, "decided_by": "recon" if automatic else "anna", "decided_at": at,
            "approved_by": None, "approved_at": None, "reversed_by": "anna" if reversed_at else None,
            "reversed_at": reversed_at, "job_run_id": None,
        })
        audit("post", tid, at, "allocation", {"open_amount": "0.00", "status": "paid"}, iid, alloc_id)

    per_account = [transactions // len(ACCOUNTS)] * len(ACCOUNTS)
    per_account[0] += transactions - sum(per_account)
    tid = 0
    stmt_id = 0
    for acc_index, ((account, currency, _name), n) in enumerate(zip(ACCOUNTS, per_account, strict=True)):
        balance = 5_000_000_00 + acc_index * 1_000_000_00
        by_day: list[list[int]] = [[] for _ in range(DAYS)]
        for _ in range(n):
            by_day[rnd.randrange(DAYS)].append(0)
        for d in range(DAYS):
            day = PERIOD_START + timedelta(days=d)
            stmt_id += 1
            rows["files"].append({
                "id": stmt_id, "content_hash": hashlib.sha256(f"{account}{day}".encode()).hexdigest(),
                "file_name": f"{account[-6:]}_{day:%Y%m%d}.xml", "format": "camt.053", "size_bytes": 1000,
                "statements": 1, "transactions": len(by_day[d]), "duplicates": 0,
                "imported_at": _at(day + timedelta(days=1), 5),  # the day's statement arrives next morning
            })
            opening = balance
            stmt_rows: list[dict[str, Any]] = []
            for pos in range(len(by_day[d])):
                tid += 1
                credit = rnd.random() < 0.85
                cents = rnd.randint(5_000, 2_500_000) if credit else -rnd.randint(1_000, 5_000_000)
                cid = rnd.choice(cust_ids)
                txn = {
                    "id": tid, "statement_id": stmt_id, "account_id": acc_index + 1,
                    "line_key": hashlib.sha1(f"{tid}".encode()).hexdigest(), "position": pos,
                    "bank_reference": f"B{tid:09d}", "booking_date": day, "value_date": day, "amount": _money(cents),
                    "currency": currency, "counterparty_name": f"Payer {cid}", "raw": "", "status": "new",
                    "customer_id": None, "ignore_reason": None, "created_at": _at(day + timedelta(days=1), 5),
                }
                balance += cents
                stmt_rows.append(txn)
                if not credit:
                    continue
                decided = _at(day + timedelta(days=1), 6, rnd.randrange(60))
                issue = day - timedelta(days=rnd.randint(5, 75))
                r = rnd.random()
                if r < 0.66:  # posted automatically to one invoice
                    iid = invoice(cid, cents, currency, 0, issue)
                    allocate(tid, iid, cents, decided, True)
                    txn.update(status="posted", customer_id=cid)
                elif r < 0.70:  # two invoices
                    first = cents // 3
                    allocate(tid, invoice(cid, first, currency, 0, issue), first, decided, True)
                    allocate(tid, invoice(cid, cents - first, currency, 0, issue), cents - first, decided, True)
                    txn.update(status="posted", customer_id=cid)
                elif r < 0.73:  # overpayment: the surplus is unapplied cash
                    part = cents - rnd.randint(100, min(50_000, cents - 1))
                    allocate(tid, invoice(cid, part, currency, 0, issue), part, decided, True)
                    rows["unapplied"].append({
                        "transaction_id": tid, "customer_id": cid, "amount": _money(cents - part), "currency": currency,
                        "status": "open", "reason": "overpayment", "created_by": "recon", "created_at": decided,
                    })
                    txn.update(status="posted", customer_id=cid)
                elif r < 0.74:  # posted automatically, undone, posted again by a person
                    iid = invoice(cid, cents, currency, 0, issue)
                    allocate(tid, iid, cents, decided, True, "reversed", decided + timedelta(hours=5))
                    allocate(tid, iid, cents, decided + timedelta(hours=6), False)
                    txn.update(status="posted", customer_id=cid)
                elif r < 0.86:  # posted by a person from the queue
                    iid = invoice(cid, cents, currency, 0, issue)
                    allocate(tid, iid, cents, decided + timedelta(hours=rnd.randint(2, 60)), False)
                    txn.update(status="posted", customer_id=cid)
                elif r < 0.94:  # still in the queue
                    near = cents + rnd.randint(0, 5_000)  # an invoice close to the amount: why it waits
                    invoice(cid, near, currency, near, issue)
                    rows["queue"].append({
                        "transaction_id": tid, "reason": rnd.choice(QUEUE_REASONS), "detail": "", "customer_id": None,
                        "status": "open", "created_at": decided, "created_by": "recon",
                    })
                    audit("queue", tid, decided, "queue_item", {"status": "queued", "customer_id": None, "ignore_reason": None})
                    txn.update(status="queued")
                    continue
                elif r < 0.97:  # set aside by a rule
                    reason = rnd.choice(IGNORE_REASONS)
                    audit("ignore", tid, decided, "transaction", {"status": "ignored", "customer_id": None, "ignore_reason": reason})
                    txn.update(status="ignored", ignore_reason=reason)
                    continue
                else:  # not matched yet
                    continue
                audit("transaction-posted", tid, decided, "transaction",
                      {"status": "posted", "customer_id": cid, "ignore_reason": None})
            rows["txns"].extend(stmt_rows)
            rows["statements"].append({
                "id": stmt_id, "file_id": stmt_id, "account_id": acc_index + 1, "kind": "camt.053",
                "statement_ref": f"{account[-4:]}-{day:%j}", "currency": currency, "opening_balance": _money(opening),
                "opening_date": day - timedelta(days=1), "closing_balance": _money(balance), "closing_date": day,
                "first_booking_date": day if stmt_rows else None, "last_booking_date": day if stmt_rows else None,
                "line_count": len(stmt_rows), "duplicate_count": 0, "warnings": None, "position": 0,
            })
    # open invoices for the aging: some of every age
    for _ in range(transactions // 5):
        cid = rnd.choice(cust_ids)
        issue = PERIOD_START + timedelta(days=30 - rnd.randint(0, 200))
        cents = rnd.randint(10_000, 3_000_000)
        invoice(cid, cents, rnd.choice(("EUR", "EUR", "USD")), cents if rnd.random() < 0.8 else cents // 2, issue)

    accounts = [{"id": i + 1, "account": a, "currency": c, "name": nm, "created_at": _at(PERIOD_START, 0)}
                for i, (a, c, nm) in enumerate(ACCOUNTS)]
    tables = [
        (Customer, rows["customers"]), (BankAccount, accounts), (Invoice, rows["invoices"]),
        (StatementFile, rows["files"]), (Statement, rows["statements"]), (BankTransaction, rows["txns"]),
        (Allocation, rows["allocs"]), (UnappliedCash, rows["unapplied"]), (QueueItem, rows["queue"]),
        (AuditEntry, rows["audit"]),
    ]
    with engine.begin() as conn:
        for model, data in tables:
            table = model.__table__
            for start in range(0, len(data), CHUNK):
                conn.execute(table.insert(), data[start : start + CHUNK])
        if engine.dialect.name == "postgresql":
            for model in (BankAccount, StatementFile, Statement, BankTransaction, Allocation, AuditEntry):
                t = model.__tablename__
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
            conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        counts = {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one() for m, _ in tables}
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="an empty database URL (default: SQLite in a temp dir)")
    ap.add_argument("--transactions", type=int, default=100_000)
    ap.add_argument("--formats", default="table,json,html,xlsx")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="--db already holds the books of an earlier run: time only")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="recon-bench-"))
    url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    if not args.reuse:
        engine = make_engine(url)
        started = time.perf_counter()
        counts = build_dataset(engine, args.transactions, args.seed)
        engine.dispose()
        print(f"built in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    recon = str(Path(sys.executable).with_name("recon"))
    worst = 0.0
    for fmt in args.formats.split(","):
        out = tmp / f"month-end.{ 'txt' if fmt == 'table' else fmt}"
        cmd = [recon, "report", "month-end", "--period", "2026-10", "--db", url, "--format", fmt, "--output", str(out)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RECON_NO_PROGRESS": "1"})
        elapsed = time.perf_counter() - t0
        worst = max(worst, elapsed)
        status = "ok" if proc.returncode == 0 else f"FAILED ({proc.returncode}): {proc.stderr.strip()}"
        print(f"recon report month-end --format {fmt:5s}: {elapsed:6.2f} s  {out.stat().st_size if out.exists() else 0:>10,} bytes  {status}")
    print(f"slowest: {worst:.2f} s (target <= 30 s): {'PASS' if worst <= 30 else 'FAIL'}")
    print(f"output in {tmp}")
    return 0 if worst <= 30 else 1


if __name__ == "__main__":
    raise SystemExit(main())
