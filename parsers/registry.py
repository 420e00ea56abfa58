"""Which parser reads a file: detection by content, in a fixed order.

Adding a format means writing one module with a parser class (see
``parsers/base.py``) and naming it in ``_FORMATS``; the import job is never
touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from parsers.base import ParseError, Parser
from parsers.encoding import looks_binary

HEAD_BYTES = 64 * 1024

# (module, class) in detection order: the strict, self-describing formats
# first, CSV profiles (which match on a header row) last.
_FORMATS: tuple[tuple[str, str], ...] = (
    ("parsers.camt", "CamtParser"),
    ("parsers.ofx", "OFXParser"),
    ("parsers.mt940", "MT940Parser"),
    ("parsers.bai2", "BAI2Parser"),
)


def builtin_parsers() -> list[Parser]:
    """One instance of every non-CSV parser, in detection order."""
    parsers: list[Parser] = []
    for module_name, class_name in _FORMATS:
        module = importlib.import_module(module_name)
        parsers.append(getattr(module, class_name)())
    return parsers


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def detect(path: Path, profiles: Sequence[str | Path] = ()) -> Parser:
    """Return the parser for ``path`` or raise :class:`ParseError` saying why none fits.

    ``profiles`` are the user's ``--profile`` arguments (a built-in profile
    name or a TOML file); they are tried before the built-in CSV profiles.
    """
    head = read_head(path)
    if not head.strip():
        raise ParseError("the file is empty; expected a bank statement (MT940, camt, OFX, BAI2 or CSV)")
    for parser in builtin_parsers():
        if parser.detect(head):
            return parser
    from parsers.csv_export import CSVParser  # the CSV/XLSX parser, driven by profiles

    csv_parser = CSVParser(profiles)
    if csv_parser.detect(head):
        return csv_parser
    if looks_binary(head):
        raise ParseError("binary content of no known statement format; expected MT940, camt, OFX, BAI2, or a CSV/XLSX export")
    raise ParseError(
        "unknown format: not MT940, camt.05x, OFX/QFX or BAI2, and no CSV profile recognises its header"
        " (give one with --profile FILE)"
    )
