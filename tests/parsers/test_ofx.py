"""OFX/QFX: the dialects banks ship, read right or refused with the line and the reason.

Fixtures in ``fixtures/statements/ofx/`` are ours, one per quirk (see the
comments in each test).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.base import ParseError, Statement
from parsers.ofx import OFXParser, parse_amount, parse_date

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "ofx"


def read(name: str) -> list[Statement]:
    path = FIXTURES / name
    parser = OFXParser()
    assert parser.detect(path.read_bytes()[:65536]), f"{name} not detected as OFX"
    return list(parser.parse(path))


def only(name: str) -> Statement:
    statements = read(name)
    assert len(statements) == 1
    return statements[0]


def reject(name: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        read(name)
    assert "\n" not in str(info.value)
    return info.value


# --- detection ------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"OFXHEADER:100\nDATA:OFXSGML\n",
        b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200" VERSION="211"?>\n<OFX>',
        b"\r\n\r\n<OFX>\r\n<SIGNONMSGSRSV1>",
        b"OFXHEADER:100DATA:OFXSGMLVERSION:102",
    ],
)
def test_detects_ofx_headers_and_bodies(head: bytes) -> None:
    assert OFXParser().detect(head)


@pytest.mark.parametrize(
    "head",
    [
        b":20:STARTUMS\n:25:12345678/0000000001\n:28C:1/1\n",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        b"01,122099999,123456789,240101,0800,1,,,2/\n02,123456789,122099999,1,240101,,,2/\n",
        b"Datum;Naam / Omschrijving;Rekening\n",
        b"",
    ],
)
def test_does_not_claim_other_formats(head: bytes) -> None:
    assert not OFXParser().detect(head)


# --- headers and encodings ---------------------------------------------------------


def test_header_on_one_line_after_blank_lines_with_cp1252_byte() -> None:
    # header_one_line.qfx: "OFXHEADER:100DATA:OFXSGML..." on one physical line,
    # blank and whitespace lines before it, a cp1252 ü under ENCODING:USASCII.
    st = only("header_one_line.qfx")
    assert [ln.amount for ln in st.lines] == [Decimal("250.00"), Decimal("-40.10")]
    assert st.lines[0].counterparty_name == "Müller Bauwaren"


def test_header_inside_a_comment() -> None:
    st = only("header_in_comment.ofx")
    assert [ln.bank_reference for ln in st.lines] == ["B1"]


def test_missing_header_with_a_latin1_byte() -> None:
    # ofxparse fails on a missing ENCODING header with any non-ASCII byte.
    st = only("no_header_latin1.ofx")
    assert st.lines[0].counterparty_name == "Grün AG"


def test_charset_none_reads_as_cp1252() -> None:
    # ofxparse: LookupError "cpNONE".
    assert only("charset_none.ofx").lines[0].counterparty_name == "Café € Bar"


def test_utf8_bytes_declared_1252_are_utf8() -> None:
    # ofxparse would silently return "MÃ¼ller & SÃ¶hne".
    assert only("utf8_declared_1252.ofx").lines[0].counterparty_name == "Müller & Söhne"


def test_encoding_iso_8859_1() -> None:
    assert only("encoding_iso8859.ofx").lines[0].counterparty_name == "François"


# --- structure ---------------------------------------------------------------------------


def test_bank_and_credit_card_statements_in_one_ofx2_file() -> None:
    bank, card = read("bank_and_card.ofx")
    assert (bank.kind, bank.account, bank.currency) == ("ofx", "121000358 4455667788", "USD")
    assert (card.kind, card.account) == ("ofx-creditcard", "4111111111111111")
    assert [ln.amount for ln in bank.lines] == [Decimal("1500.00"), Decimal("-200.00")]
    first = bank.lines[0]
    assert first.counterparty_name == "Énergie & Co"  # UTF-8 and an XML entity
    assert first.remittance == "Invoice 2024-17"
    assert first.bank_reference == "K1"
    assert first.booking_date == date(2024, 1, 5)
    assert first.source_line == 14
    assert first.raw.startswith("<STMTTRN>") and first.raw.endswith("</STMTTRN>")
    assert "<FITID>K1</FITID>" in first.raw
    assert bank.closing is not None and bank.closing.amount == Decimal("2300.00")
    assert bank.closing.date == date(2024, 1, 31)
    # The balance is dated within the list's period: opening = closing - lines.
    assert bank.opening is not None and bank.opening.amount == Decimal("1000.00")
    assert bank.statement_id == "20240101-20240131"
    assert [ln.amount for ln in card.lines] == [Decimal("-35.00")]


def test_empty_curdef_takes_the_transactions_currency_and_vendor_tags_stay_out() -> None:
    st = only("empty_curdef.ofx")
    assert st.currency == "EUR"
    first, fee = st.lines
    assert first.amount == Decimal("1234.56")  # not the <ACCTBAL> that follows it
    assert first.booking_date == date(2024, 1, 10)  # as written, not shifted to UTC
    assert first.value_date == date(2024, 1, 11)  # DTAVAIL before DTUSER
    assert first.counterparty_name == "Acme Corp"  # <PAYEE><NAME>
    assert first.counterparty_account == "99887766"  # <BANKACCTTO><ACCTID>
    assert first.remittance is None  # <MEMO/>
    assert first.bank_code == "CREDIT"  # lower-case TRNTYPE normalised
    assert first.currency == "EUR"
    assert fee.bank_code == "SRVCHG"


def test_empty_curdef_without_transaction_currency_warns(tmp_path: Path) -> None:
    text = (FIXTURES / "header_in_comment.ofx").read_text().replace("<CURDEF>EUR", "<CURDEF>")
    path = tmp_path / "no_currency.ofx"
    path.write_text(text)
    (st,) = list(OFXParser().parse(path))
    assert st.currency is None and st.lines[0].currency is None  # never a guessed currency
    assert any("CURDEF" in w for w in st.warnings)


def test_unclosed_stmttrn_and_commented_out_transaction() -> None:
    st = only("unclosed_stmttrn.ofx")
    assert [(ln.bank_reference, ln.amount) for ln in st.lines] == [
        ("M1", Decimal("10.00")),
        ("M2", Decimal("20.00")),
    ]
    assert "M2" not in st.lines[0].raw


# --- amounts and dates --------------------------------------------------------------------


def test_amounts_with_decimal_comma_thousands_and_plus() -> None:
    st = only("amounts_comma.ofx")
    assert [ln.amount for ln in st.lines] == [
        Decimal("12.50"),
        Decimal("1234.56"),
        Decimal("10.00"),
        Decimal("-1234.50"),
        Decimal("-7.25"),
    ]
    assert st.lines[4].bank_code == "DEBIT"  # </TRNTYPE> is not part of the value


def test_ambiguous_amount_is_refused_with_its_line() -> None:
    err = reject("amount_ambiguous.ofx")
    assert err.line == 50
    assert "'1,234' is ambiguous" in str(err)


def test_impossible_date_is_refused_with_its_line() -> None:
    err = reject("bad_date.ofx")
    assert err.line == 41
    assert "DTPOSTED '20230231'" in str(err)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-10.00", "-10.00"),
        ("2000,00", "2000.00"),
        ("+ 1006,60", "1006.60"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1,234,567", "1234567"),
        ("1.234.567", "1234567"),
        ("12,5", "12.5"),
        (".50", "0.50"),
        ("-1\u00a0234,50", "-1234.50"),
    ],
)
def test_parse_amount(raw: str, expected: str) -> None:
    assert parse_amount(raw) == Decimal(expected)


@pytest.mark.parametrize(
    "raw", ["1,234", "-9,999", "$120", "12.34.5", "1,23,45", "", "-", "1.234,5.6", "abc"]
)
def test_parse_amount_refuses(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(raw)


def test_parse_date() -> None:
    assert parse_date("20231231230000.000[-5:EST]") == date(2023, 12, 31)
    assert parse_date("20240229") == date(2024, 2, 29)
    assert parse_date("00000000") is None
    assert parse_date("") is None
    with pytest.raises(ValueError):
        parse_date("010126")
    with pytest.raises(ValueError):
        parse_date("20230231")


# --- refusals ----------------------------------------------------------------------------------


def test_investment_statement_is_refused() -> None:
    assert "investment statements (INVSTMTRS) are not supported" in str(reject("investment_only.ofx"))


def test_bank_error_is_refused_with_the_banks_message() -> None:
    assert "Service unavailable" in str(reject("bank_error.ofx"))


def test_no_ofx_element(tmp_path: Path) -> None:
    path = tmp_path / "x.ofx"
    path.write_bytes(b"OFXHEADER:100\nDATA:OFXSGML\n\nnothing here\n")
    with pytest.raises(ParseError, match="no <OFX> element"):
        list(OFXParser().parse(path))


def test_transaction_without_amount_is_refused(tmp_path: Path) -> None:
    text = (FIXTURES / "header_in_comment.ofx").read_text().replace("<TRNAMT>99.95\n", "")
    path = tmp_path / "no_amount.ofx"
    path.write_text(text)
    with pytest.raises(ParseError, match="without TRNAMT"):
        list(OFXParser().parse(path))


def test_large_generated_file_reads_every_line_and_balances(tmp_path: Path) -> None:
    from benchmarks.gen_ofx import write_ofx

    path = tmp_path / "big.ofx"
    n = write_ofx(path, 5_000, seed=3)
    (st,) = list(OFXParser().parse(path))
    assert len(st.lines) == n
    assert st.opening is not None and st.closing is not None
    assert st.opening.amount + sum(ln.amount for ln in st.lines) == st.closing.amount
    assert {ln.counterparty_name for ln in st.lines} >= {"Müller GmbH", "Café Zoë LLC"}
    assert len({ln.bank_reference for ln in st.lines}) == n
