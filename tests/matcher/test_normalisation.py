"""Normalisation rules, one small hand-written case each: text, references, RF, names."""

from __future__ import annotations

import doctest

import pytest

import matcher.decision
import matcher.names
import matcher.references
import matcher.subsets
import matcher.text
from matcher.names import core_name, full_name, is_truncation, name_tokens
from matcher.references import (
    compact,
    find_rf_references,
    invoice_keys,
    strip_zeros,
    text_keys,
    weaker,
    within_one_edit,
)
from matcher.text import normalize_text, reference_tokens


@pytest.mark.parametrize("module", [matcher.text, matcher.references, matcher.names, matcher.subsets, matcher.decision])
def test_doctests(module) -> None:  # type: ignore[no-untyped-def]
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


# --- text -----------------------------------------------------------------------------------------

def test_full_width_digits_become_digits() -> None:
    assert normalize_text("ＩＮＶ－２０２６－００４２") == "INV-2026-0042"


def test_cjk_ends_a_token() -> None:
    assert reference_tokens("发票号40000123付款") == ["40000123"]
    assert reference_tokens("发票号４０００0123") == ["40000123"]


def test_case_and_whitespace() -> None:
    assert normalize_text("  paid\n\tinv 42  ") == "PAID INV 42"
    assert normalize_text(None) == ""


# --- references -----------------------------------------------------------------------------------

def test_compact_drops_separators_and_case() -> None:
    assert compact("inv-2026/0042") == "INV20260042"
    assert compact("INV 2026.0042") == "INV20260042"


def test_strip_zeros_per_digit_group() -> None:
    assert strip_zeros("INV0042") == "INV42"
    assert strip_zeros("2026") == "2026"
    assert strip_zeros("00420") == "420"


def test_invoice_keys_forms() -> None:
    keys = invoice_keys("INV-2026-0042")
    assert keys["INV20260042"] == "exact"
    assert keys["INV202642"] == "leading-zeros"
    assert keys["20260042"] == "digits-only"


def test_short_numbers_are_not_digit_keys() -> None:
    assert "42" not in invoice_keys("INV-42")
    assert invoice_keys("INV-42") == {"INV42": "exact"}
    assert invoice_keys("A-1") == {}  # too short to name anything


@pytest.mark.parametrize(
    "text,key,form",
    [
        ("Invoice INV-2026-0042", "INV20260042", "exact"),
        ("inv/2026/0042", "INV20260042", "exact"),
        ("INV 2026 0042 thanks", "INV20260042", "exact"),
        ("ｉｎｖ２０２６００４２", "INV20260042", "exact"),
        ("re 2026-0042", "20260042", "exact"),  # prefix dropped: the digits window (weaker on the invoice side)
        ("INV-2026-42", "INV202642", "exact"),  # meets the invoice's leading-zeros key
    ],
)
def test_text_keys_find_the_invoice_in_its_variants(text: str, key: str, form: str) -> None:
    keys = text_keys(text)
    assert key in keys and keys[key][0] == form
    inv = invoice_keys("INV-2026-0042")
    assert key in inv


def test_reference_buried_in_other_numbers() -> None:
    keys = text_keys("Order PO-778812 delivery LS 4471123 of 14.10.2026 invoice INV-2026-0042 amount 1.200,00")
    assert "INV20260042" in keys
    assert not set(keys) & {"INV202643"}


def test_a_hit_is_as_strong_as_its_weaker_side() -> None:
    assert weaker("exact", "digits-only") == "digits-only"
    assert weaker("rf", "exact") == "exact"


def test_rf_references_are_validated() -> None:
    assert find_rf_references("RF18 5390 0754 7034") == ["RF18539007547034"]
    assert find_rf_references("rf18539007547034") == ["RF18539007547034"]
    assert find_rf_references("RF19 5390 0754 7034") == []  # check digits wrong
    assert text_keys("pay RF18 5390 0754 7034")["RF18539007547034"][0] == "rf"
    assert invoice_keys("X-1", "RF18 5390 0754 7034")["RF18539007547034"] == "rf"


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ("40000123", "40000124", True),  # one replaced
        ("40000123", "4000123", True),  # one dropped
        ("40000123", "400001233", True),  # one added
        ("40000123", "40001023", True),  # neighbours swapped
        ("40000123", "40010124", False),  # two replaced
        ("40000123", "40000123", True),
    ],
)
def test_one_typo(a: str, b: str, expected: bool) -> None:
    assert within_one_edit(a, b) is expected


# --- names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "a,b",
    [
        ("Müller Maschinenbau GmbH", "MUELLER MASCHINENBAU G.M.B.H."),
        ("Müller Maschinenbau GmbH", "Muller Maschinenbau Gesellschaft mbH"),
        ("Müller Maschinenbau GmbH & Co. KG", "Mueller Maschinenbau"),
        ("Acme Ltd", "ACME LIMITED"),
        ("Acme Inc.", "acme incorporated"),
        ("Van der Berg B.V.", "VAN DER BERG BV"),
        ("Dupont S.A.R.L.", "SARL DUPONT"),
        ("Straßenbau Groß AG", "STRASSENBAU GROSS"),
        ("Café Crème S.A.", "Cafe Creme SA"),
        ("深圳市华强电子有限公司", "深圳市华强电子股份有限公司"),
        ("上海贸易有限责任公司", "上海贸易"),
    ],
)
def test_same_core_name(a: str, b: str) -> None:
    assert core_name(a) == core_name(b)


def test_different_names_stay_different() -> None:
    assert core_name("Müller Maschinenbau GmbH") != core_name("Müller Anlagenbau GmbH")


def test_legal_form_alone_is_kept() -> None:
    assert core_name("GmbH") == "gmbh"


def test_truncated_name_is_a_prefix() -> None:
    long = "Mueller Maschinenbau Gesellschaft mit beschraenkter Haftung"
    assert is_truncation(long[:35], "Müller Maschinenbau Gesellschaft mit beschränkter Haftung")
    assert is_truncation(long[:32], long)
    assert not is_truncation("Mueller", long)  # too short to say
    assert not is_truncation("Mueller Anlagenbau Gesellschaft", long)


def test_cjk_names_block_on_character_pairs() -> None:
    assert name_tokens(core_name("北京华为技术有限公司")) == ["北京", "京华", "华为", "为技", "技术"]
    assert full_name("ＡＣＭＥ") == "acme"


def test_name_frame_equals_reference() -> None:
    import polars as pl

    from fixtures.generator import generate
    from matcher.names import name_frame

    world = generate(3, customers=300, lines=600)
    names = [c.name for c in world.customers] + [ln.name for ln in world.lines if ln.name]
    names += ["G.m.b.H.", "the", "a and the b", "O'Neill & Söhne", "Ｆｕｌｌ　Ｗｉｄｔｈ Ltd", "ÉCOLE S.A.", "株式会社", ""]
    frame = name_frame(pl.Series(names, dtype=pl.String))
    for raw, full, core in frame.iter_rows():
        assert (full, core) == (full_name(raw), core_name(raw)), raw
