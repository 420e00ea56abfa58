"""MT940 / MT942: the dialects banks ship, read right or refused with the line and the reason.

Fixtures in ``fixtures/statements/mt940/`` are ours, one small file per quirk
(the corpus files are never copied: licenses).  The last test reads the
corpus a second time with the ``mt-940`` library and checks that every amount
and date agrees wherever that library can read the file.
"""

from __future__ import annotations

import doctest
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import parsers.mt940
import parsers.mt940_fields
from parsers.base import ParseError, Statement
from parsers.encoding import decode_bytes
from parsers.mt940 import MT940Parser, normalise_account, parse_text
from parsers.mt940_fields import parse_details

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "statements" / "mt940"
CORPUS = Path(os.environ.get("RECON_CORPUS", ROOT.parent / "shared" / "corpus")) / "mt940"


def read(name: str) -> list[Statement]:
    path = FIXTURES / name
    parser = MT940Parser()
    assert parser.detect(path.read_bytes()[:65536]), f"{name} not detected as MT940"
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


def rejects(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        list(parse_text(text))
    assert "\n" not in str(info.value)
    return info.value


STATEMENT = ":20:T\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C240101EUR0,00\n{lines}:62F:C240101EUR0,00\n"


def lines_of(body: str) -> list:
    """Parse one statement with the given :61:/:86: lines."""
    (statement,) = list(parse_text(STATEMENT.format(lines=body)))
    return list(statement.lines)


# --- detection ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_every_fixture_is_detected(name: str) -> None:
    assert MT940Parser().detect((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    "head",
    [
        b":20:STARTUMS\n:25:12345678/0000000001\n:28C:1/1\n",
        b"{1:F01TESTDEFFAXXX0000000000}{2:O940TESTDEFFXXXXN}{4:\r\n:20:X\r\n:25:DE89370400440532013000\r\n",
        b"{1:F01TESTDEFFAXXX0000000000}{2:O940TESTDEFFXXXXN}{4::20:X\n:25:Y\n",
        b"ABNANL2A\n940\nABNANL2A\n:20:ABN AMRO BANK NV\n:25:517852257\n",
        b"This is an example file\n\n-----\n:20:3996\n:25:DABADKKK/1\n:28C:1\n",
        b"\xef\xbb\xbf:20:BOM\n:25:X\n",
        "\ufeff:20:UTF16\n:25:X\n".encode("utf-16"),
        b":61:2401010101C1,00NTRFNONREF\n",  # a fragment: claimed, then refused with the reason
    ],
)
def test_detects_mt940(head: bytes) -> None:
    assert MT940Parser().detect(head)


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>',
        b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n\n<OFX><SIGNONMSGSRSV1>",
        b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200" VERSION="211"?>\n<OFX>',
        b"01,0004,12345,060321,0829,001,80,1,2/\n02,12345,0004,1,060317,,CAD,/\n",
        b"Datum,Naam / Omschrijving,Rekening,Tegenrekening,Code,Af Bij,Bedrag (EUR)\n20240101,X,NL1,,GT,Af,1\n",
        b"date,description,amount\n2024-01-01,:20:payment,1.00\n",
        b"1\n2\n3\n",
        b"",
    ],
)
def test_does_not_claim_other_formats(head: bytes) -> None:
    assert not MT940Parser().detect(head)


# --- messages, headers, statements -------------------------------------------------


def test_swift_envelopes_and_20_on_the_envelope_line() -> None:
    first, second = read("swift_envelope.sta")
    assert (first.statement_id, second.statement_id) == ("ENV-1", "ENV-2")
    assert first.kind == second.kind == "mt940"
    assert [ln.amount for ln in first.lines] == [Decimal("25.00")]
    assert [ln.amount for ln in second.lines] == [Decimal("-5.00")]
    assert first.closing.amount == Decimal("125.00") and first.warnings == []


def test_bank_header_lines_before_and_between_statements() -> None:
    first, second = read("header_lines.sta")  # CRLF, ABNANL2A / 940 / ':940:' headers
    assert first.account == second.account == "NL91ABNA0417164300"
    assert [ln.source_line for ln in first.lines + second.lines] == [8, 18]
    assert second.lines[0].remittance == "TERUGBETALING"
    assert first.closing.amount == Decimal("40.00") and second.opening.amount == Decimal("40.00")


def test_several_statements_in_one_file() -> None:
    statements = read("multi_statement.sta")
    assert [s.statement_id for s in statements] == ["MULTI-1", "MULTI-2", "MULTI-3"]
    assert [len(s.lines) for s in statements] == [1, 0, 2]
    third = statements[2]
    assert (third.opening.amount, third.closing.amount) == (
        Decimal("11.00"),
        Decimal("6.00"),
    )  # :60M: / :62M:
    assert all(s.warnings == [] for s in statements)


def test_wrapped_and_blank_28c() -> None:
    wrapped, blank = read("wrapped_28c.sta")
    assert wrapped.sequence == "00000"  # ':28C:0000' / '0'
    assert blank.sequence is None
    assert len(wrapped.lines) == 1


def test_statement_level_86_is_not_a_transaction() -> None:
    statement = only("statement_info.sta")
    (line,) = statement.lines
    assert line.remittance == "BETALING 7"
    assert "/SUM/" not in line.raw and "ACCW" not in line.raw


def test_dash_alone_on_a_line_is_text_inside_86_and_noise_between_fields() -> None:
    statement = only("dash_lines.sta")
    (line,) = statement.lines
    assert statement.warnings == []
    assert line.raw.splitlines()[1:4] == [
        ":86:/EREF/INC-1//MARF/MND",
        "-",
        "EV01//CSID/NL98ZZZ999999990000//REMI/USTD//TERMIJN 1/",
    ]
    assert line.end_to_end_id == "INC-1" and line.remittance == "TERMIJN 1"
    assert parse_details("\n".join(line.raw.splitlines()[1:])).mandate_reference == "MND-EV01"
    assert statement.closing.amount == Decimal("-1.14")


def test_unknown_tag_at_line_start_is_a_wrapped_time_of_day() -> None:
    (line,) = only("wrapped_time.sta").lines
    assert line.remittance == "Abschluss 2024-12-20T13:12:11 Kontofuehrung"


def test_mt942_interim_report() -> None:
    report = only("mt942.sta")
    assert report.kind == "mt942"
    assert report.currency == "EUR"  # from :34F:, there are no balances
    assert report.opening is None and report.closing is None
    assert report.warnings == []  # :90D:/:90C: agree with the lines
    assert [ln.amount for ln in report.lines] == [Decimal("300.00"), Decimal("-20.00")]


def test_mt942_totals_that_do_not_add_up_are_a_warning() -> None:
    text = (
        ":20:I\n:25:DE89370400440532013000\n:28C:1\n:34F:EUR0,\n:13D:2401011200+0100\n"
        ":61:2401010101D1,00NTRFNONREF\n:90D:2EUR3,00\n:90C:0EUR0,\n"
    )
    (report,) = list(parse_text(text))
    assert report.kind == "mt942"
    assert len(report.warnings) == 1 and ":90D:" in report.warnings[0]


def test_missing_balances_in_mt940_are_warnings() -> None:
    (statement,) = list(parse_text(":20:X\n:25:DE89370400440532013000\n:61:2401010101C1,00NTRFNONREF\n"))
    assert len(statement.lines) == 1
    assert any("opening" in w for w in statement.warnings) and any("closing" in w for w in statement.warnings)


# --- amounts, signs, balances ---------------------------------------------------------


def test_reversals_take_the_right_sign() -> None:
    statement = only("reversals.sta")
    # C, RC (credit taken back), D (German DR: funds code R), RD (debit given back), RC, RD
    assert [ln.amount for ln in statement.lines] == [
        Decimal("100.00"), Decimal("-100.00"), Decimal("-40.00"), Decimal("40.00"), Decimal("-5.00"), Decimal("7.00")
    ]  # fmt: skip
    assert statement.opening.amount + sum(ln.amount for ln in statement.lines) == statement.closing.amount


def test_dot_as_decimal_mark() -> None:
    statement = only("dot_decimal.sta")
    assert statement.opening.amount == Decimal("1000.50")
    assert [ln.amount for ln in statement.lines] == [Decimal("-250.25"), Decimal("0.75")]
    assert statement.closing.amount == Decimal("751.00")


def test_null_and_letter_o_balances() -> None:
    statement = only("null_balance.sta")
    assert statement.opening is None
    assert statement.closing.amount == Decimal("0.00") and statement.closing.currency == "EUR"
    assert len(statement.warnings) == 2
    assert "null" in statement.warnings[0] and "letter O" in statement.warnings[1]
    assert [ln.amount for ln in statement.lines] == [Decimal("10.00")]


def test_balance_without_currency_keeps_its_digits() -> None:
    statement = only("balance_without_currency.sta")
    # mt-940 reads ':62F:C24122120100,00' as currency '201', amount 00,00
    assert statement.closing.amount == Decimal("20100.00") and statement.closing.currency == "EUR"
    assert statement.lines[0].amount == Decimal("20000.00")  # ':61:...CM20000,00' mark C, funds code M


@pytest.mark.parametrize(
    ("line", "amount"),
    [
        ("2401010101C1,NTRFNONREF", Decimal("1")),
        ("2401010101D0,5NTRFNONREF", Decimal("-0.5")),
        ("2401010101c12,34NTRFNONREF", Decimal("12.34")),  # lower-case marks
        ("2401010101rc12,34NTRFNONREF", Decimal("-12.34")),
        ("2401010101RDR1000000,00NRTINONREF", Decimal("1000000.00")),
        ("240101DK50,00NMSCDBT", Decimal("-50.00")),  # Danske: funds code K (DKK)
        ("2401010101C500NTRF29-07-2014 10:05//B1", Decimal("500")),  # no decimal comma at all
        ("240101C1,00", Decimal("1.00")),  # no type code, no reference
    ],
)
def test_amount_and_sign(line: str, amount: Decimal) -> None:
    (parsed,) = lines_of(f":61:{line}\n")
    assert parsed.amount == amount and isinstance(parsed.amount, Decimal)


@pytest.mark.parametrize(
    "line",
    [
        "2401010101C1.234,56NTRFNONREF",  # both marks
        "2401010101C1,005NTRFNONREF",  # more decimals than EUR has: the database would round
        "2401010101C1.234NTRFNONREF",  # '.' with three decimals: a thousands separator?
        "2401010101C1,2,3NTRFNONREF",
        "2401010101X1,00NTRFNONREF",  # no debit/credit mark
        "24O1010101C1,00NTRFNONREF",
    ],
)
def test_unreadable_statement_lines_are_refused(line: str) -> None:
    error = rejects(STATEMENT.format(lines=f":61:{line}\n"))
    assert error.line == 5 and ":61:" in error.message


def test_every_amount_is_a_decimal() -> None:
    for path in FIXTURES.iterdir():
        try:
            statements = list(MT940Parser().parse(path))
        except ParseError:
            continue
        for statement in statements:
            for balance in (statement.opening, statement.closing):
                assert balance is None or isinstance(balance.amount, Decimal)
            assert all(isinstance(ln.amount, Decimal) for ln in statement.lines)


# --- dates ----------------------------------------------------------------------------


def test_impossible_date_rejects_the_file_with_its_line() -> None:
    error = reject("february_30.sta")
    assert error.line == 5
    assert "'240230' is not a real date" in error.message


def test_entry_date_across_the_year_end() -> None:
    first, second = only("year_rollover.sta").lines
    assert (first.value_date, first.booking_date) == (date(2023, 12, 31), date(2024, 1, 2))
    assert (second.value_date, second.booking_date) == (date(2024, 1, 2), date(2023, 12, 31))


def test_booking_date_is_the_value_date_without_an_entry_date() -> None:
    (line,) = lines_of(":61:240315C1,00NTRFNONREF\n")
    assert line.booking_date == line.value_date == date(2024, 3, 15)


def test_impossible_balance_date_rejects_the_file() -> None:
    error = rejects(":20:X\n:25:Y\n:60F:C240231EUR1,00\n")
    assert error.line == 3 and "balance date" in error.message


# --- encodings --------------------------------------------------------------------------


def test_latin1_is_decoded_as_latin1_not_cp852() -> None:
    (line,) = only("latin1.sta").lines
    assert line.counterparty_name == "Müller Bäckerei"  # mt-940 alone gives 'MŘller BĄckerei'
    assert line.remittance == "Miete für Büro März"


def test_byte_order_mark_does_not_lose_the_first_statement() -> None:
    statement = only("bom.sta")
    assert statement.statement_id == "BOM-1" and len(statement.lines) == 1


# --- :86: details -----------------------------------------------------------------------


def test_german_structured_details() -> None:
    payment, fee = only("german_86.sta").lines
    assert (
        payment.counterparty_name == "Mueller & Soehne Handelsgesellschaft mbH"
    )  # ?32 + ?33, no ?31 glued on
    assert payment.counterparty_account == "DE44500105175407324931"  # ?31 wrapped over a line break
    assert payment.counterparty_bic == "COBADEFFXXX"
    assert payment.end_to_end_id == "E2E-2024-12-0001"
    assert payment.ultimate_debtor == "Muster Holding AG"
    assert (
        payment.remittance == "Rechnungen RE-2024-0815 und RE-2024-0816 Kd 4711"
    )  # full 27-char piece runs on
    assert payment.bank_code == "NTRF/166"
    assert payment.bank_reference == "G1"
    assert fee.counterparty_bic is None  # ?30 12345678 is a bank code, not a BIC
    assert fee.counterparty_account == "1020304050"
    assert fee.remittance == "Kontofuehrung Dezember" and fee.bank_code == "NMSC/805"


def test_dutch_structured_details() -> None:
    statement = only("dutch_86.sta")
    assert statement.account == "NL20INGB0001234567"  # ':25:...EUR' suffix removed
    transfer, structured, direct_debit = statement.lines
    assert transfer.counterparty_name == "J. de Vries"
    assert transfer.counterparty_account == "NL91ABNA0417164300"
    assert transfer.counterparty_bic == "ABNANL2A"
    assert transfer.remittance == "Factuur 2024/117 t/m 2024/119"  # '/' inside a value
    assert transfer.end_to_end_id == "VRIES-0001"
    assert structured.creditor_reference == "RF18539007547034"  # /REMI/STRD/ISO/RF...
    assert structured.end_to_end_id is None  # NOTPROVIDED
    assert (structured.counterparty_name, structured.counterparty_account) == (
        "Bakker B.V.",
        "NL02ABNA0123456789",
    )
    assert direct_debit.remittance == "Termijn december" and direct_debit.amount == Decimal("-12.50")
    assert transfer.bank_reference == "00000000000101"


def test_free_text_details_are_the_remittance() -> None:
    (line,) = only("free_text_86.sta").lines
    assert (
        line.remittance
        == "0123456789 JANSEN TRADING BETALINGSKENMERK 1000200030004000 FACTUUR 2024-99 DANK U WEL"
    )
    assert line.counterparty_name is None


def test_long_86_is_kept_whole() -> None:
    (line,) = only("long_86.sta").lines
    assert len(line.remittance) > 593  # mt-940 cuts at 9 x 65 characters unless told otherwise
    assert line.remittance.startswith("Factuur F0001 ") and line.remittance.endswith("F0119 EINDE")
    assert line.end_to_end_id == "LONG-E2E-1"
    assert line.counterparty_name == "LONG TESTER"


def test_counterparty_iban_in_the_reference_and_name_on_line_two() -> None:
    (line,) = only("iban_in_reference.sta").lines
    assert (line.counterparty_account, line.counterparty_name) == ("NL91ABNA0417164300", "j de vries")
    assert line.remittance.endswith("Factuur 2024-0042")


def test_rabobank_counterparty_account_on_line_two() -> None:
    (line,) = lines_of(
        ":61:2401010101C1,00N541NONREF\nNL91ABNA0417164300\n:86:/ORDP//NAME/R. SMITH/REMI/Test\n"
    )
    assert (line.counterparty_account, line.counterparty_name, line.remittance) == (
        "NL91ABNA0417164300", "R. SMITH", "Test"
    )  # fmt: skip


def test_rf_reference_in_free_text() -> None:
    (line,) = lines_of(":61:2401010101C1,00NTRFNONREF\n:86:Betaling RF18 5390 0754 7034 dank\n")
    assert line.creditor_reference == "RF18539007547034"


def test_several_86_for_one_entry_are_joined() -> None:
    (line,) = lines_of(":61:2401010101C1,00NTRFNONREF\n:86:For your information\n:86:DANSKE BANK\n")
    assert line.remittance == "For your information DANSKE BANK"


# --- references, raw text, line numbers ------------------------------------------------


def test_bank_reference_falls_back_to_the_customer_reference() -> None:
    with_bank, without, nonref = lines_of(
        ":61:2401010101C1,00NTRFCUST1//BANK1\n:61:2401010101C1,00NTRFCUST2\n:61:2401010101C1,00NTRFNONREF\n"
    )
    assert (with_bank.bank_reference, without.bank_reference, nonref.bank_reference) == (
        "BANK1",
        "CUST2",
        "NONREF",
    )


def test_raw_text_and_source_line() -> None:
    (line,) = read("swift_envelope.sta")[0].lines
    assert line.source_line == 6
    assert (
        line.raw
        == ":61:2403010301C25,00NTRFNONREF//ENV1-A\n:86:166?00GUTSCHRIFT?20Rechnung 1001?32Alpha GmbH"
    )


# --- accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "currency", "account"),
    [
        ("NL34RABO0142623393 EUR", "EUR", "NL34RABO0142623393"),
        ("NL77INGB0574908765EUR", "EUR", "NL77INGB0574908765"),
        ("51210600/9223382012EUR", None, "51210600/9223382012"),
        ("12345678/1020304050", "EUR", "12345678/1020304050"),
        ("/DE89 3704 0044 0532 0130 00", "EUR", "DE89370400440532013000"),
        ("UBRTHUHB/123456789150ABCDEF002/HUF", "HUF", "UBRTHUHB/123456789150ABCDEF002"),
        ("TRIODOSBANK/0390123456", "EUR", "TRIODOSBANK/0390123456"),
        ("INGBNL2A/NL20INGB0001234567", "EUR", "NL20INGB0001234567"),
        ("0111111111", "EUR", "0111111111"),
    ],
)
def test_account_from_25(raw: str, currency: str | None, account: str) -> None:
    assert normalise_account(raw, currency) == account


# --- refusals -------------------------------------------------------------------------


def test_fragment_without_20_is_refused() -> None:
    error = reject("fragment.sta")
    assert error.line == 1 and "before any ':20:'" in error.message


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (":20:X\n:28C:1\n:60F:C240101EUR1,00\n", 1, "no ':25:' account"),
        (":20:X\n:25:A\n:61:2401010101C1,00NTRF\n:25:166?00GUTSCHRIFT\n", 4, "second ':25:'"),
        (":20:X\n:25:A\n:60F:C240101EUR1,00\n:60F:C240101EUR1,00\n", 4, "second opening"),
        (":20:X\n:25:A\n:62F:C240101EUR1,00\n:62F:C240101EUR1,00\n", 4, "second closing"),
        ("{1:F01X}{2:O940X}{4:\n:25:A\n-}\n", 2, "before any ':20:'"),
        ("ABNANL2A\n940\n", None, "no MT940 statement"),
        (":20:X\n:25:A\n:61:2401010101C1,00NTRF\n-}\n:61:2401010101C1,00NTRF\n", 5, "before any ':20:'"),
    ],
)
def test_broken_structure_is_refused_with_the_line(text: str, line: int | None, words: str) -> None:
    error = rejects(text)
    assert error.line == line and words in error.message


def test_parse_never_raises_anything_but_parse_error_on_garbage() -> None:
    for garbage in [
        ":20:\n:25:\n:61:\n:86:\n",
        ":20:X\n:25:Y\n:61:999999\n",
        ":20:X\n:25:Y\n:60F:Q\n",
        "-\n-\n:20:",
    ]:
        try:
            for statement in parse_text(garbage):
                list(statement.lines)
        except ParseError:
            pass


# --- doctests ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", [parsers.mt940, parsers.mt940_fields])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


# --- second reading of the corpus with mt-940 ------------------------------------------

# mt-940 reads a balance without currency (':62F:C020315145000,00') as currency '145', amount 0.
_LIBRARY_BALANCE_BUGS = {"WoLpH__mt940__mt940_tests__self-provided__raphaelm.sta"}


@pytest.mark.corpus
@pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent (only on the team's machines)"
)
def test_corpus_amounts_and_dates_agree_with_the_mt940_library() -> None:
    mt940 = pytest.importorskip("mt940")
    compared = 0
    for path in sorted(CORPUS.iterdir()):
        if path.suffix.lower() in {".yml", ".json", ".pydata", ".md", ".tsv"}:
            continue
        text, _ = decode_bytes(path.read_bytes())
        try:
            library = mt940.parse_statements(text, options=mt940.Options.all())
        except Exception:  # noqa: BLE001 - the library fails on some dialects; nothing to compare
            continue
        try:
            ours = list(parse_text(text))
        except ParseError:
            continue  # refused files are checked by test_corpus.py
        theirs = [
            (t.data["amount"].amount, t.data["date"], t.data.get("entry_date")) for s in library for t in s
        ]
        mine = [(ln.amount, ln.value_date, ln.booking_date) for s in ours for ln in s.lines]
        assert len(theirs) == len(mine), path.name
        for (amount, value_date, entry_date), (my_amount, my_value_date, my_booking) in zip(
            theirs, mine, strict=True
        ):
            assert (my_amount, my_value_date) == (amount, value_date), path.name
            if entry_date is not None:
                assert my_booking == entry_date, path.name
        if path.name not in _LIBRARY_BALANCE_BUGS and len(library) == len(ours):
            for lib, stmt in zip(library, ours, strict=True):
                closing = lib.data.get("final_closing_balance") or lib.data.get(
                    "intermediate_closing_balance"
                )
                if closing is not None and stmt.closing is not None:
                    assert closing.amount.amount == stmt.closing.amount, path.name
        compared += 1
    assert compared >= 40
