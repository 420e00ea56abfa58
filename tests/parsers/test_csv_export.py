"""Bank CSV/XLSX exports through profiles: the quirks banks ship, and refusals that name the line and column.

Fixtures in ``fixtures/statements/csv/`` are ours; ``profiles/`` there holds
two user profiles (one is the contract's own example).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.base import ParseError, Statement
from parsers.csv_export import CSVParser
from parsers.profiles import ProfileError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "csv"
USER_PROFILES = (
    FIXTURES / "profiles" / "example-bank-corporate.toml",
    FIXTURES / "profiles" / "nl-bank-af-bij.toml",
)


def read(name: str, profiles=USER_PROFILES) -> list[Statement]:
    path = FIXTURES / name
    parser = CSVParser(profiles)
    assert parser.detect(path.read_bytes()[:65536]), f"{name} not recognised"
    return list(parser.parse(path))


def only(name: str, profiles=USER_PROFILES) -> Statement:
    statements = read(name, profiles)
    assert len(statements) == 1, statements
    return statements[0]


def refused(name: str, profiles=USER_PROFILES) -> ParseError:
    with pytest.raises(ParseError) as info:
        list(CSVParser(profiles).parse(FIXTURES / name))
    assert "\n" not in str(info.value)
    return info.value


# --- the contract's example profile: GBK, preamble, totals, separate credit/debit --------


def test_user_profile_gbk_preamble_totals_and_split_columns() -> None:
    st = only("example_bank_gbk.csv")
    assert st.kind == "csv:example-bank-corporate"
    assert st.account == "100123456789"  # account_from_preamble
    assert st.currency == "CNY"
    assert [ln.amount for ln in st.lines] == [Decimal("12500.00"), Decimal("-2000.50"), Decimal("300.00")]
    first, second, third = st.lines
    assert first.counterparty_name == "上海甲公司"  # padded with spaces and a tab
    assert first.counterparty_account == "6222000011112222"
    assert first.remittance == "货款 INV-2024-031"  # two columns joined by a space
    assert first.bank_reference == "TX0001"
    assert first.booking_date == date(2024, 3, 1)
    assert second.value_date == date(2024, 3, 3)
    assert third.value_date is None  # empty value date
    assert third.counterparty_account is None
    assert first.source_line == 7
    assert first.raw.startswith("2024-03-01 ,2024-03-01 ,TX0001")
    # Balances from the balance column, which adds up row by row.
    assert st.opening is not None and st.opening.amount == Decimal("100000.00")
    assert st.closing is not None and st.closing.amount == Decimal("110799.50")
    assert st.closing.date == date(2024, 3, 5)
    assert st.warnings == []


def test_decimal_comma_thousands_dot_and_af_bij_columns() -> None:
    st = only("decimal_comma.csv")
    assert st.account == "NL91ABNA0417164300"
    assert [ln.amount for ln in st.lines] == [Decimal("1234.56"), Decimal("-950.00"), Decimal("0.44")]
    assert st.lines[1].remittance == "Huur januari"  # tabs trimmed
    assert st.opening is not None and st.opening.amount == Decimal("10000.00")
    assert st.closing is not None and st.closing.amount == Decimal("10285.00")


# --- built-in profiles on our own files ------------------------------------------------------


def test_icbc_debit_gbk_with_dash_cells_and_currency_totals_row() -> None:
    st = only("icbc_debit_gbk.csv")
    assert st.kind == "csv:icbc-debit"
    assert st.account == "6212260000001234"
    assert st.currency == "CNY"  # 人民币
    assert [ln.amount for ln in st.lines] == [Decimal("8000.00"), Decimal("-58.80")]
    assert st.lines[0].counterparty_name == "某某科技有限公司"
    assert st.lines[1].remittance == "消费 超市"
    # Newest first: the balances add up read backwards.
    assert st.opening is not None and st.opening.amount == Decimal("1058.80")
    assert st.closing is not None and st.closing.amount == Decimal("9000.00")


def test_alipay_gbk_skips_closed_trades_and_neither_in_nor_out_rows_with_warnings() -> None:
    st = only("alipay_gbk.csv")
    assert st.kind == "csv:alipay"
    assert st.account == "shop@example.com"
    assert [(ln.bank_reference, ln.amount) for ln in st.lines] == [
        ("2024050200001", Decimal("1688.00")),
        ("2024050200002", Decimal("-35.50")),
    ]
    assert st.lines[0].counterparty_account == "buyer@example.com"
    assert st.lines[1].counterparty_account is None  # "/" means none
    assert any("交易关闭" in w and w.startswith("1 row") for w in st.warnings)
    assert any("不计收支" in w for w in st.warnings)


def test_knab_indicator_column_and_decimal_comma() -> None:
    st = only("knab_ok.csv")
    assert st.kind == "csv:knab"
    assert [ln.amount for ln in st.lines] == [Decimal("1234.56"), Decimal("-12.5")]
    assert st.lines[0].bank_reference == "R1"
    assert st.lines[0].value_date == date(2024, 2, 5)


def test_headerless_asn_export() -> None:
    st = only("asn_headerless.csv")
    assert st.kind == "csv:asn-nl"
    assert st.account == "NL00ASNB0123456789"
    assert [ln.amount for ln in st.lines] == [Decimal("250.00"), Decimal("-2.50")]
    assert st.lines[0].remittance == "Factuur 2024-007"  # the ' quotes stripped
    assert st.opening is not None and st.opening.amount == Decimal("100.00")
    assert st.closing is not None and st.closing.amount == Decimal("347.50")


def test_paypal_fee_is_a_line_of_its_own_and_the_date_order_comes_from_the_file() -> None:
    st = only("paypal_dayfirst.csv")  # 25/01/2024 can only be day-first
    assert [(ln.booking_date, ln.amount, ln.bank_code) for ln in st.lines] == [
        (date(2024, 1, 2), Decimal("1250.00"), None),
        (date(2024, 1, 2), Decimal("-35.25"), "FEE"),
        (date(2024, 1, 25), Decimal("-1000.00"), None),
    ]
    assert st.lines[1].bank_reference == "T1-FEE"
    assert st.closing is not None and st.closing.amount == Decimal("214.75")
    assert st.opening is not None and st.opening.amount == Decimal("0.00")
    # Optional columns the profile names but this export lacks: left empty, said so.
    assert any("'Subject'" in w for w in st.warnings)


# --- refusals: one line, the line number, the column, what was expected ----------------------


def test_ambiguous_day_month_order_is_refused_not_guessed() -> None:
    err = refused("paypal_ambiguous.csv")
    assert err.line == 2
    assert "'02/01/2024'" in str(err) and "date_format" in str(err)


def test_bad_date_rejects_the_file_with_line_and_column() -> None:
    err = refused("knab_bad_date.csv")
    assert (
        str(err) == "line 4: column 'Boekdatum': expected a date like 31-12-2024 (%d-%m-%Y), got '31-02-2024'"
    )


def test_amount_with_the_wrong_decimal_mark_is_refused_not_misread() -> None:
    # "10.5" under decimal comma / thousands dot is neither 10.5 nor 105.
    err = refused("knab_bad_amount.csv")
    assert err.line == 4
    assert "column 'Bedrag': expected an amount like 1.234,56" in str(err)
    assert "got '10.5'" in str(err)


def test_unknown_indicator_value_is_refused() -> None:
    err = refused("knab_bad_indicator.csv")
    assert str(err) == "line 3: column 'CreditDebet': expected one of C, D, got 'X'"


def test_unknown_layout_is_not_claimed() -> None:
    path = FIXTURES / "unknown_layout.csv"
    assert not CSVParser(USER_PROFILES).detect(path.read_bytes())
    assert "no CSV profile recognises" in str(refused("unknown_layout.csv"))


def test_qif_is_claimed_only_to_be_refused_with_a_reason() -> None:
    path = FIXTURES / "statement.qif"
    assert CSVParser().detect(path.read_bytes())
    assert "QIF is not supported" in str(refused("statement.qif"))


def test_header_without_a_required_column_falls_through_to_the_next_profile() -> None:
    # example-bank-corporate's header_contains (交易日期, 对方户名) is in the ICBC
    # header too, but its credit column is not: icbc-debit reads the file.
    assert only("icbc_debit_gbk.csv").kind == "csv:icbc-debit"


def test_header_lacking_a_required_column_names_it_when_nothing_else_fits(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("账号：123\n交易日期,对方户名,金额\n2024-03-01,甲,1.00\n")
    with pytest.raises(ParseError) as info:
        list(CSVParser(USER_PROFILES).parse(path))
    assert str(info.value) == (
        "no CSV profile recognises this file: line 2 looks like profile example-bank-corporate's header"
        " but has no column '贷方发生额'"
    )


def test_row_with_both_credit_and_debit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    path.write_text(
        "Rekening: NL91\nDatum;Omschrijving;Tegenrekening;Af;Bij;Saldo\n02-01-2024;x;;1,00;2,00;5,00\n"
    )
    err = refused_path(path)
    assert err.line == 3 and "both filled" in str(err)


def test_missing_account_in_preamble_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noacct.csv"
    path.write_text("Datum;Omschrijving;Tegenrekening;Af;Bij;Saldo\n02-01-2024;x;;1,00;;5,00\n")
    assert "no account number found above the header" in str(refused_path(path))


def test_signed_amount_with_an_indicator_column_is_refused(tmp_path: Path) -> None:
    text = (FIXTURES / "knab_ok.csv").read_text().replace('"1.234,56"', '"-1.234,56"')
    path = tmp_path / "signed.csv"
    path.write_text(text)
    assert "unsigned amount" in str(refused_path(path, profiles=()))


def refused_path(path: Path, profiles=USER_PROFILES) -> ParseError:
    with pytest.raises(ParseError) as info:
        list(CSVParser(profiles).parse(path))
    return info.value


# --- detection never claims the other formats ----------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b":20:STARTUMS\r\n:25:10020030/1234567\r\n:28C:1/1\r\n:60F:C240101EUR1000,00\r\n",
        b"{1:F01BANKDEFFXXXX0000000000}{2:I940BANKDEFFXXXXN}{4:\r\n:20:X\r\n",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\n",
        b"<OFX>\n<SIGNONMSGSRSV1>",
        b"01,122099999,123456789,240101,0800,1,,,2/\n02,123456789,122099999,1,240101,,,2/\n03,1234,USD,010,500,,/\n",
    ],
)
def test_does_not_claim_mt940_camt_ofx_or_bai2(head: bytes) -> None:
    assert not CSVParser().detect(head)


def test_zip_that_is_not_a_workbook_is_refused_naming_its_contents(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "statements.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.xml", "<Document/>")
    assert CSVParser().detect(path.read_bytes())
    with pytest.raises(ParseError, match=r"ZIP archive \(holding a.xml\)"):
        list(CSVParser().parse(path))


def test_opendocument_spreadsheet_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "sheet.ods"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content/>")
    assert CSVParser().detect(path.read_bytes())
    with pytest.raises(ParseError, match=r"OpenDocument spreadsheets \(\.ods\) are not supported"):
        list(CSVParser().parse(path))


def test_legacy_xls_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\x00" * 600)
    with pytest.raises(ParseError, match=r"legacy Excel \.xls"):
        list(CSVParser().parse(path))


# --- XLSX through the same profiles ----------------------------------------------------------------


def _workbook(path: Path, rows: list[list]) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Statement"
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_xlsx_with_preamble_typed_cells_and_offset_columns(tmp_path: Path) -> None:
    path = tmp_path / "adyen.xlsx"
    header = [
        None,
        "Company Account",
        "Merchant Account",
        "Psp Reference",
        "Merchant Reference",
        "Creation Date",
        "Type",
        "Modification Reference",
        "Net Currency",
        "Net Debit (NC)",
        "Net Credit (NC)",
    ]
    _workbook(
        path,
        [
            ["Settlement report batch 7"],
            [],
            header,
            [
                None,
                "ACME",
                "ACME_EU",
                8815000000000001,
                20240001,
                datetime(2024, 2, 1, 23, 15),
                "Settled",
                "8815000000000001",
                "EUR",
                None,
                882.71,
            ],
            [
                None,
                "ACME",
                "ACME_EU",
                None,
                None,
                "2024-02-02 01:00:00",
                "Fee",
                "Fees February",
                "EUR",
                5.9,
                None,
            ],
            [None, "TOTAL", 876.81],
        ],
    )
    parser = CSVParser()
    assert parser.detect(path.read_bytes()[:65536])
    (st,) = list(parser.parse(path))
    assert st.kind == "csv:adyen-settlement"
    assert st.account == "ACME_EU"
    assert [ln.amount for ln in st.lines] == [Decimal("882.71"), Decimal("-5.9")]
    assert st.lines[0].bank_reference == "8815000000000001"  # a number cell read as text
    assert st.lines[0].remittance == "20240001 8815000000000001"
    assert st.lines[0].booking_date == date(2024, 2, 1)  # a datetime cell
    assert st.lines[1].booking_date == date(2024, 2, 2)  # a text cell
    assert st.lines[0].source_line == 4


def test_xlsx_no_profile_matches(tmp_path: Path) -> None:
    path = tmp_path / "other.xlsx"
    _workbook(path, [["When", "What", "How much"], [datetime(2024, 1, 1), "Coffee", 3.5]])
    assert CSVParser().detect(path.read_bytes()[:65536])  # a workbook: the parser gives the reason
    with pytest.raises(
        ParseError, match=r"no profile recognises the header of the first sheet \('Statement'\)"
    ):
        list(CSVParser().parse(path))


def test_damaged_xlsx_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"xl/workbook.xml" + b"\x00" * 100)
    with pytest.raises(ParseError, match="cannot read the XLSX workbook"):
        list(CSVParser().parse(path))


# --- the user's profiles come first; bad profiles are one-line errors -----------------------------


def test_user_profile_is_tried_before_the_builtins(tmp_path: Path) -> None:
    # A user's own reading of the Knab layout (e.g. booking date = transaction date).
    profile = tmp_path / "my-knab.toml"
    profile.write_text(
        'name = "my-knab"\n'
        'header_contains = ["Rekeningnummer", "CreditDebet", "Bedrag"]\n'
        'date_format = "%d-%m-%Y"\ndecimal_separator = ","\nthousands_separator = "."\n'
        'credit_values = ["C"]\ndebit_values = ["D"]\naccount = "MY-ACCOUNT"\ncurrency = "EUR"\n'
        '[columns]\nbooking_date = "Transactiedatum"\namount = "Bedrag"\ndebit_credit_indicator = "CreditDebet"\n'
    )
    st = only("knab_ok.csv", profiles=(profile,))
    assert st.kind == "csv:my-knab"
    assert st.account == "MY-ACCOUNT"
    assert only("knab_ok.csv", profiles=()).kind == "csv:knab"
    assert only("knab_ok.csv", profiles=("knab",)).kind == "csv:knab"  # a built-in by name


def test_bad_user_profile_is_a_one_line_error(tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('name = "bad"\nheader_contains = ["A"]\n[columns]\nbooking_date = "A"\n')
    with pytest.raises(ProfileError) as info:
        CSVParser([profile])
    assert (
        str(info.value) == f"profile {profile}: [columns] needs either 'amount' or both 'credit' and 'debit'"
    )


def test_profile_without_an_account_files_lines_under_its_name_with_a_warning(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(
        'name = "plain"\nheader_contains = ["When", "How much"]\n[columns]\nbooking_date = "When"\namount = "How much"\n'
    )
    (st,) = read_path(FIXTURES / "unknown_layout.csv", (profile,))
    assert st.account == "plain"
    assert st.currency is None
    assert st.lines[0].amount == Decimal("3.50") and st.lines[0].remittance is None
    assert any("names no account" in w for w in st.warnings)


def read_path(path: Path, profiles) -> list[Statement]:
    return list(CSVParser(profiles).parse(path))


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    text = (FIXTURES / "knab_ok.csv").read_text().replace("\n", "\r\n")
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    st = only_path(path)
    assert len(st.lines) == 2 and st.lines[0].raw.endswith('"05-02-2024";')


def only_path(path: Path) -> Statement:
    (st,) = list(CSVParser().parse(path))
    return st


def test_quoted_cell_spanning_two_lines(tmp_path: Path) -> None:
    text = (FIXTURES / "knab_ok.csv").read_text().replace('"Factuur 1"', '"Factuur 1\nsecond line"')
    path = tmp_path / "multiline.csv"
    path.write_text(text)
    st = only_path(path)
    assert st.lines[0].remittance == "Factuur 1\nsecond line"
    assert [ln.source_line for ln in st.lines] == [3, 5]


def test_generated_benchmark_file_reads_every_row(tmp_path: Path) -> None:
    from benchmarks.gen_csv import write_csv

    path = tmp_path / "big.csv"
    n = write_csv(path, 3_000, seed=5)
    st = only_path(path)
    assert st.kind == "csv:knab" and len(st.lines) == n
    assert len({ln.bank_reference for ln in st.lines}) == n
    assert all(ln.amount != 0 for ln in st.lines)
