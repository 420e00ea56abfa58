"""CSV profiles: the built-ins load, a user's file is validated, a bad one is a one-line error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.profiles import (
    BUILTIN_DIR,
    ProfileError,
    builtin_profiles,
    load_profile,
    profile_from_dict,
    resolve_profile,
    resolve_profiles,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "statements" / "csv" / "profiles"

MINIMAL = {
    "name": "p",
    "header_contains": ["Date", "Amount"],
    "columns": {"booking_date": "Date", "amount": "Amount"},
}


def make(**changes) -> dict:
    data = {**MINIMAL, **changes}
    return {k: v for k, v in data.items() if v is not None}


def test_every_builtin_profile_loads_and_the_required_ones_exist() -> None:
    profiles = builtin_profiles()
    names = {p.name for p in profiles}
    assert len(profiles) == len(list(BUILTIN_DIR.glob("*.toml")))
    assert {
        "icbc-debit",
        "icbc-credit",
        "cmb-debit",
        "cmb-credit",
        "alipay",
        "ing-nl",
        "knab",
        "paypal-activity",
    } <= names
    assert all(p.source.endswith(".toml") for p in profiles)


def test_builtins_are_tried_most_specific_header_first() -> None:
    names = [p.name for p in builtin_profiles()]
    assert names.index("ing-nl-saldo") < names.index("ing-nl")
    assert names[-1] == "asn-nl"  # headerless profiles last


def test_contract_example_profile_loads_with_every_contract_key() -> None:
    p = load_profile(FIXTURES / "example-bank-corporate.toml")
    assert p.name == "example-bank-corporate"
    assert p.encoding == "gbk"
    assert p.delimiter == ","
    assert p.header_contains == ("交易日期", "对方户名")
    assert [r.pattern for r in p.skip_rows_matching] == ["^合计"]
    assert p.date_formats == ("%Y-%m-%d",)
    assert (p.decimal_separator, p.thousands_separator) == (".", ",")
    assert (
        p.account_from_preamble is not None
        and p.account_from_preamble.search("账号：123 x").group(1) == "123"
    )
    assert p.currency == "CNY"
    assert p.columns["remittance"] == ("摘要", "用途")
    assert p.columns["credit"] == "贷方发生额" and p.columns["balance"] == "余额"


def test_defaults() -> None:
    p = profile_from_dict(make(), "test")
    assert p.encoding == "utf-8"
    assert p.delimiter is None  # detected
    assert (p.decimal_separator, p.thousands_separator) == (".", "")
    assert p.amount_sign == 1
    assert p.has_header


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": None}, "'name' is required"),
        ({"colour": "blue"}, "unknown key 'colour'"),
        ({"encoding": "klingon"}, "'encoding' 'klingon' is not a Python codec"),
        ({"delimiter": ";;"}, "'delimiter' must be one character"),
        ({"header_contains": []}, "'header_contains' is required"),
        ({"skip_rows_matching": ["(unclosed"]}, "'skip_rows_matching' is not a valid regular expression"),
        ({"decimal_separator": ";"}, "'decimal_separator' must be"),
        ({"decimal_separator": ",", "thousands_separator": ","}, "'thousands_separator' must be"),
        ({"currency": "euro"}, "'currency' 'euro' is not an ISO 4217 code"),
        ({"account": "A", "account_from_preamble": "B(.*)"}, "either 'account' or 'account_from_preamble'"),
        ({"amount_sign": "flip"}, "'amount_sign' must be"),
        ({"date_format": "%d.%m.%Y", "date_formats": ["%d.%m.%Y"]}, "either 'date_format' or 'date_formats'"),
        ({"date_format": "dd-mm-yyyy"}, "has no strptime directive"),
        ({"date_format": "%m/%d"}, "has no year: add 'year_from_preamble'"),
        ({"columns": {}}, "a [columns] table is required"),
        ({"columns": {"amount": "Amount"}}, "[columns] booking_date is required"),
        ({"columns": {"booking_date": "Date"}}, "needs either 'amount' or both 'credit' and 'debit'"),
        ({"columns": {"booking_date": "Date", "amount": "A", "credit": "C", "debit": "D"}}, "needs either"),
        ({"columns": {"booking_date": "Date", "credit": "C"}}, "'credit' and 'debit' go together"),
        ({"columns": {"booking_date": "Date", "amount": "A", "payee": "P"}}, "unknown column key 'payee'"),
        (
            {"columns": {"booking_date": "Date", "amount": "A", "debit_credit_indicator": "DC"}},
            "needs 'credit_values'",
        ),
        ({"credit_values": ["C"], "debit_values": ["D"]}, "need [columns] debit_credit_indicator"),
        (
            {"currency": "EUR", "columns": {"booking_date": "D", "amount": "A", "currency": "C"}},
            "both fixed and as a column",
        ),
        ({"first_row_matches": "^x"}, "needs an explicit 'delimiter'"),
        ({"first_row_matches": "^x", "delimiter": ","}, "either 'header_contains' or 'first_row_matches'"),
    ],
)
def test_invalid_profiles_are_one_line_errors_naming_the_key(changes: dict, message: str) -> None:
    with pytest.raises(ProfileError) as info:
        profile_from_dict(make(**changes), "my.toml")
    text = str(info.value)
    assert text.startswith("profile my.toml: ")
    assert message in text, text
    assert "\n" not in text


def test_headerless_profile_takes_column_numbers() -> None:
    p = profile_from_dict(
        {
            "name": "h",
            "first_row_matches": "^\\d",
            "delimiter": ",",
            "columns": {"booking_date": 1, "amount": 3},
        },
        "t",
    )
    assert not p.has_header
    assert p.columns == {"booking_date": 0, "amount": 2}
    with pytest.raises(ProfileError, match="1-based numbers"):
        profile_from_dict(
            {
                "name": "h",
                "first_row_matches": "^\\d",
                "delimiter": ",",
                "columns": {"booking_date": "Date", "amount": 3},
            },
            "t",
        )


def test_tab_delimiter_may_be_written_escaped() -> None:
    assert profile_from_dict(make(delimiter="\\t"), "t").delimiter == "\t"


def test_load_profile_errors(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ProfileError, match=r"bad.toml: not valid TOML"):
        load_profile(bad)


def test_resolve_profile_by_builtin_name_or_path(tmp_path: Path) -> None:
    assert resolve_profile("knab").name == "knab"
    assert resolve_profile(FIXTURES / "nl-bank-af-bij.toml").name == "nl-bank-af-bij"
    assert resolve_profile(str(FIXTURES / "nl-bank-af-bij.toml")).name == "nl-bank-af-bij"
    with pytest.raises(ProfileError, match="neither a TOML file nor a built-in profile"):
        resolve_profile("no-such-bank")
    with pytest.raises(ProfileError, match="no such file"):
        resolve_profile(str(tmp_path / "nope.toml"))


def test_resolve_profiles_puts_the_users_first_without_duplicates() -> None:
    chosen = resolve_profiles([FIXTURES / "nl-bank-af-bij.toml", "knab"])
    names = [p.name for p in chosen]
    assert names[:2] == ["nl-bank-af-bij", "knab"]
    assert names.count("knab") == 1
    assert len(chosen) == len(builtin_profiles()) + 1


def test_module_docstring_documents_every_key() -> None:
    import parsers.profiles as module
    from parsers.profiles import _COLUMN_KEYS, _TOP_KEYS

    doc = module.__doc__ or ""
    for key in sorted(_TOP_KEYS | _COLUMN_KEYS):
        assert key in doc, f"key {key!r} is not documented in parsers/profiles.py"
