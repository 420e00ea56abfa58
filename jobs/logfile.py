"""Where recon writes what a user should not see on screen: tracebacks and internal detail.

One file, ``$RECON_LOG_DIR/recon.log`` (default ``~/.cache/recon/recon.log``), shared by
the command line and the jobs, so a one-line error on screen can point at the details.
"""

from __future__ import annotations

import os
import sys
import traceback
from datetime import datetime
from pathlib import Path


def log_path() -> Path:
    """The log file recon appends details to."""
    base = Path(os.environ.get("RECON_LOG_DIR") or Path.home() / ".cache" / "recon")
    return base / "recon.log"


def write_traceback(exc: BaseException, context: str = "") -> Path | None:
    """Append ``exc``'s traceback to the log; return the log's path, or None when it cannot be written."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now().isoformat()} {' '.join(sys.argv)} {context}\n")
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None
