"""parsers/camt.py against our own fixtures in fixtures/statements/camt/ (one per quirk)."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.base import ParseError, Statement, StatementLine
from parsers.camt import CamtParser, check_prolog

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "camt"


def read(name: str | Path) -> list[tuple[Statement, list[StatementLine]]]:
    """Statements with their lines, consumed the way the import job does (lines first, then balances)."""
    path = name if isinstance(name, Path) else FIXTURES / name
    out = []
    for statement in CamtParser().parse(path):
        out.append((statement, list(statement.lines)))
    return out


def only(name: str) -> tuple[Statement, list[StatementLine]]:
    statements = read(name)
    assert len(statements) == 1
    return statements[0]


# -- camt.053.001.02: the .02 shapes ------------------------------------------


def test_v02_statement_header_and_balances() -> None:
    statement, lines = only("camt053_v02_quirks.xml")
    assert statement.kind == "camt.053"
    assert statement.account == "DE89370400440532013000"
    assert statement.currency == "EUR"
    assert statement.statement_id == "STMT-2026-03-02"
    assert statement.sequence == "42"  # LglSeqNb before ElctrncSeqNb
    assert statement.opening.amount == Decimal("1000.00") and statement.opening.date == date(2026, 3, 1)
    assert statement.closing.amount == Decimal("2530.50") and statement.closing.date == date(2026, 3, 2)
    assert statement.opening.amount + sum(line.amount for line in lines) == statement.closing.amount


def test_v02_credit_fields() -> None:
    _, lines = only("camt053_v02_quirks.xml")
    line = lines[0]
    assert line.amount == Decimal("1190.00") and isinstance(line.amount, Decimal)
    assert line.booking_date == date(2026, 3, 2) and line.value_date == date(2026, 3, 3)
    assert line.bank_reference == "BANK-REF-0001"  # Ntry/AcctSvcrRef wins over the TxDtls one
    assert line.counterparty_name == "Müller & Söhne GmbH"  # .02 Dbtr/Nm, entity and line break cleaned
    assert line.counterparty_account == "DE02120300000000202051"
    assert line.counterparty_bic == "BYLADEM1001"  # DbtrAgt/FinInstnId/BIC
    assert line.ultimate_debtor == "Müller Holding AG"
    assert line.remittance == "Rechnung INV-1001 Kundennr 4711"  # every Ustrd, joined
    assert line.end_to_end_id == "E2E-INV-1001"
    assert line.bank_code == "PMNT-RCDT-ESCT"  # the domain code before the proprietary one
    assert line.source_line == 36
    assert line.raw.startswith("<Ntry><NtryRef>1</NtryRef><Amt")  # compact: no indentation, no xmlns
    assert "<Ustrd>Rechnung INV-1001</Ustrd>" in line.raw


def test_batch_entry_gives_one_line_per_transaction() -> None:
    _, lines = only("camt053_v02_quirks.xml")
    first, second = lines[1], lines[2]
    assert (first.amount, second.amount) == (Decimal("250.00"), Decimal("350.00"))  # AmtDtls/TxAmt/Amt
    assert first.booking_date == date(2026, 3, 2)  # BookgDt/DtTm, date part
    # No Ntry/AcctSvcrRef: TxDtls/Refs/AcctSvcrRef comes before the entry's NtryRef ("2").
    assert (first.bank_reference, second.bank_reference) == ("BATCH-TX-1", "BATCH-TX-2")
    assert first.end_to_end_id is None  # NOTPROVIDED
    assert second.end_to_end_id == "E2E-BETA-7"
    assert first.creditor_reference == "RF18539007547034"  # Strd/CdtrRefInf/Ref
    assert (first.counterparty_name, second.counterparty_name) == ("Alpha BV", "Beta GmbH")
    assert second.counterparty_account == "0532013000"  # DbtrAcct/Id/Othr/Id
    assert first.source_line == second.source_line == 74
    assert first.raw == second.raw


def test_reversal_keeps_the_sign_of_cdtdbtind() -> None:
    """ISO 20022: a reversed credit is booked DBIT with RvslInd true; it is money leaving the account."""
    _, lines = only("camt053_v02_quirks.xml")
    returned = lines[3]
    assert returned.amount == Decimal("-250.00")
    assert "<RvslInd>true</RvslInd>" in returned.raw
    # The parties of a reversal are those of the payment it reverses: the debtor is the counterparty.
    assert returned.counterparty_name == "Alpha BV"
    assert returned.counterparty_account == "NL91ABNA0417164300"


def test_entry_without_details_uses_ntryref_and_proprietary_code() -> None:
    _, lines = only("camt053_v02_quirks.xml")
    charge = lines[4]
    assert charge.amount == Decimal("-9.50")
    assert charge.bank_reference == "CHG-2026-03"
    assert charge.bank_code == "NCHG+805"
    assert charge.remittance == "Kontoführung März"  # AddtlNtryInf when there is no remittance information
    assert charge.counterparty_name is None


def test_pending_entries_are_not_lines_and_say_so() -> None:
    statement, lines = only("camt053_v02_quirks.xml")
    assert len(lines) == 5  # 5 Ntry, one of them a batch of 2, one pending
    assert all(line.amount != Decimal("77.00") for line in lines)
    assert statement.warnings == ["1 entry with status PDNG not imported: not booked yet"]


# -- camt.053.001.08: the .08 shapes ------------------------------------------


def test_v08_party_shape_and_bicfi() -> None:
    statement, lines = only("camt053_v08_party.xml")
    assert statement.account == "0012345678"  # Acct/Id/Othr/Id
    assert statement.currency == "CHF"
    assert statement.sequence == "7"
    assert statement.opening.amount == Decimal("-50.00")  # PRCD, DBIT
    assert statement.closing.date == date(2026, 3, 31)  # Dt/DtTm
    credit, debit = lines
    assert credit.counterparty_name == "Gamma Sàrl"  # Dbtr/Pty/Nm
    assert credit.ultimate_debtor == "Gamma Group"  # UltmtDbtr/Pty/Nm
    assert credit.counterparty_bic == "UBSWCHZH80A"  # BICFI
    assert credit.creditor_reference == "210000000003139471430009017"
    # A debit's counterparty is the creditor, never the account holder in Dbtr.
    assert debit.amount == Decimal("-420.00")
    assert debit.counterparty_name == "Delta Lieferant AG"
    assert debit.counterparty_account == "CH-SUPPLIER-99"
    assert debit.counterparty_bic == "POFICHBEXXX"
    assert statement.warnings == []


# -- namespaces ---------------------------------------------------------------


def test_missing_namespace_and_latin1_encoding() -> None:
    statement, lines = only("camt053_no_namespace.xml")
    assert statement.kind == "camt.053"
    assert statement.currency == "EUR"  # no Acct/Ccy: taken from the balance
    assert [line.amount for line in lines] == [Decimal("12.30")]
    assert lines[0].counterparty_name == "Jörg Österreicher"
    assert lines[0].remittance == "Beitrag Jänner"


def test_odd_namespace_with_prefix() -> None:
    statement, lines = only("camt053_odd_prefix.xml")
    assert statement.account == "NL91ABNA0417164300"
    assert statement.currency == "EUR"  # no Acct/Ccy and no balance: from the first entry
    assert [(line.amount, line.bank_reference) for line in lines] == [(Decimal("-5.00"), "PFX-REF")]


# -- camt.052 and camt.054 ----------------------------------------------------


def test_camt052_report_uses_last_itbd_as_closing() -> None:
    statement, lines = only("camt052_report.xml")
    assert statement.kind == "camt.052"
    assert statement.opening is None
    assert statement.closing.amount == Decimal("175.25")
    assert [line.amount for line in lines] == [Decimal("75.25")]
    assert "status PDNG not imported" in statement.warnings[0]


def test_camt054_unsplittable_batch_is_one_line_with_a_warning() -> None:
    """Two TxDtls without amounts: the entry's amount is never divided up by guesswork."""
    statement, lines = only("camt054_notification.xml")
    assert statement.kind == "camt.054"
    assert len(lines) == 1
    line = lines[0]
    assert line.amount == Decimal("300.00")
    assert line.remittance == "INV-7 INV-8"
    assert line.creditor_reference == "RF71INV8"
    assert line.counterparty_name == "Eta AG"  # both transactions agree
    assert line.end_to_end_id is None  # they do not
    assert line.booking_date == date(2026, 6, 10)  # no BookgDt/ValDt: the notification's date
    assert any("holds 2 transactions" in w and "imported as one line" in w for w in statement.warnings)
    assert any("without BookgDt or ValDt" in w for w in statement.warnings)


# -- safety -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["camt053_xml_bomb.xml", "camt053_xxe.xml"])
def test_doctype_and_entities_are_refused_before_parsing(name: str) -> None:
    assert CamtParser().detect((FIXTURES / name).read_bytes())  # it is camt, so camt says why not
    with pytest.raises(ParseError) as err:
        read(name)
    assert "DOCTYPE/entity declarations are not allowed in camt files" in str(err.value)
    assert err.value.line in (2, 3)


def test_prolog_check_reads_only_the_prolog(tmp_path: Path) -> None:
    ok = tmp_path / "ok.xml"
    ok.write_bytes(b'<?xml version="1.0"?>\n<!-- <!DOCTYPE in a comment is fine -->\n<Document/>' + b" " * 10)
    with open(ok, "rb") as fh:
        check_prolog(fh)
    utf16 = tmp_path / "utf16.xml"
    utf16.write_bytes('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><Document/>'.encode("utf-16"))
    with open(utf16, "rb") as fh, pytest.raises(ParseError, match="DOCTYPE"):
        check_prolog(fh)


def test_malformed_amount_is_a_parse_error_with_its_line(tmp_path: Path) -> None:
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.xml"
    bad.write_text(text.replace('<Amt Ccy="CHF">420.00</Amt>', '<Amt Ccy="CHF">420,00</Amt>'), encoding="utf-8")
    with pytest.raises(ParseError) as err:
        read(bad)
    assert "'420,00' is not an amount" in err.value.message
    assert err.value.line == 42  # the line of that <Amt>


def test_broken_xml_is_one_line_parse_error(tmp_path: Path) -> None:
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    bad = tmp_path / "cut.xml"
    bad.write_text(text[: text.index("CH-REF-2")], encoding="utf-8")
    with pytest.raises(ParseError) as err:
        read(bad)
    assert "not well-formed XML" in str(err.value) and "\n" not in str(err.value)
    assert err.value.line is not None


def test_negative_or_missing_direction_is_refused(tmp_path: Path) -> None:
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    bad = tmp_path / "dir.xml"
    bad.write_text(text.replace("<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>", "<CdtDbtInd>D</CdtDbtInd>\n        <Sts>"),
                   encoding="utf-8")
    with pytest.raises(ParseError, match="expected CRDT or DBIT"):
        read(bad)


def test_message_without_statement_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_text('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
                     "<GrpHdr><MsgId>X</MsgId></GrpHdr></BkToCstmrStmt></Document>", encoding="utf-8")
    with pytest.raises(ParseError, match="no Stmt, Rpt or Ntfctn"):
        read(empty)


# -- streaming ----------------------------------------------------------------


def test_lines_stream_and_balances_are_known_after_them() -> None:
    statements = CamtParser().parse(FIXTURES / "camt053_v02_quirks.xml")
    statement = next(statements)
    assert not isinstance(statement.lines, list)  # a lazy stream, not a list held in memory
    first = next(iter(statement.lines))
    assert first.amount == Decimal("1190.00")
    rest = list(statement.lines)
    assert len(rest) == 4
    assert statement.warnings  # filled in once the statement has been read to its end
    assert next(statements, None) is None


def test_no_line_is_lost_when_statements_are_listed_first() -> None:
    statements = list(CamtParser().parse(FIXTURES / "camt053_v02_quirks.xml"))
    assert [line.amount for line in statements[0].lines] == [
        Decimal("1190.00"), Decimal("250.00"), Decimal("350.00"), Decimal("-250.00"), Decimal("-9.50")]


def test_multiple_statements_stream_one_after_the_other(tmp_path: Path) -> None:
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    start, end = text.index("<Stmt>"), text.index("</Stmt>") + len("</Stmt>")
    second = text[start:end].replace("STMT-08-1", "STMT-08-2").replace("CH-REF-", "CH-REF-B")
    double = tmp_path / "two.xml"
    double.write_text(text[:end] + second + text[end:], encoding="utf-8")
    got = read(double)
    assert [s.statement_id for s, _ in got] == ["STMT-08-1", "STMT-08-2"]
    assert [len(lines) for _, lines in got] == [2, 2]
    assert got[1][1][0].bank_reference == "CH-REF-B1"


def test_statements_end_where_their_elements_end(tmp_path: Path) -> None:
    """A statement without entries before one with entries; elements named like an entry or a
    statement inside an entry; a balance after the entries: each read where it belongs."""
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    start, end = text.index("<Stmt>"), text.index("</Stmt>") + len("</Stmt>")
    quiet = text[start:text.index("<Ntry>")].replace("STMT-08-1", "STMT-08-0") + "</Stmt>"
    busy = text[start:end]
    tx_end = busy.index("</TxDtls>", busy.index("</TxDtls>") + 1)  # in the second entry (in the first: an error)
    busy = (busy[:tx_end] + '<Ntry><Amt Ccy="CHF">9.99</Amt></Ntry><Stmt><Id>not a statement</Id></Stmt>'
            + busy[tx_end:])
    busy = busy.replace("</Stmt>", "<Bal><Tp><CdOrPrtry><Cd>ITBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CHF\">7.00</Amt>"
                                   "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-04-01</Dt></Dt></Bal></Stmt>")
    path = tmp_path / "three.xml"
    path.write_text(text[:start] + quiet + busy + busy.replace("STMT-08-1", "STMT-08-2") + text[end:],
                    encoding="utf-8")
    got = read(path)
    assert [s.statement_id for s, _ in got] == ["STMT-08-0", "STMT-08-1", "STMT-08-2"]
    assert [[line.amount for line in lines] for _, lines in got] == [
        [], [Decimal("500.00"), Decimal("-420.00")], [Decimal("500.00"), Decimal("-420.00")]]
    assert got[0][0].closing is not None and got[0][0].closing.amount == Decimal("30.00")
    assert '<Ntry><Amt Ccy="CHF">9.99</Amt></Ntry>' in got[1][1][1].raw


def test_a_large_generated_statement_streams(tmp_path: Path) -> None:
    from benchmarks.gen_camt import write_camt053

    path = tmp_path / "gen.xml"
    summary = write_camt053(path, 2_000, seed=7)
    (statement, lines), = read(path)
    assert len(lines) == 2_000
    assert statement.opening.amount + sum(line.amount for line in lines) == statement.closing.amount == summary.closing
    assert sum(1 for line in lines if line.amount > 0) == summary.credits
    assert all(line.counterparty_name and line.bank_reference for line in lines)


# -- zip archives -------------------------------------------------------------


def test_zip_of_camt_files_is_read_member_by_member(tmp_path: Path) -> None:
    archive = tmp_path / "statements.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(FIXTURES / "camt053_v02_quirks.xml", "march.xml")
        zf.write(FIXTURES / "camt053_v08_party.xml", "april.xml")
        zf.writestr("__MACOSX/._march.xml", b"\x00\x05\x16\x07 resource fork")
    assert CamtParser().detect(archive.read_bytes()[:65536])
    got = read(archive)
    assert [s.statement_id for s, _ in got] == ["STMT-2026-03-02", "STMT-08-1"]
    assert [len(lines) for _, lines in got] == [5, 2]


def test_zip_with_a_foreign_member_is_refused_naming_it(tmp_path: Path) -> None:
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(FIXTURES / "camt053_v08_party.xml", "april.xml")
        zf.writestr("notes.txt", "not a statement")
    with pytest.raises(ParseError, match="notes.txt is not a camt file"):
        read(archive)


def test_zip_member_with_doctype_is_refused_naming_it(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(FIXTURES / "camt053_xml_bomb.xml", "bomb.xml")
    with pytest.raises(ParseError) as err:
        read(archive)
    assert "archive member bomb.xml" in str(err.value) and "DOCTYPE" in str(err.value)


# -- detection ----------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        b"OFXHEADER:100\nDATA:OFXSGML\n<OFX><SIGNONMSGSRSV1>",
        b'<?xml version="1.0"?>\n<?OFX OFXHEADER="200" VERSION="220"?>\n<OFX><BANKMSGSRSV1>',
        b":20:STARTUMSE\n:25:10020030/1234567890\n:28C:00001/001\n",
        b"01,0004,12345,060321,0829,001,80,1,2/\n02,12345,0004,1,060317,,CAD,/\n",
        b"Buchungstag;Valuta;Betrag\n01.03.2026;01.03.2026;12,50\n",
        b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>',
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",  # a zip whose first member cannot be seen: not claimed
    ],
)
def test_detect_claims_no_other_format(head: bytes) -> None:
    assert not CamtParser().detect(head)


@pytest.mark.parametrize(
    "head",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
        b"\n<BkToCstmrStmt>",
        b"\xef\xbb\xbf<Document><BkToCstmrAcctRptV01>",
        b"<c:Document xmlns:c='x'><c:BkToCstmrDbtCdtNtfctn>",
        '<?xml version="1.0" encoding="UTF-16"?><Document><BkToCstmrStmt>'.encode("utf-16"),
    ],
)
def test_detect_camt_in_its_shapes(head: bytes) -> None:
    assert CamtParser().detect(head)


def test_undeclared_entity_is_refused_with_its_line(tmp_path: Path) -> None:
    text = (FIXTURES / "camt053_v08_party.xml").read_text(encoding="utf-8")
    bad = tmp_path / "entity.xml"
    bad.write_text(text.replace("Lieferung 2026-03", "Lieferung &foo;"), encoding="utf-8")
    with pytest.raises(ParseError) as err:
        read(bad)
    assert str(err.value) == "line 56: not well-formed XML: Entity 'foo' not defined"


def test_second_notification_keeps_the_group_header(tmp_path: Path) -> None:
    """Regression: in a camt.054 with two Ntfctn, the second one lost GrpHdr (its undated entry was refused)."""
    def ntfctn(nid: str, dated: bool) -> str:
        date_xml = "<BookgDt><Dt>2026-10-05</Dt></BookgDt>" if dated else ""
        return (
            f"<Ntfctn><Id>{nid}</Id><Acct><Id><IBAN>DE12500105170648489890</IBAN></Id><Ccy>EUR</Ccy></Acct>"
            f'<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>{date_xml}'
            f"<AcctSvcrRef>{nid}-1</AcctSvcrRef></Ntry></Ntfctn>"
        )

    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"><BkToCstmrDbtCdtNtfctn>'
        "<GrpHdr><MsgId>MSG-54</MsgId><CreDtTm>2026-10-06T08:00:00</CreDtTm></GrpHdr>"
        + ntfctn("N1", dated=True) + ntfctn("N2", dated=False)
        + "</BkToCstmrDbtCdtNtfctn></Document>"
    )
    path = tmp_path / "two.xml"
    path.write_text(doc, encoding="utf-8")
    statements = read(path)
    assert len(statements) == 2
    (_, first), (_, second) = statements
    assert first[0].booking_date == date(2026, 10, 5)
    # the undated entry of the second notification takes the message's creation date, as the first would
    assert second[0].booking_date == date(2026, 10, 6)
    assert second[0].amount == Decimal("10.00")
