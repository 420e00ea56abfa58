"""Master data: validation names file, line and column; reloads update by key and respect postings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.db import transaction
from ledger.masterdata import LoadError, load_customers, load_invoices
from ledger.models import (
    BankAccount,
    BankTransaction,
    Customer,
    CustomerAccount,
    CustomerAlias,
    Invoice,
    StatementFile,
)
from ledger.models import Statement as StatementRow
from ledger.posting import AllocationLine, post

CUSTOMERS = (
    "customer_id,name,aliases,ibans,parent_id,credit_limit,payment_terms_days,country,segment\n"
    "C1,Müller GmbH,Mueller;Muller GmbH,DE89 3704 0044 0532 0130 00,,10000.00,30,DE,key\n"
    "C2,Müller Sub Ltd,,,C1,,14,gb,\n"
)
INVOICES = (
    "invoice_id,customer_id,issue_date,due_date,currency,amount,open_amount,reference,discount_pct,discount_until\n"
    "INV-1,C1,2026-10-01,2026-10-31,EUR,100.00,,RF18539007547034,2,2026-10-10\n"
    "INV-2,C2,2026-10-01,2026-10-31,eur,50.5,20,,,\n"
)


def write(tmp_path: Path, name: str, text: str, bom: bool = False) -> Path:
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return p


@pytest.fixture
def loaded(engine, tmp_path):  # type: ignore[no-untyped-def]
    load_customers(engine, write(tmp_path, "customers.csv", CUSTOMERS, bom=True))
    load_invoices(engine, write(tmp_path, "invoices.csv", INVOICES))
    return engine


def test_load_stores_customers_aliases_accounts_and_invoices(loaded) -> None:  # type: ignore[no-untyped-def]
    with transaction(loaded) as s:
        c1 = s.get(Customer, "C1")
        assert c1 is not None and c1.name == "Müller GmbH" and c1.credit_limit == Decimal("10000.00")
        assert c1.extra == {"segment": "key"}
        assert s.get(Customer, "C2").parent_id == "C1"  # type: ignore[union-attr]
        assert s.get(Customer, "C2").country == "GB"  # type: ignore[union-attr]
        assert sorted(a.alias for a in s.scalars(select(CustomerAlias))) == ["Mueller", "Muller GmbH"]
        assert [a.account for a in s.scalars(select(CustomerAccount))] == ["DE89370400440532013000"]
        inv1, inv2 = s.get(Invoice, "INV-1"), s.get(Invoice, "INV-2")
        assert inv1.open_amount == Decimal("100.00") and inv1.status == "open"  # type: ignore[union-attr]
        assert inv1.discount_pct == Decimal("2")  # type: ignore[union-attr]
        assert inv2.open_amount == Decimal("20.00") and inv2.status == "partly_paid"  # type: ignore[union-attr]
        assert inv2.currency == "EUR"  # type: ignore[union-attr]


def test_reload_updates_by_key_without_duplicates(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    changed = INVOICES.replace("INV-2,C2,2026-10-01,2026-10-31,eur,50.5,20", "INV-2,C2,2026-10-01,2026-11-15,EUR,50.5,10")
    result = load_invoices(loaded, write(tmp_path, "invoices2.csv", changed))
    assert (result.inserted, result.updated) == (0, 2)
    with transaction(loaded) as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 2
        inv2 = s.get(Invoice, "INV-2")
        assert inv2.open_amount == Decimal("10.00") and str(inv2.due_date) == "2026-11-15"  # type: ignore[union-attr]
    load_customers(loaded, write(tmp_path, "customers2.csv", CUSTOMERS))
    with transaction(loaded) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 2
        assert s.scalar(select(func.count()).select_from(CustomerAlias)) == 2


def _payment(s, amount: str) -> BankTransaction:  # type: ignore[no-untyped-def]
    acc = BankAccount(account="DE00OURS")
    s.add(acc)
    s.flush()
    sf = StatementFile(content_hash="x" * 64, file_name="f", format="test", size_bytes=1)
    s.add(sf)
    s.flush()
    st = StatementRow(file_id=sf.id, account_id=acc.id, kind="test")
    s.add(st)
    s.flush()
    txn = BankTransaction(statement_id=st.id, account_id=acc.id, line_key="k1", position=0,
                          booking_date=date(2026, 10, 20), amount=Decimal(amount), currency="EUR")
    s.add(txn)
    s.flush()
    return txn


def test_reload_never_reopens_what_recon_posted(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with transaction(loaded) as s:
        txn = _payment(s, "60.00")
        post(s, txn, [AllocationLine("INV-1", Decimal("60.00"))], actor="t", reason="manual", automatic=False)
    # The ERP still says 100 open (it does not know recon's posting): recon keeps 40 and reports it.
    result = load_invoices(loaded, write(tmp_path, "again.csv", INVOICES))
    assert result.disagreements == [{"invoice_id": "INV-1", "erp_open_amount": "100.00", "recon_open_amount": "40.00"}]
    with transaction(loaded) as s:
        inv = s.get(Invoice, "INV-1")
        assert inv.open_amount == Decimal("40.00") and inv.erp_open_amount == Decimal("100.00")  # type: ignore[union-attr]
        assert inv.status == "partly_paid"  # type: ignore[union-attr]
    # The ERP has booked it (40 open): agreement, nothing reported.
    synced = INVOICES.replace("EUR,100.00,,RF", "EUR,100.00,40.00,RF")
    assert load_invoices(loaded, write(tmp_path, "synced.csv", synced)).disagreements == []
    # An amount below what recon allocated is refused, naming line and column.
    shrunk = INVOICES.replace("EUR,100.00,,RF", "EUR,50.00,,RF")
    with pytest.raises(LoadError, match=r"shrunk.csv:2: amount: expected at least the 60.00"):
        load_invoices(loaded, write(tmp_path, "shrunk.csv", shrunk))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("INV-9,C1,01.10.2026,2026-10-31,EUR,1.00", r"bad.csv:3: issue_date: expected an ISO date"),
        ("INV-9,C1,2026-02-30,2026-10-31,EUR,1.00", r"bad.csv:3: issue_date: .*no such day"),
        ('INV-9,C1,2026-10-01,2026-10-31,EUR,"1,50"', r"bad.csv:3: amount: expected money as a decimal with '.'"),
        ("INV-9,C1,2026-10-01,2026-10-31,EUR,1.005", r"bad.csv:3: amount: expected money"),
        ("INV-9,C1,2026-10-01,2026-10-31,EUR,-5.00", r"bad.csv:3: amount: expected a positive amount"),
        ("INV-9,C9,2026-10-01,2026-10-31,EUR,1.00", r"bad.csv:3: customer_id: expected a known customer"),
        ("INV-9,C1,2026-10-01,2026-10-31,EURO,1.00", r"bad.csv:3: currency: expected an ISO 4217"),
        ("INV-9,,2026-10-01,2026-10-31,EUR,1.00", r"bad.csv:3: customer_id: a value is required"),
        ("INV-1,C1,2026-10-01,2026-10-31,EUR,1.00", r"bad.csv:3: invoice_id: 'INV-1' appears twice \(also on line 2\)"),
        ("INV-9,C1,2026-10-01,2026-10-31,EUR,1.00,x", r"bad.csv:3: .*expected 6 fields"),
    ],
)
def test_bad_invoice_file_is_rejected_whole(engine, tmp_path, row: str, message: str) -> None:  # type: ignore[no-untyped-def]
    load_customers(engine, write(tmp_path, "customers.csv", CUSTOMERS))
    text = "invoice_id,customer_id,issue_date,due_date,currency,amount\nINV-1,C1,2026-10-01,2026-10-31,EUR,5.00\n" + row + "\n"
    with pytest.raises(LoadError, match=message):
        load_invoices(engine, write(tmp_path, "bad.csv", text))
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 0  # nothing of the file stored


def test_missing_required_column(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LoadError, match=r"c.csv:1: name: required column missing"):
        load_customers(engine, write(tmp_path, "c.csv", "customer_id,country\nC1,DE\n"))


def test_unknown_parent_rejected(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LoadError, match=r"c.csv:2: parent_id: expected a known customer_id, got 'X'"):
        load_customers(engine, write(tmp_path, "c.csv", "customer_id,name,parent_id\nC1,A,X\n"))
