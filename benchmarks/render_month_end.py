"""Render the HTML month-end report in headless Chromium to a PNG (and a PDF), for a person to look at.

Builds a month of demo books (the generator of ``month_end_speed.py``, a few
thousand transactions by default), writes ``recon report month-end --format
html``, and has Chromium (Debian package ``chromium``) take a screenshot of
it and print it to PDF with the report's print CSS.

    .venv/bin/python benchmarks/render_month_end.py
    .venv/bin/python benchmarks/render_month_end.py --transactions 5000 --out benchmarks/out/month_end.png

Without ``/usr/bin/chromium``: ``apt-get install -y chromium``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from month_end_speed import build_dataset  # noqa: E402

from ledger.db import make_engine  # noqa: E402

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str:
    """The Chromium binary, or exit with how to install it."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium not found: install it with `apt-get install -y chromium`")


def shoot(html: Path, png: Path, pdf: Path | None = None, size: str = "1280,2400") -> None:
    """Screenshot ``html`` to ``png`` (and print it to ``pdf``) with headless Chromium."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="recon-chromium-") as profile:
        base = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        subprocess.run([*base, f"--screenshot={png}", f"--window-size={size}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
        if pdf is not None:
            subprocess.run([*base, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri()],
                           check=True, capture_output=True, timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transactions", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=HERE / "out" / "month_end.png")
    ap.add_argument("--size", default="1280,2400", help="browser window WIDTH,HEIGHT")
    args = ap.parse_args()
    out: Path = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="recon-render-"))
    url = f"sqlite:///{tmp / 'demo.db'}"
    engine = make_engine(url)
    build_dataset(engine, args.transactions)
    engine.dispose()
    html = out.with_suffix(".html")
    recon = str(Path(sys.executable).with_name("recon"))
    subprocess.run([recon, "report", "month-end", "--period", "2026-10", "--db", url, "--output", str(html)], check=True)
    started = time.perf_counter()
    shoot(html, out, out.with_suffix(".pdf"), args.size)
    print(f"{html}\n{out}\n{out.with_suffix('.pdf')}\nrendered in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
