"""parsers/bai2.py against our own fixtures in fixtures/statements/bai2/ (one per quirk)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.bai2 import BAI2Parser
from parsers.base import ParseError, Statement, StatementLine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "bai2"


def read(path: Path) -> list[tuple[Statement, list[StatementLine]]]:
    return [(statement, list(statement.lines)) for statement in BAI2Parser().parse(path)]


def read_text(tmp_path: Path, text: str) -> list[tuple[Statement, list[StatementLine]]]:
    path = tmp_path / "file.bai"
    path.write_text(text, encoding="ascii")
    return read(path)


QUIRKS_LINES = [
    (Decimal("1000.00"), "165", "REF0001"),
    (Decimal("500.00"), "195", "WIRE77"),
    (Decimal("500.00"), "142", "ACH99"),
    (Decimal("-124.50"), "475", "CHK1001"),
    (Decimal("-500.00"), "698", "FEE1"),
]


def test_records_balances_and_lines() -> None:
    (statement, lines), = read(FIXTURES / "bai2_quirks.bai")
    assert statement.account == "123456789"
    assert statement.currency == "USD"
    assert statement.kind == "bai2"
    assert statement.statement_id == "42"  # the 01 file id
    assert statement.opening.amount == Decimal("1500.00")  # 010 opening ledger, cents
    assert statement.closing.amount == Decimal("2875.50")  # 015 closing ledger
    assert statement.opening.date == statement.closing.date == date(2026, 3, 1)  # the 02 as-of date
    assert [(line.amount, line.bank_code, line.bank_reference) for line in lines] == QUIRKS_LINES
    assert statement.opening.amount + sum(line.amount for line in lines) == statement.closing.amount
    assert all(line.booking_date == date(2026, 3, 1) and line.currency == "USD" for line in lines)
    # The trailers add up; the only remark is the memo record that is no transaction.
    assert statement.warnings == ["1 type 890 record (non-monetary information) not imported"]


def test_funds_types_decide_where_the_references_are() -> None:
    (_, lines), = read(FIXTURES / "bai2_quirks.bai")
    value_dated, distributed_s, _, _, distributed_d = lines
    assert value_dated.value_date == date(2026, 3, 2)  # funds type V: value date, then time
    assert value_dated.remittance == "ACH CREDIT ACME CORP INV-2001 2026/03"  # '/' inside text kept
    assert distributed_s.bank_reference == "WIRE77"  # after S's three amounts
    assert distributed_d.bank_reference == "FEE1"  # after D's count and two day/amount pairs
    assert distributed_d.remittance == "SERVICE FEES"


def test_88_continuation_appends_text_with_its_commas() -> None:
    (_, lines), = read(FIXTURES / "bai2_quirks.bai")
    assert lines[1].remittance == "INCOMING WIRE FROM BETA LLC ORIGINATOR BETA LLC, 12 MAIN ST, SPRINGFIELD"
    assert lines[1].raw.splitlines()[1].startswith("88,ORIGINATOR")


def test_customer_reference_is_kept_in_remittance() -> None:
    (_, lines), = read(FIXTURES / "bai2_quirks.bai")
    assert lines[2].remittance == "CUST-55"  # no text: the customer reference is what there is
    assert "INV-2001" in lines[0].remittance  # already in the text: not repeated


def test_unsplit_file_reads_the_same() -> None:
    """All records on one line, separated only by '/'."""
    assert "\n" not in (FIXTURES / "bai2_unsplit.bai").read_text()
    (statement, lines), = read(FIXTURES / "bai2_unsplit.bai")
    assert [(line.amount, line.bank_code, line.bank_reference) for line in lines] == QUIRKS_LINES
    assert lines[1].remittance.endswith("12 MAIN ST, SPRINGFIELD")
    assert statement.warnings == ["1 type 890 record (non-monetary information) not imported"]


def test_btrs_version_3_and_currency_decimals() -> None:
    got = read(FIXTURES / "btrs_v3.bai")
    assert [s.kind for s, _ in got] == ["btrs", "btrs"]
    (cad, cad_lines), (jpy, jpy_lines) = got
    assert cad.currency == "CAD" and cad_lines[0].amount == Decimal("250.00")
    assert jpy.currency == "JPY" and jpy.opening.amount == Decimal("500000")  # no minor unit
    assert jpy_lines[0].amount == Decimal("-20000")
    assert cad.warnings == jpy.warnings == []


def test_newline_delimited_records_with_commas_slashes_and_tags() -> None:
    (statement, lines), = read(FIXTURES / "bai2_newline_delimited.bai")
    assert statement.warnings == []  # '88:' counts as the record it is meant to be; the trailers add up
    assert statement.opening.amount + sum(line.amount for line in lines) == statement.closing.amount
    wire, ach, outgoing = lines
    assert wire.amount == Decimal("1000.00") and wire.bank_reference == "GI260519001"
    assert 'Remittance Info: "INV-3001 paid 05/19/26"' in wire.remittance
    assert "AB/GS/INV-3001/01" in wire.remittance
    assert wire.end_to_end_id == "E2E-3001"
    assert (wire.counterparty_name, wire.counterparty_account, wire.counterparty_bic) == (
        "ACME CORP", "987654321", "CHASUS33XXX")
    assert ach.remittance.startswith("ACH Credit,Entry Description: INVOICE PAYMENT BETA LLC")  # text wrapped
    assert ach.counterparty_name == "BETA LLC"
    # A debit's counterparty is the creditor.
    assert outgoing.amount == Decimal("-128.00")
    assert (outgoing.counterparty_name, outgoing.counterparty_account, outgoing.counterparty_bic) == (
        "GAMMA SUPPLY INC", "11223344", "COBADEFFXXX")
    assert outgoing.remittance.endswith("PO-77")


def test_trailer_mismatch_is_a_warning_not_a_rejection() -> None:
    (statement, lines), = read(FIXTURES / "bai2_trailer_mismatch.bai")
    assert len(lines) == 5
    assert any("49 account trailer: control total 962451" in w for w in statement.warnings)
    assert any("98 group trailer" in w for w in statement.warnings)


HEADER = "01,B,C,260101,0000,9,,,2/\n02,C,B,1,260101,,USD,/\n03,1,USD,010,0,,/\n"
TRAILER = "49,{t},{n}/\n98,{t},1,{g}/\n99,{t},1,{f}/\n"


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("16,010,100,,,,STATUS/\n", "type code '010' is no credit or debit", 4),
        ("16,195,-100,,,,NEGATIVE/\n", "is not an unsigned whole number", 4),
        ("16,195,1.00,,,,DECIMAL/\n", "is not an unsigned whole number", 4),
        ("16,195,100,X,,,FUNDS/\n", "funds type 'X'", 4),
        ("16,195,100,V,261340,,,,BAD DATE/\n", "value date '261340' is not a date", 4),
        ("17,195,100,,,,/\n", "unknown BAI2 record code '17'", 4),
    ],
)
def test_bad_records_are_refused_with_their_line(tmp_path: Path, body: str, message: str, line: int) -> None:
    with pytest.raises(ParseError) as err:
        read_text(tmp_path, HEADER + body + TRAILER.format(t=100, n=3, g=5, f=7))
    assert message in err.value.message
    assert err.value.line == line
    assert "\n" not in str(err.value)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="without a 99 file trailer|ends inside"):
        read_text(tmp_path, HEADER + "16,195,100,,,,OK/\n49,100,3/\n")


def test_detail_outside_an_account_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="expected a 03 account identifier") as err:
        read_text(tmp_path, "01,B,C,260101,0000,9,,,2/\n02,C,B,1,260101,,USD,/\n16,195,100,,,,X/\n98,0,0,2/\n99,0,1,4/\n")
    assert err.value.line == 3


def test_file_that_does_not_start_with_a_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="begins with a 01 file header"):
        read_text(tmp_path, "00,0004,12345,060321,0829,001,80,1,2/\n")


def test_memo_record_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (statement, lines), = read_text(tmp_path, HEADER + "16,890,0,,,,NOTE/\n" + TRAILER.format(t=0, n=3, g=5, f=7))
    assert lines == []
    assert statement.warnings == ["1 type 890 record (non-monetary information) not imported"]


def test_custom_credit_and_debit_ranges(tmp_path: Path) -> None:
    (_, lines), = read_text(tmp_path, HEADER + "16,925,100,,,,CUSTOM CREDIT/\n16,975,40,,,,CUSTOM DEBIT/\n"
                            + TRAILER.format(t=140, n=4, g=6, f=8))
    assert [line.amount for line in lines] == [Decimal("1.00"), Decimal("-0.40")]


@pytest.mark.parametrize(
    "head",
    [
        b":20:STARTUMSE\n:25:10020030/1234567890\n",
        b"OFXHEADER:100\nDATA:OFXSGML\n",
        b'<?xml version="1.0"?><Document><BkToCstmrStmt>',
        b"date,amount,description\n2026-01-01,1.00,x\n",
        b"01.03.2026,12.50,Miete,Vermieter GmbH,DE89370400440532013000,,,,\n",
    ],
)
def test_detect_claims_no_other_format(head: bytes) -> None:
    assert not BAI2Parser().detect(head)


def test_detect_bai2_shapes() -> None:
    for name in ("bai2_quirks.bai", "bai2_unsplit.bai", "btrs_v3.bai", "bai2_newline_delimited.bai"):
        assert BAI2Parser().detect((FIXTURES / name).read_bytes())
