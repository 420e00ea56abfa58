"""Conformance: every statement file in ../shared/corpus is read right or refused with a reason.

Expected results live in ``tests/parsers/corpus_expected/<format dir>.toml``, one
table per file name::

    ["some__file.sta"]
    lines = 12                 # transactions the file holds (what import must store)
    statements = 1             # optional
    # or
    reject = "substring of the one-line reason"
    note = "why"               # optional, for the reader

A file with no entry is still run: it must either parse or raise ParseError,
never anything else (no traceback ever reaches a user).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from parsers.base import ParseError
from parsers.registry import detect

CORPUS = Path(os.environ.get("RECON_CORPUS", Path(__file__).resolve().parents[3] / "shared" / "corpus"))
EXPECTED_DIR = Path(__file__).parent / "corpus_expected"
SKIP_SUFFIXES = {".yml", ".yaml", ".json", ".pydata", ".md", ".tsv"}


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = []
    for sub in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() in SKIP_SUFFIXES or f.name.endswith(".expected"):
                continue
            files.append(f)
    return files


def _expected() -> dict[str, dict]:
    table: dict[str, dict] = {}
    for f in EXPECTED_DIR.glob("*.toml"):
        with open(f, "rb") as fh:
            table.update(tomllib.load(fh))
    return table


FILES = _corpus_files()
EXPECTED = _expected()


def parse_file(path: Path) -> tuple[int, int]:
    """(statements, lines) of ``path``, through detection and the parser, as the import job reads it."""
    parser = detect(path)
    n_statements = n_lines = 0
    for statement in parser.parse(path):
        n_statements += 1
        n_lines += sum(1 for _ in statement.lines)
    return n_statements, n_lines


@pytest.mark.corpus
@pytest.mark.skipif(not FILES, reason=f"corpus folder {CORPUS} is absent (only on the team's machines)")
@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name[:80]}" for p in FILES])
def test_corpus_file(path: Path) -> None:
    expected = EXPECTED.get(path.name, {})
    try:
        statements, lines = parse_file(path)
    except ParseError as exc:
        assert "reject" in expected or not expected, f"{path.name} was rejected but should import: {exc}"
        if expected.get("reject"):
            assert expected["reject"].lower() in str(exc).lower(), str(exc)
        assert "\n" not in str(exc), "a rejection is one line"
        return
    assert "reject" not in expected, f"{path.name} should be rejected ({expected['reject']}) but parsed"
    if "lines" in expected:
        assert lines == expected["lines"], f"{path.name}: {lines} lines, expected {expected['lines']}"
    if "statements" in expected:
        assert statements == expected["statements"]
