"""The same books give the same decisions in every run, whatever Python's string hash seed, and
whether the run reads the whole book of invoices or only those it can touch.

Sets of strings iterate in an order that changes with ``PYTHONHASHSEED`` from
process to process, and polars' joins and unstable sorts give rows in no fixed
order: a tie broken by either would post a line in one run and queue it in
the next (seen: one line of 100,000 decided differently by two runs).  Each
run here is a fresh interpreter with its own hash seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import hashlib, sys
from sqlalchemy import text
from benchmarks.match_speed import insert_world
from fixtures.generator import generate
from jobs.match import run_match
from ledger.db import ensure_schema, make_engine
from rules import load_rules

eng = make_engine(sys.argv[1])
ensure_schema(eng)
insert_world(eng, generate(5, customers=2000, lines=6000, background=2), 1500)
run_match(eng, load_rules(), scope=sys.argv[2], writer=sys.argv[3], chunk_size=400)
h = hashlib.sha256()
with eng.connect() as c:
    for q in [
        "SELECT transaction_id, invoice_id, amount, adjustment_amount, reason, confidence, evidence"
        " FROM allocations ORDER BY 1, 2",
        "SELECT q.transaction_id, q.reason, q.customer_id, s.rank, s.invoice_id, s.amount, s.confidence, s.evidence"
        " FROM queue_items q LEFT JOIN suggestions s ON s.queue_item_id = q.id ORDER BY 1, 4, 5",
        "SELECT id, status, customer_id, ignore_reason FROM bank_transactions ORDER BY id",
    ]:
        for row in c.execute(text(q)):
            h.update(repr(tuple(row)).encode())
print(h.hexdigest())
"""


def _digest(tmp_path: Path, seed: int, scope: str, writer: str = "thread") -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": str(ROOT)}
    url = f"sqlite:///{tmp_path / f'run-{seed}-{scope}-{writer}.db'}"
    out = subprocess.run([sys.executable, "-c", SCRIPT, url, scope, writer], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=False, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_two_runs_with_different_hash_seeds_decide_alike(tmp_path: Path) -> None:
    assert _digest(tmp_path, 1, "all") == _digest(tmp_path, 2, "all")


def test_a_writer_process_writes_what_a_writer_thread_writes(tmp_path: Path) -> None:
    assert _digest(tmp_path, 4, "all", "process") == _digest(tmp_path, 4, "all", "thread")


def test_reading_only_the_relevant_invoices_decides_as_reading_all(tmp_path: Path) -> None:
    """A day against a large book reads only the invoices it can touch (named, of the payers and their
    subsidiaries, of an amount a payment without payer or reference has): the same decisions."""
    assert _digest(tmp_path, 3, "relevant") == _digest(tmp_path, 3, "all")
