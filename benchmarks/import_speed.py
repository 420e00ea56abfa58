"""Benchmark: end-to-end import throughput into SQLite, per format, and peak memory.

Generates large statement files, imports each with the real import job (detection,
parser, deduplication, balance checks, one database transaction per file) in a child
process, and prints lines per second and the child's peak RSS.

Targets (issue 3): camt.053 and CSV >= 20,000 lines/s, MT940 >= 10,000 lines/s,
OFX >= 3,500 lines/s (100,000 lines in <= 30 s); peak memory < 2 GiB for a
1,000,000-line camt.053 file (run with --camt-million).

    python benchmarks/import_speed.py [--lines 100000] [--formats camt,csv,mt940,ofx] [--camt-million]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"camt": 20_000, "csv": 20_000, "mt940": 10_000, "ofx": 3_500}


def write_mt940(path: Path, n_lines: int, seed: int = 3) -> None:
    """An MT940 file of ``n_lines`` lines in statements of 500 lines, German ?-style :86:."""
    rng = random.Random(seed)
    balance = 100_000_00
    day = date(2026, 1, 1)
    with open(path, "w", encoding="latin-1", newline="\r\n") as fh:
        written = 0
        seq = 1
        while written < n_lines:
            count = min(500, n_lines - written)
            fh.write(f":20:BENCH{seq:06d}\n:25:10020030/1234567890\n:28C:{seq:05d}/1\n")
            fh.write(f":60F:C{day:%y%m%d}EUR{balance // 100},{balance % 100:02d}\n")
            for i in range(count):
                cents = rng.randint(100, 5_000_00)
                credit = rng.random() < 0.7
                balance += cents if credit else -cents
                mark = "C" if credit else "D"
                fh.write(f":61:{day:%y%m%d}{day:%m%d}{mark}{cents // 100},{cents % 100:02d}NTRFNONREF//B{seq:05d}{i:04d}\n")
                fh.write(f":86:166?00GUTSCHRIFT?20EREF+E2E{seq}-{i}?21SVWZ+RE {rng.randint(10000, 99999)}\n")
                fh.write(f"?22Kunde {i}?30COBADEFFXXX?31DE89370400440532013000?32Müller Kunde {i} GmbH\n")
            fh.write(f":62F:{'C' if balance >= 0 else 'D'}{day:%y%m%d}EUR{abs(balance) // 100},{abs(balance) % 100:02d}\n-\n")
            written += count
            seq += 1
            day += timedelta(days=1)


def generate(fmt: str, folder: Path, n: int) -> Path:
    if fmt == "camt":
        from benchmarks.gen_camt import write_camt053

        path = folder / f"bench-{n}.camt053.xml"
        write_camt053(path, n)
    elif fmt == "csv":
        from benchmarks.gen_csv import write_csv

        path = folder / f"bench-{n}.csv"
        write_csv(path, n)
    elif fmt == "ofx":
        from benchmarks.gen_ofx import write_ofx

        path = folder / f"bench-{n}.ofx"
        write_ofx(path, n)
    elif fmt == "mt940":
        path = folder / f"bench-{n}.sta"
        write_mt940(path, n)
    else:
        raise SystemExit(f"unknown format {fmt}")
    return path


CHILD = """
import sys, time, resource
from pathlib import Path
from ledger.db import make_engine, ensure_schema
from jobs.importer import import_file
engine = make_engine(sys.argv[1]); ensure_schema(engine)
t = time.perf_counter(); r = import_file(engine, Path(sys.argv[2])); dt = time.perf_counter() - t
print(r.status, r.transactions, f"{dt:.3f}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, (r.error or "-").replace(" ", "_"))
"""


def run(fmt: str, folder: Path, n: int) -> bool:
    path = generate(fmt, folder, n)
    db = folder / f"{fmt}.db"
    db.unlink(missing_ok=True)
    out = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", str(path)], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{fmt:6s} FAILED: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
        return False
    status, lines, secs, rss, error = out.stdout.split()
    rate = int(lines) / float(secs) if float(secs) else 0
    target = TARGETS[fmt]
    ok = status == "imported" and int(lines) == n and rate >= target
    print(f"{fmt:6s} {int(lines):>9,} lines in {float(secs):6.1f} s = {rate:>8,.0f} lines/s "
          f"(target {target:,}); peak RSS {int(rss) / 1024:,.0f} MiB; {status}"
          + ("" if error == "-" else f" {error}") + ("" if ok else "  <- MISSED"))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--formats", default="camt,csv,mt940,ofx")
    ap.add_argument("--camt-million", action="store_true", help="also import a 1,000,000-line camt.053 (memory target)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="recon-import-bench-"))
    ok = all([run(fmt, folder, args.lines) for fmt in args.formats.split(",")])
    if args.camt_million:
        ok = run("camt", folder, 1_000_000) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
