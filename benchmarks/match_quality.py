"""Quality of ``recon match`` on a generated month, through the real loaders, importer and command.

1. ``fixtures.generator`` writes a month: customers, invoices, a camt.053, an
   MT940 and a Knab CSV statement, and the truth for every line;
2. ``recon load customers``, ``recon load invoices``, ``recon import``,
   ``recon match`` run on a fresh database (in process, through click);
3. every bank line is compared with its truth.

Figures, overall and per scenario:

* **auto-post rate**: of the lines a careful person would post without
  hesitation (truth ``clear``), how many recon posted automatically (target
  at least 95 %), and how many of those with exactly the right allocations;
* **precision**: of all automatic allocations, how many are right, invoice and
  cash amount (target at least 99.9 %);
* **non-customer lines allocated**: must be 0;
* **top-1**: of the queued lines that have a true invoice, how often the first
  suggestion names exactly the true invoices (target at least 90 %).

Run ``python -m benchmarks.match_quality [--lines 3000] [--customers 400] [--seed 0] [--db URL] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, select

from fixtures.generator import generate, truth_rows, write_month
from ledger.db import ensure_schema, make_engine, transaction
from ledger.models import Allocation, BankAccount, BankTransaction, QueueItem, Suggestion


@dataclass
class Bucket:
    """Counts for one scenario (or all)."""

    lines: int = 0
    clear: int = 0
    clear_posted: int = 0
    clear_posted_right: int = 0
    auto_allocations: int = 0
    auto_right: int = 0
    posted: int = 0
    queued: int = 0
    ignored: int = 0
    noncustomer_allocated: int = 0
    queued_with_truth: int = 0
    top1_right: int = 0
    pending: int = 0

    def figures(self) -> dict[str, Any]:
        def pct(a: int, b: int) -> float | None:
            return None if b == 0 else round(100.0 * a / b, 2)

        return {
            "lines": self.lines, "posted": self.posted, "queued": self.queued, "ignored": self.ignored,
            "pending_approval": self.pending,
            "clear": self.clear, "auto_post_rate_pct": pct(self.clear_posted, self.clear),
            "auto_post_right_pct": pct(self.clear_posted_right, self.clear),
            "auto_allocations": self.auto_allocations, "precision_pct": pct(self.auto_right, self.auto_allocations),
            "wrong_allocations": self.auto_allocations - self.auto_right,
            "noncustomer_allocated": self.noncustomer_allocated,
            "queued_with_true_invoice": self.queued_with_truth, "top1_pct": pct(self.top1_right, self.queued_with_truth),
        }


@dataclass
class Report:
    total: Bucket = field(default_factory=Bucket)
    scenarios: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    examples: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.figures(),
            "scenarios": {k: v.figures() for k, v in sorted(self.scenarios.items())},
            "timings_s": self.timings,
            "examples": self.examples[:60],
        }


def _parse_allocs(text: str) -> list[tuple[str, Decimal, Decimal]]:
    out = []
    for part in filter(None, text.split(";")):
        inv, cash, adj = part.rsplit(":", 2)
        out.append((inv, Decimal(cash), Decimal(adj)))
    return out


def evaluate(engine: Engine, truth: list[dict[str, str]]) -> Report:
    """Compare every line's outcome in the database with its truth."""
    report = Report()
    with transaction(engine) as s:
        acct = {a.id: a.account for a in s.scalars(select(BankAccount))}
        txns = {(t.bank_reference, acct[t.account_id]): t for t in s.scalars(select(BankTransaction))}
        allocs: dict[int, list[Allocation]] = defaultdict(list)
        for a in s.scalars(select(Allocation).where(Allocation.status != "reversed")):
            allocs[a.transaction_id].append(a)
        items = {q.transaction_id: q for q in s.scalars(select(QueueItem).where(QueueItem.status == "open"))}
        top: dict[int, set[str]] = defaultdict(set)
        for sug in s.scalars(select(Suggestion).where(Suggestion.rank == 1)):
            top[sug.queue_item_id].add(sug.invoice_id)
        for row in truth:
            txn = txns.get((row["bank_reference"], row["account"]))
            buckets = (report.total, report.scenarios[row["scenario"]])
            truth_allocs = _parse_allocs(row["allocations"])
            want = {(i, c) for i, c, _ in truth_allocs}
            for b in buckets:
                b.lines += 1
            if txn is None:
                report.examples.append({"missing": row["bank_reference"]})
                continue
            mine = allocs.get(txn.id, [])
            auto = [a for a in mine if a.automatic]
            right = [a for a in auto if (a.invoice_id, a.amount) in want and row["expected"] != "ignore"]
            got_set = {(a.invoice_id, a.amount) for a in mine}
            pending = any(a.status == "pending_approval" for a in mine)
            for b in buckets:
                b.auto_allocations += len(auto)
                b.auto_right += len(right)
                if txn.status == "posted":
                    b.posted += 1
                elif txn.status == "queued":
                    b.queued += 1
                    b.pending += pending
                elif txn.status == "ignored":
                    b.ignored += 1
                if row["expected"] == "ignore" and mine:
                    b.noncustomer_allocated += 1
                if row["clear"] == "1":
                    b.clear += 1
                    if txn.status == "posted" and auto:
                        b.clear_posted += 1
                        b.clear_posted_right += got_set == want
            if len(right) != len(auto):
                report.examples.append({"wrong": row["bank_reference"], "scenario": row["scenario"],
                                        "truth": row["allocations"], "got": sorted(map(str, got_set)),
                                        "reason": auto[0].reason if auto else None, "evidence": auto[0].evidence})
            elif row["clear"] == "1" and txn.status != "posted":
                item = items.get(txn.id)
                report.examples.append({"missed": row["bank_reference"], "scenario": row["scenario"],
                                        "queue_reason": item.reason if item else txn.status,
                                        "detail": item.detail if item else None, "note": row["note"],
                                        "name": txn.counterparty_name, "text": txn.remittance})
            if txn.status == "queued" and not pending and truth_allocs:
                item = items.get(txn.id)
                good = item is not None and top.get(item.id) == {i for i, _ in want}
                for b in buckets:
                    b.queued_with_truth += 1
                    b.top1_right += good
    report.examples.sort(key=lambda e: (0 if "wrong" in e else 1 if "missed" in e else 2))
    return report


def run(out_dir: Path, db_url: str, *, seed: int = 0, lines: int = 3000, customers: int = 400) -> Report:
    """Generate, load, import, match and evaluate; returns the report."""
    from cli.main import cli

    timings: dict[str, float] = {}
    t = time.monotonic()
    world = generate(seed, customers=customers, lines=lines)
    paths = write_month(world, out_dir)
    timings["generate"] = round(time.monotonic() - t, 2)
    runner = CliRunner()

    def recon(*args: str) -> str:
        res = runner.invoke(cli, ["--db", db_url, *args], catch_exceptions=False, env={"RECON_NO_PROGRESS": "1"})
        if res.exit_code != 0:
            raise SystemExit(f"recon {' '.join(args)} failed ({res.exit_code}): {res.output}")
        return res.output

    t = time.monotonic()
    recon("load", "customers", str(paths["customers"]))
    recon("load", "invoices", str(paths["invoices"]))
    timings["load"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    imported = json.loads(recon("import", "--format", "json", str(out_dir / "statements")))
    timings["import"] = round(time.monotonic() - t, 2)
    bad = [r for r in imported if r["status"] != "imported"]
    if bad:
        raise SystemExit(f"import did not take every file: {bad}")
    t = time.monotonic()
    summary = json.loads(recon("match", "--format", "json"))
    timings["match"] = round(time.monotonic() - t, 2)
    again = json.loads(recon("match", "--format", "json"))
    if again["considered"] != 0:
        raise SystemExit(f"the second run considered {again['considered']} transactions")
    engine = make_engine(db_url)
    ensure_schema(engine)
    report = evaluate(engine, list(truth_rows(world)))
    engine.dispose()
    report.timings = timings | {"match_summary": summary}  # type: ignore[operator]
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description="Quality of recon match on a generated month.")
    ap.add_argument("--lines", type=int, default=3000)
    ap.add_argument("--customers", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--db", default=None, help="database URL (default: a SQLite file in a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="write the full report here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'quality.db'}"
        report = run(Path(tmp) / "month", db, seed=args.seed, lines=args.lines, customers=args.customers)
    data = report.as_dict()
    if args.json:
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    tot = data["total"]
    print(f"lines {tot['lines']}: posted {tot['posted']}, queued {tot['queued']} (pending approval {tot['pending_approval']}), "
          f"ignored {tot['ignored']}")
    print(f"auto-post rate of clear lines: {tot['auto_post_rate_pct']}% ({tot['auto_post_right_pct']}% exactly right)   "
          f"target >= 95%")
    print(f"precision of automatic allocations: {tot['precision_pct']}% ({tot['wrong_allocations']} wrong of "
          f"{tot['auto_allocations']})   target >= 99.9%")
    print(f"non-customer lines allocated: {tot['noncustomer_allocated']}   target 0")
    print(f"top-1 suggestion of queued lines with a true invoice: {tot['top1_pct']}% of {tot['queued_with_true_invoice']}"
          f"   target >= 90%")
    print(f"{'scenario':16} {'lines':>6} {'clear':>6} {'auto%':>7} {'prec%':>7} {'queued':>6} {'top1%':>7} {'ignored':>7}")
    for name, f in data["scenarios"].items():
        print(f"{name:16} {f['lines']:6} {f['clear']:6} {str(f['auto_post_rate_pct'] or '-'):>7} "
              f"{str(f['precision_pct'] or '-'):>7} {f['queued']:6} {str(f['top1_pct'] or '-'):>7} {f['ignored']:7}")
    print("timings (s):", {k: v for k, v in data["timings_s"].items() if k != "match_summary"})
    ok = (
        (tot["auto_post_rate_pct"] or 0) >= 95 and (tot["precision_pct"] or 0) >= 99.9
        and tot["noncustomer_allocated"] == 0 and (tot["top1_pct"] or 0) >= 90
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
