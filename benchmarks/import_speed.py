"""Benchmark: end-to-end import throughput into SQLite, per format, and peak memory.

Generates large statement files, imports each with the real import job (detection,
parser, deduplication, balance checks, one database transaction per file) in a child
process, and prints lines per second and peak RSS.

Targets (issue 3): camt.053 and CSV >= 20,000 lines/s, MT940 >= 10,000 lines/s,
OFX >= 3,500 lines/s (100,000 lines in <= 30 s); peak memory < 2 GiB for a
1,000,000-line camt.053 file (run with --camt-million).  A "line" is a statement
line (entry, row, ``:61:``) for camt, CSV and MT940, and a line of the file for OFX
(the issue's "100,000-line OFX file"; one transaction is 10 file lines there).

What is checked against the target is the WALL rate (lines per second of elapsed
time), because that is what the issue asks for and what the import job is built
for: a file of ``jobs.importer.WORKER_MIN_BYTES`` or more of a parser whose lines
stream (camt) is parsed in a second process (``parsers/worker.py``) while the
importing process writes the database, so on two cores parse and write overlap.
That makes an import faster, not cheaper: both processes together spend at least
the CPU seconds one process would (the transfer between them adds some).  So the
CPU figure printed is the honest total (importer + parse worker, and each of
them), its rate is printed for comparison between runs, but it no longer says what
one core does per second, and it is not held against the target.

Wall time depends on the machine being quiet.  The one-minute load average before
a format's first import is printed, and so is the CPU time OTHER processes used
during the import reported (the machine's busy time from /proc/stat minus the
import's own); when that is above ``QUIET`` of one core, the wall figure is marked
as unreliable (run again when the machine is idle; --repeat keeps the best of N
imports, since other processes only ever add time).  A virtual machine's
neighbours on the host are not in /proc/stat: the speed of a plain Python loop is
printed first (about 0.33 s on this machine when the host is quiet; the issue's
figures were taken so) to tell a slow host from slow code.  Peak RSS is given
for the importer and the parse worker, and the memory target holds their sum; the
worker's figure is an upper bound, since it counts the instant the worker is
started, when it still shares the importer's memory.

    python benchmarks/import_speed.py [--lines 100000] [--formats camt,csv,mt940,ofx] [--camt-million]
                                      [--repeat N]      # best of N imports of each file
                                      [--profile DIR]   # also write a cProfile of each import (importer only)
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = {"camt": 20_000, "csv": 20_000, "mt940": 10_000, "ofx": 3_500}
MEMORY_LIMIT_MIB = 2048
QUIET = 0.10  # share of one core other processes may use during an import for its wall figure to count


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
def worker_cpu():  # the parse worker's CPU seconds, counted once it has been waited for
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime
t, c, w = time.perf_counter(), time.process_time(), worker_cpu()
r = import_file(engine, Path(sys.argv[2]))
dt, dc, dw = time.perf_counter() - t, time.process_time() - c, worker_cpu() - w
if profile:
    prof.disable(); prof.dump_stats(profile)
print(r.status, r.transactions, f"{dt:.3f}", f"{dc:.3f}", f"{dw:.3f}", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, (r.error or "-").replace(" ", "_"))
"""


def _machine_busy_s() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fh.readline().split()[1:9])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_s() -> float:
    """CPU seconds of this process's finished children (the import and its parse worker)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(fmt: str, folder: Path, path: Path, n: int, profile_dir: Path | None) -> list[str] | None:
    """One import into a fresh database: the child's printed fields and the share of a core others used meanwhile."""
    db = folder / f"{fmt}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    argv = [sys.executable, "-c", CHILD, f"sqlite:///{db}", str(path)]
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        argv.append(str(profile_dir / f"import-{fmt}-{n}.prof"))
    busy, ours, start = _machine_busy_s(), _children_s(), time.perf_counter()
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    elapsed, after = time.perf_counter() - start, _machine_busy_s()
    if out.returncode != 0:
        print(f"{fmt:6s} FAILED: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
        return None
    others = "-1" if busy is None or after is None else \
        f"{max(0.0, (after - busy) - (_children_s() - ours)) / elapsed:.3f}"
    return [*out.stdout.split(), others]


def run(fmt: str, folder: Path, n: int, profile_dir: Path | None = None, repeat: int = 1,
        memory_check: bool = False) -> bool:
    path, n_tx, counted = generate(fmt, folder, n)
    load = os.getloadavg()[0]
    runs = []
    for _ in range(max(1, repeat)):
        fields = _child(fmt, folder, path, n, profile_dir)
        if fields is None:
            return False
        runs.append(fields)
    # The best of the repeats (other processes only ever add time, never take it away); all
    # figures printed are that import's.
    status, lines, wall, cpu, worker, rss, worker_rss, error, others = min(runs, key=lambda f: float(f[2]))
    wall_s, cpu_s, worker_s, others_share = float(wall), float(cpu), float(worker), float(others)
    total_s = cpu_s + worker_s
    rate = counted / wall_s if wall_s else 0
    cpu_rate = counted / total_s if total_s else 0
    target = TARGETS[fmt]
    rss_mib, worker_mib = int(rss) / 1024, int(worker_rss) / 1024
    ok = status == "imported" and int(lines) == n_tx and rate >= target
    if memory_check:
        ok = ok and rss_mib + worker_mib < MEMORY_LIMIT_MIB
    unit = "file lines" if fmt == "ofx" else "lines"
    extra = f" ({int(lines):,} transactions)" if fmt == "ofx" else ""
    split = f" = importer {cpu_s:.1f} + parse worker {worker_s:.1f}" if worker_s else " (one process)"
    quiet = f"others {others_share:.0%} of a core" if others_share >= 0 else "others unknown"
    busy = "" if 0 <= others_share <= QUIET else "  (machine busy: wall figure unreliable)"
    print(f"{fmt:6s} {counted:>9,} {unit}{extra}: {wall_s:6.1f} s wall = {rate:>7,.0f}/s (target {target:,}/s; "
          f"load {load:.2f}, {quiet}); {total_s:5.1f} s CPU{split} = {cpu_rate:>7,.0f}/s "
          f"({total_s * 100_000 / counted:5.2f} CPU s per 100k); peak RSS {rss_mib:,.0f} MiB"
          + (f" + worker {worker_mib:,.0f} MiB" if worker_s else "") + f"; {status}"
          + ("" if error == "-" else f" {error}") + ("" if ok else "  <- MISSED") + busy)
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
    from benchmarks.bench_camt_parse import machine_speed

    print(f"machine: 10M-iteration Python loop {machine_speed():.2f} s CPU (about 0.33 s when the host is quiet)")
    folder = Path(tempfile.mkdtemp(prefix="recon-import-bench-"))
    try:
        ok = all([run(fmt, folder, args.lines, args.profile, args.repeat) for fmt in args.formats.split(",")])
        if args.camt_million:
            ok = run("camt", folder, 1_000_000, memory_check=True) and ok
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
