"""Benchmark: the camt parser alone (no database): lines per second and peak memory.

Generates camt.053 files with ``benchmarks/gen_camt.py`` and reads every line
of them with ``parsers.camt.CamtParser`` in a child process, so that the peak
RSS printed is the parser's own.  The end-to-end import (into SQLite) is
measured by ``benchmarks/import_speed.py``.

    python benchmarks/bench_camt_parse.py [--lines 100000] [--million] [--dir /tmp]

Targets (issue 3 / camt helper brief): >= 80,000 lines/s for the parser alone;
peak memory far under 2 GiB for a 1,000,000-line file.  The machine's own
speed is printed too (a pure-Python loop and libxml2 building the same file's
tree without any Python per element), since both bound what a parser can do.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_CHILD = r"""
import json, resource, sys, time
from parsers.camt import CamtParser
path = sys.argv[1]
wall, cpu = time.perf_counter(), time.process_time()
n = 0
total = 0
closing = None
for statement in CamtParser().parse(path):
    for line in statement.lines:
        n += 1
        total += line.amount
    closing = statement.closing.amount if statement.closing else None
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"lines": n, "wall": wall, "cpu": cpu, "sum": str(total), "closing": str(closing),
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_FLOOR = r"""
import sys, time
from lxml import etree
from parsers.camt import _PARSER_OPTIONS, _TAGS, _UnqualifiedRoot, _release
path = sys.argv[1]
cpu = time.process_time()
# The same byte stream the parser reads (the root's default namespace as a plain attribute).
for _event, el in etree.iterparse(_UnqualifiedRoot(open(path, "rb")), events=("end",), tag=_TAGS, **_PARSER_OPTIONS):
    _release(el)
print(time.process_time() - cpu)
"""


def machine_speed() -> float:
    """Seconds for 10 million iterations of a trivial Python loop (about 0.4 s on a current desktop)."""
    start = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - start


def run(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def floor(path: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _FLOOR, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return float(out.stdout)


def main() -> None:
    """Generate, parse, print."""
    from benchmarks.gen_camt import write_camt053

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="also parse a 1,000,000-line file (peak memory)")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    args = ap.parse_args()
    print(f"machine: 10M-iteration Python loop {machine_speed():.2f} s CPU (about 0.4 s on a current desktop)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        sizes = [args.lines] + ([1_000_000] if args.million else [])
        for n in sizes:
            path = Path(tmp) / f"bench-{n}.camt053.xml"
            summary = write_camt053(path, n)
            size_mb = path.stat().st_size / 1e6
            result = run(path)
            assert result["lines"] == n, result
            assert result["closing"] == str(summary.closing), (result, summary)
            parse_only = floor(path)
            print(f"camt.053 {n:>9,} lines ({size_mb:,.0f} MB): {result['wall']:.1f} s wall, {result['cpu']:.1f} s CPU"
                  f" = {n / result['wall']:,.0f} lines/s wall, {n / result['cpu']:,.0f} lines/s CPU;"
                  f" peak RSS {result['maxrss_mib']:,.0f} MiB;"
                  f" libxml2/iterparse alone {parse_only:.1f} s CPU ({n / parse_only:,.0f} entries/s)")


if __name__ == "__main__":
    main()
