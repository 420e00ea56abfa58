"""Benchmark: end-to-end import throughput into SQLite, per format, and peak memory.

Generates large statement files, imports each with the real import job (detection,
parser, deduplication, balance checks, one database transaction per file) in a child
process, and prints lines per second and the child's peak RSS.

Targets (issue 3): camt.053 and CSV >= 20,000 lines/s, MT940 >= 10,000 lines/s,
OFX >= 3,500 lines/s (100,000 lines in <= 30 s); peak memory < 2 GiB for a
1,000,000-line camt.053 file (run with --camt-million).  A "line" is a statement
line (entry, row, ``:61:``) for camt, CSV and MT940, and a line of the file for OFX
(the issue's "100,000-line OFX file"; one transaction is 10 file lines there).

Both wall and CPU seconds of the child are printed.  On a shared, loaded machine
wall time says more about the neighbours than about the code; the CPU rate
(lines per CPU second, what one otherwise idle core would do) is the figure to
compare between runs, and the one checked against the target.

    python benchmarks/import_speed.py [--lines 100000] [--formats camt,csv,mt940,ofx] [--camt-million]
                                      [--repeat N]      # best of N imports of each file
                                      [--profile DIR]   # also write a cProfile of each import
"""

from __future__ import annotations

import argparse
import random
import shutil
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


def generate(fmt: str, folder: Path, n: int) -> tuple[Path, int, int]:
    """Write a file of ``n`` lines; return (path, transactions it holds, lines counted against the target)."""
    if fmt == "camt":
        from benchmarks.gen_camt import write_camt053

        path = folder / f"bench-{n}.camt053.xml"
        write_camt053(path, n)
        return path, n, n
    if fmt == "csv":
        from benchmarks.gen_csv import write_csv

        path = folder / f"bench-{n}.csv"
        write_csv(path, n)
        return path, n, n
    if fmt == "ofx":
        from benchmarks.gen_ofx import write_ofx

        path = folder / f"bench-{n}.ofx"
        n_tx = write_ofx(path, n)
        with open(path, "rb") as fh:
            file_lines = sum(1 for _ in fh)
        return path, n_tx, file_lines
    if fmt == "mt940":
        path = folder / f"bench-{n}.sta"
        write_mt940(path, n)
        return path, n, n
    raise SystemExit(f"unknown format {fmt}")


CHILD = """
import sys, time, resource
from pathlib import Path
from ledger.db import make_engine, ensure_schema
from jobs.importer import import_file
engine = make_engine(sys.argv[1]); ensure_schema(engine)
profile = sys.argv[3] if len(sys.argv) > 3 else ""
if profile:
    import cProfile
    prof = cProfile.Profile(); prof.enable()
t, c = time.perf_counter(), time.process_time()
r = import_file(engine, Path(sys.argv[2]))
dt, dc = time.perf_counter() - t, time.process_time() - c
if profile:
    prof.disable(); prof.dump_stats(profile)
print(r.status, r.transactions, f"{dt:.3f}", f"{dc:.3f}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      (r.error or "-").replace(" ", "_"))
"""


def _child(fmt: str, folder: Path, path: Path, n: int, profile_dir: Path | None) -> list[str] | None:
    """One import into a fresh database; the child's printed fields, or None when it failed."""
    db = folder / f"{fmt}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    argv = [sys.executable, "-c", CHILD, f"sqlite:///{db}", str(path)]
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        argv.append(str(profile_dir / f"import-{fmt}-{n}.prof"))
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{fmt:6s} FAILED: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
        return None
    return out.stdout.split()


def run(fmt: str, folder: Path, n: int, profile_dir: Path | None = None, repeat: int = 1) -> bool:
    path, n_tx, counted = generate(fmt, folder, n)
    runs = []
    for _ in range(max(1, repeat)):
        fields = _child(fmt, folder, path, n, profile_dir)
        if fields is None:
            return False
        runs.append(fields)
    # The best of the repeats: other processes only ever add time, never take it away.
    status, lines, secs, cpu, rss, error = min(runs, key=lambda f: float(f[3]))
    wall_s, cpu_s = min(float(f[2]) for f in runs), float(cpu)
    rate = counted / wall_s if wall_s else 0
    cpu_rate = counted / cpu_s if cpu_s else 0
    target = TARGETS[fmt]
    ok = status == "imported" and int(lines) == n_tx and cpu_rate >= target
    unit = "file lines" if fmt == "ofx" else "lines"
    extra = f" ({int(lines):,} transactions)" if fmt == "ofx" else ""
    print(f"{fmt:6s} {counted:>9,} {unit}{extra}: {wall_s:6.1f} s wall = {rate:>7,.0f}/s, "
          f"{cpu_s:6.1f} s CPU = {cpu_rate:>7,.0f}/s ({cpu_s * 100_000 / counted:5.2f} CPU s per 100k) "
          f"(target {target:,}/s); peak RSS {int(rss) / 1024:,.0f} MiB; {status}"
          + ("" if error == "-" else f" {error}") + ("" if ok else "  <- MISSED"))
    if profile_dir is not None:
        print(f"       profile: {profile_dir / f'import-{fmt}-{n}.prof'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--formats", default="camt,csv,mt940,ofx")
    ap.add_argument("--camt-million", action="store_true", help="also import a 1,000,000-line camt.053 (memory target)")
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of each import into this folder")
    ap.add_argument("--repeat", type=int, default=1, help="import each file N times, print the best (loaded machines)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="recon-import-bench-"))
    try:
        ok = all([run(fmt, folder, args.lines, args.profile, args.repeat) for fmt in args.formats.split(",")])
        if args.camt_million:
            ok = run("camt", folder, 1_000_000) and ok
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
