"""Stored invoice keys: written by the load, replaced by a reload, made up for by the match's refresh."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, select, text

from ledger import invoice_keys
from ledger.db import transaction
from ledger.masterdata import load_customers, load_invoices
from ledger.models import Invoice, InvoiceKey
from tests.ledger.test_masterdata import CUSTOMERS, INVOICES, write


def _keys(engine: Engine) -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    with transaction(engine) as s:
        for k in s.scalars(select(InvoiceKey)):
            out.setdefault(k.invoice_id, set()).add((k.key, k.rank))
    return out


def test_the_load_stores_every_form_of_the_number_and_the_reference(engine: Engine, tmp_path: Path) -> None:
    load_customers(engine, write(tmp_path, "customers.csv", CUSTOMERS))
    load_invoices(engine, write(tmp_path, "invoices.csv", INVOICES))
    keys = _keys(engine)
    assert ("RF18539007547034", 0) in keys["INV-1"]  # a valid RF reference, the strongest form
    assert ("INV2", 1) in keys["INV-2"]  # the number without separators (form "exact")
    with transaction(engine) as s:
        assert {i.keys_version for i in s.scalars(select(Invoice))} == {invoice_keys.KEYS_VERSION}
    with engine.connect() as conn:
        assert invoice_keys.refresh(conn) == 0  # nothing stale


def test_a_reload_replaces_the_keys_of_a_changed_reference(engine: Engine, tmp_path: Path) -> None:
    load_customers(engine, write(tmp_path, "customers.csv", CUSTOMERS))
    load_invoices(engine, write(tmp_path, "invoices.csv", INVOICES))
    load_invoices(engine, write(tmp_path, "again.csv", INVOICES.replace("RF18539007547034", "PO-778899")))
    keys = {k for k, _ in _keys(engine)["INV-1"]}
    assert "RF18539007547034" not in keys and "PO778899" in keys


def test_invoices_written_otherwise_are_keyed_by_the_refresh(engine: Engine) -> None:
    with transaction(engine) as s:
        s.execute(text("INSERT INTO customers (customer_id, name, created_at, updated_at) "
                       "VALUES ('C9', 'Nine', '2026-10-01', '2026-10-01')"))
        for inv, status in (("INV-2026-0042", "open"), ("INV-2026-0043", "cancelled")):
            s.add(Invoice(invoice_id=inv, customer_id="C9", issue_date=date(2026, 10, 1), due_date=date(2026, 10, 31),
                          currency="EUR", amount=Decimal("10.00"), open_amount=Decimal("10.00"),
                          erp_open_amount=Decimal("10.00"), status=status))
    with engine.begin() as conn:
        assert invoice_keys.refresh(conn) == 2
    with engine.begin() as conn:
        assert invoice_keys.refresh(conn) == 0
        found = invoice_keys.lookup(conn, pl.Series(["INV202642", "INV202643", "NOSUCHKEY"]))
        every = invoice_keys.lookup(conn, None)
    # the leading-zeros form names the open invoice; the cancelled one is never looked up
    assert found.select("invoice_id", "customer_id", "key").rows() == [("INV-2026-0042", "C9", "INV202642")]
    assert set(every["invoice_id"].to_list()) == {"INV-2026-0042"}


def test_a_database_from_before_the_keys_is_keyed_after_the_upgrade(db_url: str) -> None:
    from alembic import command

    from ledger.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (customer_id, name, created_at, updated_at) "
                          "VALUES ('C1', 'One', '2026-10-01', '2026-10-01')"))
        conn.execute(text(
            "INSERT INTO invoices (invoice_id, customer_id, issue_date, due_date, currency, amount, open_amount, "
            "erp_open_amount, status, created_at, updated_at) VALUES ('INV-2026-0007', 'C1', '2026-10-01', "
            "'2026-10-31', 'EUR', 10, 10, 10, 'open', '2026-10-01', '2026-10-01')"
        ))
    assert upgrade(engine) == ("0001", "0003")
    with engine.begin() as conn:
        assert invoice_keys.refresh(conn) == 1
    assert ("INV20267", 2) in _keys(engine)["INV-2026-0007"]
    engine.dispose()
