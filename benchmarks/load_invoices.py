"""Benchmark: load N invoices (default 1,000,000) of 100,000 customers into SQLite.

Target (issue 2): 1,000,000 invoices in at most 60 s and 2 GiB peak memory.
Runs the real loader in a child process and reports wall time and the child's
peak RSS (ru_maxrss), so the generator's own memory is not counted.

    python benchmarks/load_invoices.py [--invoices 1000000] [--customers 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_files(folder: Path, n_invoices: int, n_customers: int, seed: int = 7) -> tuple[Path, Path]:
    """Contract-shaped customers.csv and invoices.csv."""
    rng = random.Random(seed)
    customers = folder / "customers.csv"
    with open(customers, "w", encoding="utf-8") as fh:
        fh.write("customer_id,name,aliases,ibans,parent_id,credit_limit,payment_terms_days,country\n")
        for i in range(n_customers):
            fh.write(f"C{i:06d},Customer {i} GmbH,Cust {i},DE{i:020d},,{rng.randint(1, 500) * 1000}.00,30,DE\n")
    invoices = folder / "invoices.csv"
    base = date(2026, 1, 1)
    with open(invoices, "w", encoding="utf-8") as fh:
        fh.write("invoice_id,customer_id,issue_date,due_date,currency,amount,open_amount,reference,discount_pct,discount_until\n")
        for i in range(n_invoices):
            issue = base + timedelta(days=rng.randint(0, 300))
            cents = rng.randint(1000, 5_000_000)
            amount = f"{cents // 100}.{cents % 100:02d}"
            disc = ("2", (issue + timedelta(days=10)).isoformat()) if i % 5 == 0 else ("", "")
            fh.write(
                f"INV-{i:08d},C{rng.randrange(n_customers):06d},{issue.isoformat()},"
                f"{(issue + timedelta(days=30)).isoformat()},EUR,{amount},,RF{i:08d},{disc[0]},{disc[1]}\n"
            )
    return customers, invoices


CHILD = """
import sys, time, resource
from pathlib import Path
from ledger.db import make_engine, ensure_schema
from ledger.masterdata import load_customers, load_invoices
engine = make_engine(sys.argv[1]); ensure_schema(engine)
t0 = time.perf_counter(); load_customers(engine, Path(sys.argv[2])); t1 = time.perf_counter()
r = load_invoices(engine, Path(sys.argv[3])); t2 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {r.rows} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="write the files and database here instead of a temporary folder")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="recon-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    customers, invoices = write_files(folder, args.invoices, args.customers)
    print(f"generated {args.invoices:,} invoices of {args.customers:,} customers in {time.perf_counter() - t:.1f} s")
    db = folder / "bench.db"
    db.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", str(customers), str(invoices)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    t_cust, t_inv, rows, rss_kib = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    print(f"customers: {args.customers:,} in {t_cust:.1f} s")
    print(f"invoices:  {rows:,} in {t_inv:.1f} s ({rows / t_inv:,.0f}/s); peak RSS {rss_kib / 1024:,.0f} MiB")
    ok = t_inv <= 60 and rss_kib / 1024 / 1024 <= 2
    print("target 60 s / 2 GiB:", "MET" if ok else "MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    _ = resource  # used in the child
    main()
