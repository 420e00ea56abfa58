"""The ``:86:`` splitter: German ``?NN`` + SEPA keywords, Dutch ``/CODE/``, free text, FinTS ``:NS:``."""

from __future__ import annotations

import pytest

from parsers.mt940_fields import find_creditor_reference, join_wrapped, parse_details, parse_non_swift


def test_german_layout_in_another_order_takes_the_general_path() -> None:
    d = parse_details(":86:166?20EREF+E1?32Name One?00GUTSCHRIFT?31DE89370400440532013000?21SVWZ+Text")
    assert (d.gvc, d.posting_text, d.counterparty_name) == ("166", "GUTSCHRIFT", "Name One")
    assert (d.end_to_end_id, d.remittance, d.counterparty_account) == ("E1", "Text", "DE89370400440532013000")


def test_question_mark_inside_a_value() -> None:
    d = parse_details(":86:166?00GUTSCHRIFT?20Wer? Wir!?21RE 12?32Firma")
    assert d.remittance == "Wer? Wir! RE 12" and d.counterparty_name == "Firma"


def test_keyword_split_across_pieces_and_in_the_middle_of_one() -> None:
    # 'S' ends a full piece, 'VWZ+' starts the next: the keyword is found after joining
    full = "B12CDE0000000000000000034 S"
    assert len(full) == 27
    d = parse_details(f":86:835?20EREF+ 1234 PAYPAL?21MREF+ 12AB CRED+ A?22{full}?23VWZ+ . SPOTIFY")
    assert d.end_to_end_id == "1234 PAYPAL"
    assert d.mandate_reference == "12AB"
    assert d.remittance == ". SPOTIFY"


def test_triodos_writes_angle_brackets() -> None:
    d = parse_details(
        ":86:000>100987654321\n>20ALGEMENE TUSSENREKENING KOS>21TEN VAN 01-10-2010\n>310390123456"
    )
    assert d.style == "german" and d.gvc == "000"
    assert d.remittance == "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010"  # a full 27-char piece runs on
    assert d.counterparty_account == "0390123456"


def test_polish_iban_in_38_wins_over_31() -> None:
    d = parse_details(
        ":86:020?00Wyplata?20FAKTURA 333?3010600076?310000777777777777?32HUTA?38PL08106000760000777777777777"
    )
    assert d.counterparty_account == "PL08106000760000777777777777"
    assert d.counterparty_bic is None  # ?30 is a bank code here


def test_sepa_iban_bic_and_kref_keywords() -> None:
    d = parse_details(":86:166?20KREF+K-9?21IBAN+DE89 3704 0044 0532 0130 00?22BIC+COBADEFFXXX?23SVWZ+Pay")
    assert d.customer_reference == "K-9"
    assert d.counterparty_account == "DE89370400440532013000"
    assert d.counterparty_bic == "COBADEFFXXX"
    assert d.remittance == "Pay"


def test_dutch_ultimate_debtor_and_values_with_slashes() -> None:
    d = parse_details(
        ":86:/TRTP/SEPA OVERBOEKING/ORDP//NAME/A B.V./ULTD//NAME/C Holding/REMI/nr 1/2/3/EREF/E-1"
    )
    assert d.counterparty_name == "A B.V."
    assert d.ultimate_debtor == "C Holding"
    assert d.remittance == "nr 1/2/3"
    assert d.end_to_end_id == "E-1"


def test_dutch_structured_currence_reference() -> None:
    d = parse_details(
        ":86:/EREF/X//CNTP/NL91ABNA0417164300/ABNANL2A/J.J/Utrecht///REMI/STRD/CUR/9001123412341234/"
    )
    assert d.creditor_reference == "9001123412341234"
    assert (d.counterparty_account, d.counterparty_bic, d.counterparty_name) == (
        "NL91ABNA0417164300",
        "ABNANL2A",
        "J.J",
    )


def test_knab_account_and_name_in_free_text() -> None:
    d = parse_details(":86:FACTUUR 201403110\nREK: NL91ABNA0417164300/NAAM: PICQER")
    assert (d.counterparty_account, d.counterparty_name) == ("NL91ABNA0417164300", "PICQER")


def test_free_text_with_three_digits_in_front_is_not_german() -> None:
    d = parse_details(":86:911 TRANSAKCJA COLLECT; ID IPH: XX01")
    assert d.style == "free" and d.remittance == "911 TRANSAKCJA COLLECT; ID IPH: XX01"


def test_empty_details() -> None:
    d = parse_details(":86:")
    assert d.remittance is None and d.counterparty_name is None


@pytest.mark.parametrize(
    ("lines", "text"),
    [
        ([":86:" + "A" * 61, "BC"], "A" * 61 + "BC"),  # a full line (tag included) was cut mid-word
        ([":86:short line", "next"], "short line next"),  # a short line ended at a word
        ([":86:padded" + " " * 55, "more"], "padded more"),  # blank padding is not content
        ([":86:/NAME/", "X/REMI/y"], "/NAME/X/REMI/y"),  # around '/', no space
        ([":86:MND", "-", "EV01"], "MND-EV01"),  # a hyphen alone on a line
    ],
)
def test_join_wrapped(lines: list[str], text: str) -> None:
    assert join_wrapped(lines, ":86:") == text


def test_non_swift_fields() -> None:
    d = parse_non_swift(
        [":NS:01Verwendungszweck 1", "02Verwendungszweck 2", "15ERGO Versicherung AG Fiokte", "16lep"]
    )
    assert d.remittance == "Verwendungszweck 1 Verwendungszweck 2"
    assert d.counterparty_name == "ERGO Versicherung AG Fioktelep"  # 27-character piece runs on


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("RF18539007547034", "RF18539007547034"),
        ("pay rf18 5390 0754 7034 now", "RF18539007547034"),
        ("RF712348231 thanks", "RF712348231"),
        ("RF18539007547035", None),  # check digits wrong
        ("REF 123", None),
        (None, None),
    ],
)
def test_creditor_reference(text: str | None, ref: str | None) -> None:
    assert find_creditor_reference(text) == ref
