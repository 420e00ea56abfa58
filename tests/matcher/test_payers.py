"""Payer identification: accounts (master and learned), exact names and aliases, truncation, fuzzy names."""

from __future__ import annotations

import polars as pl

from matcher.payers import NameIndex, identify_payers
from matcher.settings import MatchSettings

S = MatchSettings()
CUSTOMERS = [
    ("C1", "Müller Maschinenbau GmbH", "name"),
    ("C2", "Van der Berg Handelsonderneming B.V.", "name"),
    ("C3", "深圳市华强电子有限公司", "name"),
    ("C4", "Dupont et Fils S.A.R.L.", "name"),
    ("C5", "Northwind Traders Limited", "name"),
    ("C5", "NWT Logistics", "alias"),
    ("C6", "Müller Anlagenbau GmbH", "name"),
    ("C7", "Mueller Maschinenbau Gesellschaft mit beschraenkter Haftung Werk Sued", "name"),
    ("C8", "Contoso Pharmaceuticals Inc.", "name"),
    ("C8", "CONTOSO PHARMA EUROPE", "learned-alias"),
]


def index() -> NameIndex:
    return NameIndex(CUSTOMERS, S)


def test_exact_name_with_noise() -> None:
    idx = index()
    assert idx.identify("MUELLER MASCHINENBAU G.M.B.H.").customers == ("C1",)
    assert idx.identify("van der berg handelsonderneming bv").customers == ("C2",)
    assert idx.identify("深圳市华强电子股份有限公司").customers == ("C3",)
    assert idx.identify("SARL DUPONT ET FILS").customers == ("C4",)


def test_alias_and_learned_alias() -> None:
    idx = index()
    p = idx.identify("NWT LOGISTICS LTD")
    assert p.customers == ("C5",) and p.by == "alias"
    p = idx.identify("Contoso Pharma Europe")
    assert p.customers == ("C8",) and p.by == "learned-alias"


def test_truncated_name() -> None:
    full = "MUELLER MASCHINENBAU GESELLSCHAFT MIT BESCHRAENKTER HAFTUNG WERK SUED"
    p = index().identify(full[:35])
    assert p is not None and p.customers == ("C7",) and p.by == "truncated-name"


def test_fuzzy_name_with_a_typo() -> None:
    p = index().identify("Northwnid Traders")
    assert p is not None and p.customers == ("C5",) and p.by == "fuzzy-name" and p.score >= S.fuzzy_threshold


def test_fuzzy_never_guesses_between_close_names() -> None:
    idx = NameIndex([("A", "Meyer Bau GmbH", "name"), ("B", "Meier Bau GmbH", "name")], S)
    assert idx.identify("Meer Bau") is None  # one letter from each: no guess


def test_unknown_name() -> None:
    assert index().identify("Completely Different Company") is None
    assert index().identify("") is None


def test_accounts_first_then_names() -> None:
    txns = pl.DataFrame({
        "txn": [0, 1, 2, 3],
        "counterparty_account": ["de02 1203 0000 0000 2020 51", "NL91ABNA0417164300", None, None],
        "counterparty_name": ["Somebody Else", "x", "MUELLER MASCHINENBAU", None],
        "ultimate_debtor": [None, None, None, "Dupont et Fils"],
    })
    accounts = pl.DataFrame({
        "customer_id": ["C1", "C2"], "account": ["DE02120300000000202051", "NL91ABNA0417164300"],
        "source": ["master", "learned"],
    })
    got = identify_payers(txns, accounts, index())
    assert got[0].customers == ("C1",) and got[0].by == "account"
    assert got[1].customers == ("C2",) and got[1].by == "learned-account"
    assert got[2].customers == ("C1",) and got[2].by == "name"
    assert got[3].customers == ("C4",)
