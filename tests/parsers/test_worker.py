"""parsers/worker.py: a parse in a child process answers exactly what the same parse in this process does."""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from parsers.bai2 import BAI2Parser
from parsers.base import ParseError, Statement, StatementLine
from parsers.camt import CamtParser
from parsers.csv_export import CSVParser
from parsers.mt940 import MT940Parser
from parsers.ofx import OFXParser
from parsers.worker import BATCH, ParserCrashed, parse_in_worker

STATEMENTS = Path(__file__).resolve().parents[2] / "fixtures" / "statements"


def read(statements: Iterator[Statement]) -> list[tuple[Statement, list[StatementLine]]]:
    """Every statement with its lines, consumed the way the import job does (lines first, then balances)."""
    out = []
    for statement in statements:
        lines = list(statement.lines)
        out.append((dataclasses.replace(statement, lines=[]), lines))
    return out


def failure(statements: Iterator[Statement]) -> tuple[type[BaseException], str, int | None, int]:
    """How reading ``statements`` to the end fails: the error, its line, and how many lines came before."""
    seen = 0
    with pytest.raises((ParseError, OSError)) as caught:
        for statement in statements:
            for _line in statement.lines:
                seen += 1
    error = caught.value
    return type(error), str(error), getattr(error, "line", None), seen


def children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(("parser", "path"), [
    (CamtParser(), STATEMENTS / "camt" / "camt053_v02_quirks.xml"),
    (CamtParser(), STATEMENTS / "camt" / "camt053_v08_party.xml"),
    (CamtParser(), STATEMENTS / "camt" / "camt054_notification.xml"),
    (CamtParser(), STATEMENTS / "camt" / "camt052_report.xml"),
    (MT940Parser(), STATEMENTS / "mt940" / "multi_statement.sta"),
    (MT940Parser(), STATEMENTS / "mt940" / "reversals.sta"),
    (OFXParser(), STATEMENTS / "ofx" / "bank_and_card.ofx"),
    (BAI2Parser(), STATEMENTS / "bai2" / "bai2_quirks.bai"),
    (CSVParser(()), STATEMENTS / "csv" / "knab_ok.csv"),
], ids=lambda value: value.name if isinstance(value, Path) else type(value).__name__)
def test_same_statements_and_lines_as_in_process(parser, path: Path) -> None:  # type: ignore[no-untyped-def]
    here = read(parser.parse(path))
    assert here and any(lines for _, lines in here)
    assert read(parse_in_worker(parser, path)) == here


def test_a_large_file_with_several_statements_and_batches(tmp_path: Path) -> None:
    from benchmarks.gen_camt import write_camt053

    one, two = tmp_path / "one.xml", tmp_path / "two.xml"
    write_camt053(one, BATCH * 2 + 17, seed=3)
    write_camt053(two, 5, seed=4, account="NL91ABNA0417164300", version="02")
    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(one, "one.xml")
        zf.write(two, "two.xml")
    got = read(parse_in_worker(CamtParser(), archive))
    assert got == read(CamtParser().parse(archive))
    assert [len(lines) for _, lines in got] == [BATCH * 2 + 17, 5]
    first, lines = got[0]
    assert first.closing is not None and first.opening is not None
    assert first.opening.amount + sum(line.amount for line in lines) == first.closing.amount
    assert all(type(line.amount) is Decimal and type(line.booking_date) is date for line in lines)


def test_statements_listed_before_their_lines_lose_nothing() -> None:
    path = STATEMENTS / "mt940" / "multi_statement.sta"
    statements = list(parse_in_worker(MT940Parser(), path))
    expected = read(MT940Parser().parse(path))
    assert len(statements) == len(expected) > 1
    assert [list(s.lines) for s in statements] == [lines for _, lines in expected]


def test_a_parse_error_late_in_the_file_is_the_same_error_after_the_same_lines(tmp_path: Path) -> None:
    from benchmarks.gen_camt import write_camt053

    path = tmp_path / "late-error.xml"
    write_camt053(path, BATCH + 300, seed=5)
    text = path.read_text(encoding="utf-8")
    cut = text.index("<Ntry>", len(text) - 20_000)
    amount_at = text.index('<Amt Ccy="EUR">', cut)
    value_at = amount_at + len('<Amt Ccy="EUR">')
    path.write_text(text[:value_at] + "12,50" + text[text.index("<", value_at):], encoding="utf-8")
    here = failure(CamtParser().parse(path))
    assert here[0] is ParseError and "12,50" in here[1] and here[2] and here[3] > BATCH
    assert failure(parse_in_worker(CamtParser(), path)) == here


def test_broken_xml_is_the_same_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_bytes((STATEMENTS / "camt" / "camt053_v08_party.xml").read_bytes()[:-300])
    here = failure(CamtParser().parse(path))
    assert here[0] is ParseError and "not well-formed" in here[1]
    assert failure(parse_in_worker(CamtParser(), path)) == here


def test_a_file_that_cannot_be_read_is_the_same_oserror(tmp_path: Path) -> None:
    missing = tmp_path / "gone.sta"
    with pytest.raises(OSError) as here:
        read(MT940Parser().parse(missing))
    with pytest.raises(OSError) as there:
        read(parse_in_worker(MT940Parser(), missing))
    assert (there.value.errno, there.value.filename) == (here.value.errno, here.value.filename)


class Exploding:
    """A parser with a bug: it fails with something that is not a ParseError after three lines."""

    name: ClassVar[str] = "exploding"

    def detect(self, head: bytes) -> bool:
        return False

    def parse(self, path: Path) -> Iterator[Statement]:
        def lines() -> Iterator[StatementLine]:
            for day in (1, 2, 3):
                yield StatementLine(booking_date=date(2026, 1, day), amount=Decimal("1.00"))
            raise KeyError("no such field")

        yield Statement(account="NL91ABNA0417164300", lines=lines())


def test_a_parser_bug_is_reported_with_the_child_traceback(tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text("x", encoding="utf-8")
    statements = parse_in_worker(Exploding(), path)
    statement = next(statements)
    assert [line.booking_date.day for line in _take(statement.lines, 3)] == [1, 2, 3]
    with pytest.raises(ParserCrashed, match="KeyError: 'no such field'") as caught:
        next(iter(statement.lines))
    assert any("raise KeyError" in note for note in caught.value.__notes__)
    assert not children()


def _take(lines: Iterator[StatementLine], n: int) -> list[StatementLine]:
    return [next(lines) for _ in range(n)]


class Odd:
    """A parser whose values marshal cannot carry as they are: they must still arrive unchanged."""

    name: ClassVar[str] = "odd"

    class Text(str):
        pass

    def detect(self, head: bytes) -> bool:
        return False

    def parse(self, path: Path) -> Iterator[Statement]:
        yield Statement(account="X", lines=[
            StatementLine(booking_date=date(2026, 1, 2), amount=Decimal("-0.50"), remittance="plain"),
        ])
        yield Statement(account="Y", lines=[
            StatementLine(booking_date=datetime(2026, 1, 2, 12, 30), amount=Decimal("1E+2")),
            StatementLine(booking_date=date(2026, 1, 3), amount=Decimal("2.00"), remittance=Odd.Text("sub")),
        ])


def test_values_marshal_cannot_carry_travel_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "any.txt"
    path.write_text("x", encoding="utf-8")
    got = read(parse_in_worker(Odd(), path))
    assert got == read(Odd().parse(path))
    (_, first), (_, second) = got
    assert str(first[0].amount) == "-0.50"
    assert type(second[0].booking_date) is datetime and str(second[0].amount) == "1E+2"
    assert type(second[1].remittance) is Odd.Text


def test_closing_early_stops_the_child(tmp_path: Path) -> None:
    from benchmarks.gen_camt import write_camt053

    path = tmp_path / "big.xml"
    write_camt053(path, BATCH * 40, seed=6)
    statements = parse_in_worker(CamtParser(), path)
    statement = next(statements)
    assert next(iter(statement.lines)).amount
    assert children()
    statements.close()  # type: ignore[attr-defined]
    assert not children()


def test_asking_again_after_an_error_raises_it_again(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_bytes((STATEMENTS / "camt" / "camt053_v08_party.xml").read_bytes()[:-300])
    statements = parse_in_worker(CamtParser(), path)
    with pytest.raises(ParseError) as first:
        read(statements)
    with pytest.raises(ParseError) as again:
        read(statements)
    assert str(again.value) == str(first.value)


def test_a_child_that_dies_is_an_error_not_a_hang(tmp_path: Path) -> None:
    from benchmarks.gen_camt import write_camt053

    path = tmp_path / "big.xml"
    write_camt053(path, BATCH * 40, seed=8)
    statements = parse_in_worker(CamtParser(), path)
    lines = next(statements).lines
    next(iter(lines))
    (child,) = children()
    child.kill()
    with pytest.raises(ParserCrashed, match="ended without an answer"):
        for _line in lines:
            pass
    assert not children()


class DiesAtOnce:
    """A parser the child dies of while loading it, before it can answer anything."""

    name: ClassVar[str] = "dies"

    def detect(self, head: bytes) -> bool:
        return False

    def parse(self, path: Path) -> Iterator[Statement]:
        yield from ()

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_die, ("the parser's module is broken here",))


def _die(words: str) -> None:
    import os
    import sys

    print(words, file=sys.stderr, flush=True)
    os._exit(5)


def test_a_child_that_dies_before_answering_is_an_error_quoting_its_last_words(tmp_path: Path) -> None:
    with pytest.raises(ParserCrashed, match=r"ended without an answer \(exit status 5\)") as caught:
        read(parse_in_worker(DiesAtOnce(), tmp_path / "x"))
    assert any("the parser's module is broken here" in note for note in caught.value.__notes__)
    assert not children()
