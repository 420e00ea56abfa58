"""Speed and memory of the match job: 1,000,000 transactions against about 1,000,000 open invoices.

Targets (issue 4): ``recon match`` on 1M transactions vs 1M open invoices of
100,000 customers in at most 120 s and 6 GiB on this 2-core machine; a
10,000-line day in a few seconds.  Import time is not counted: the generated
month (``fixtures.generator``, the same realistic scenario mix the quality
benchmark uses) is inserted straight into the tables, once, into a template
database that later runs copy.

The match runs in a child process, so that its peak resident memory
(``ru_maxrss``) is the match's alone, not the generator's.

Run::

    python -m benchmarks.match_speed                       # 1M x ~1M, SQLite
    python -m benchmarks.match_speed --transactions 10000  # a day against the same 1M invoices
    python -m benchmarks.match_speed --transactions 100000 --customers 10000 --invoices-per-line 1
    python -m benchmarks.match_speed --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from fixtures.generator import OUR_ACCOUNTS, World, generate
from ledger import invoice_keys
from ledger.db import ensure_schema, make_engine
from ledger.models import (
    BankAccount,
    BankTransaction,
    Customer,
    CustomerAccount,
    CustomerAlias,
    Invoice,
    Statement,
    StatementFile,
)

CHUNK = 50_000


def _chunks(rows: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _bulk(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        for part in _chunks(rows):
            conn.execute(insert(table), part)
        return
    cols = list(rows[0])
    procs = [table.c[c].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in cols]
    cur = conn.connection.driver_connection.cursor()
    with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] if p is None or row[c] is None else p(row[c]) for c, p in zip(cols, procs, strict=True)])


def insert_world(engine: Engine, world: World, transactions: int | None = None) -> dict[str, int]:
    """Customers, invoices and (the first ``transactions``) bank lines straight into the tables."""
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        cust = [{"customer_id": c.customer_id, "name": c.name, "parent_id": None, "country": c.country,
                 "created_at": now, "updated_at": now} for c in world.customers]
        for part in _chunks(cust):
            conn.execute(insert(Customer.__table__), part)
        parents = [{"cid": c.customer_id, "pid": c.parent_id} for c in world.customers if c.parent_id]
        if parents:
            conn.execute(text("UPDATE customers SET parent_id = :pid WHERE customer_id = :cid"), parents)
        accts = [{"customer_id": c.customer_id, "account": iban, "source": "master", "created_at": now}
                 for c in world.customers for iban in c.ibans]
        for part in _chunks(accts):
            conn.execute(insert(CustomerAccount.__table__), part)
        aliases = [{"customer_id": c.customer_id, "alias": a, "source": "master", "created_at": now}
                   for c in world.customers for a in c.aliases]
        for part in _chunks(aliases):
            conn.execute(insert(CustomerAlias.__table__), part)
        invs = [{
            "invoice_id": i.invoice_id, "customer_id": i.customer_id, "issue_date": i.issue_date,
            "due_date": i.due_date, "currency": i.currency, "amount": i.amount, "open_amount": i.open_amount,
            "erp_open_amount": i.open_amount, "reference": i.reference, "discount_pct": i.discount_pct,
            "discount_until": i.discount_until,
            "status": "open" if i.open_amount == i.amount else "partly_paid", "created_at": now, "updated_at": now,
        } for i in world.invoices]
        _bulk(conn, Invoice.__table__, invs)
        counts["customers"], counts["invoices"] = len(cust), len(invs)
        lines = world.lines if transactions is None else world.lines[:transactions]
        statement_of: dict[str, tuple[int, int]] = {}
        for fmt, account in OUR_ACCOUNTS.items():
            acct_id = conn.execute(insert(BankAccount.__table__).returning(BankAccount.id),
                                   {"account": account, "currency": "EUR", "created_at": now}).scalar_one()
            file_id = conn.execute(insert(StatementFile.__table__).returning(StatementFile.id), {
                "content_hash": hashlib.sha256(f"bench-{fmt}-{len(lines)}".encode()).hexdigest(),
                "file_name": f"bench-{fmt}", "format": fmt, "size_bytes": 0, "statements": 1, "transactions": 0,
                "duplicates": 0, "imported_at": now}).scalar_one()
            st_id = conn.execute(insert(Statement.__table__).returning(Statement.id), {
                "file_id": file_id, "account_id": acct_id, "kind": fmt, "currency": "EUR", "line_count": 0,
                "duplicate_count": 0, "position": 0}).scalar_one()
            statement_of[fmt] = (st_id, acct_id)
        rows = []
        for pos, ln in enumerate(lines):
            st_id, acct_id = statement_of[ln.fmt]
            rows.append({
                "statement_id": st_id, "account_id": acct_id,
                "line_key": hashlib.sha256(ln.bank_reference.encode()).hexdigest(), "position": pos,
                "bank_reference": ln.bank_reference, "booking_date": ln.booking_date, "value_date": ln.booking_date,
                "amount": ln.amount, "currency": ln.currency, "counterparty_name": ln.name,
                "counterparty_account": ln.account, "ultimate_debtor": ln.ultimate_debtor,
                "remittance": ln.remittance, "creditor_reference": ln.creditor_reference,
                "bank_code": ln.bank_code, "raw": "", "status": "new", "created_at": now,
            })
        _bulk(conn, BankTransaction.__table__, rows)
        counts["transactions"] = len(rows)
    return counts


def run_match_child(db_url: str) -> dict[str, Any]:
    """(In the child) run the match; time and peak memory."""
    import logging

    from jobs.match import run_match
    from rules import load_rules

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    engine = make_engine(db_url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.monotonic()
    summary = run_match(engine, load_rules())
    seconds = time.monotonic() - t
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    # the writer process (a child of this one, ended by now): its CPU and peak memory count too
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "writer_cpu_seconds": round(children.ru_utime + children.ru_stime, 2),
        "writer_peak_rss_mib": round(children.ru_maxrss / 1024, 1),
        "load_average_1m": round(os.getloadavg()[0], 2), "summary": summary.as_dict(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="Speed of recon match on generated data.")
    ap.add_argument("--transactions", type=int, default=1_000_000, help="bank lines to match")
    ap.add_argument("--lines", type=int, default=None, help="lines in the generated month (default: --transactions)")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "recon-speed")
    ap.add_argument("--db", default=None, help="a PostgreSQL URL (an empty schema); default: SQLite files in --dir")
    ap.add_argument("--run-match", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_match:
        print(json.dumps(run_match_child(args.run_match)))
        return
    lines = args.lines or args.transactions
    args.dir.mkdir(parents=True, exist_ok=True)
    tag = f"{args.customers}c-{lines}l-{args.transactions}t-s{args.seed}"
    template = args.dir / f"template-{tag}.db"
    if args.db is None and template.exists():
        print(f"reusing {template}")
    else:
        t = time.monotonic()
        cache = args.dir / f"world-{args.customers}c-{lines}l-s{args.seed}.pickle"
        if cache.exists():
            with open(cache, "rb") as fh:
                world = pickle.load(fh)
        else:
            world = generate(args.seed, customers=args.customers, lines=lines, background=0)
            with open(cache, "wb") as fh:
                pickle.dump(world, fh, protocol=pickle.HIGHEST_PROTOCOL)
        print(f"generated {len(world.lines)} lines, {len(world.invoices)} invoices, {len(world.customers)} customers "
              f"in {time.monotonic() - t:.0f}s")
        url = args.db or f"sqlite:///{template}.tmp"
        engine = make_engine(url)
        ensure_schema(engine)
        t = time.monotonic()
        counts = insert_world(engine, world, args.transactions)
        engine.dispose()
        print(f"inserted {counts} in {time.monotonic() - t:.0f}s (not counted)")
        del world
        if args.db is None:
            os.replace(f"{template}.tmp", template)
    # the invoices keyed as ``recon load invoices`` keys them (ledger.invoice_keys): part of loading
    # them, not of the match; a template made by an older recon is migrated first
    t = time.monotonic()
    engine = make_engine(args.db or f"sqlite:///{template}")
    ensure_schema(engine)
    with engine.begin() as conn:
        keyed = invoice_keys.refresh(conn)
    engine.dispose()
    if keyed:
        print(f"keyed {keyed} invoices in {time.monotonic() - t:.0f}s (not counted)")
    if args.db is None:
        work = args.dir / "run.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, work)
        url = f"sqlite:///{work}"
    else:
        url = args.db
    out = subprocess.run([sys.executable, "-m", "benchmarks.match_speed", "--run-match", url],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(out.stderr[-3000:])
        sys.exit(out.returncode)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    s = result["summary"]
    for line in out.stderr.splitlines():
        if "recon.match" in line:
            print("  " + line)
    print(f"recon match: {s['considered']} transactions in {result['seconds']} s wall, {result['cpu_seconds']} s CPU "
          f"(machine load {result['load_average_1m']} on {os.cpu_count()} cores), peak RSS {result['peak_rss_mib']} MiB")
    if result["writer_peak_rss_mib"]:
        print(f"  the writer process: {result['writer_cpu_seconds']} s CPU, peak RSS {result['writer_peak_rss_mib']} MiB "
              f"(together at most {round(result['peak_rss_mib'] + result['writer_peak_rss_mib'], 1)} MiB)")
    else:
        print("  (written by a thread of the match process: a run this small starts no writer process)")
    print(f"  posted {s['posted']} ({s['posted_amount']}), queued {s['queued']}, set aside {s['ignored']}")
    print(json.dumps(result))
    assert Decimal(s["posted_amount"]) >= 0


if __name__ == "__main__":
    main()
