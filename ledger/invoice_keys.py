"""The reference keys of invoices, stored (table ``invoice_keys``) and looked up.

A payment names its invoice in many forms (``INV-2026-0042``, ``inv 2026/42``,
``20260042``); :func:`matcher.candidates.invoice_key_frame` makes every key an
invoice can be named by.  Computing them for a million open invoices on every
match run cost 1.7 s of a 10,000-line day, so they are stored when invoices are
loaded and a day's run looks up only the keys its texts hold.

``invoices.keys_version`` says which version of the key rules an invoice was
keyed with; NULL means not yet (an invoice written by something other than
``recon load invoices``, or reloaded: the load resets it).  :func:`refresh`
keys whatever is missing or stale and runs at the start of every match, so
the stored keys are never behind the invoices.  Bump :data:`KEYS_VERSION`
whenever ``invoice_key_frame`` changes what it makes.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
from sqlalchemy import Connection

from ledger.db import bulk_write, fetch_frame, json_values
from matcher.candidates import invoice_key_frame

KEYS_VERSION = 1
_BATCH = 20_000
_REBUILD_FROM = 50_000
_SLICE = 200_000

KEY_SCHEMA = {"invoice_id": pl.String, "customer_id": pl.String, "key": pl.String, "rank": pl.Int8}


def store(conn: Connection, invoices: pl.DataFrame, *, replace: Iterable[str] = ()) -> int:
    """Store the keys of ``invoices`` (columns ``invoice_id``, ``reference``) in the caller's transaction.

    ``replace``: invoice ids whose old keys are deleted first (a reload).
    Returns the number of keys written.
    """
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        old = [(i,) for i in replace]
        for start in range(0, len(old), _BATCH):
            cursor.executemany(f"DELETE FROM invoice_keys WHERE invoice_id = {mark}", old[start:start + _BATCH])
    finally:
        cursor.close()
    if invoices.height == 0:
        return 0
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    # a large load into SQLite builds the invoice index once at the end instead of row by row (DDL is
    # transactional there: a failure restores it)
    rebuild = conn.dialect.name == "sqlite" and invoices.height >= _REBUILD_FROM
    written = 0
    try:
        if rebuild:
            cursor.execute("DROP INDEX ix_invoice_keys_invoice_id")
        # in slices, so that a million invoices' keys are never in memory at once (the load's 2 GiB)
        for start in range(0, invoices.height, _SLICE):
            part = invoices.slice(start, _SLICE).select("invoice_id", "reference").with_row_index("inv")
            # one row per (key, invoice) with its best form, in the order of the primary key
            keys = (
                invoice_key_frame(part.with_columns(pl.col("inv").cast(pl.Int64)))
                .join(part.select(pl.col("inv").cast(pl.Int64), "invoice_id"), on="inv")
                .select("key", "invoice_id", pl.col("rank").cast(pl.Int64)).sort("key", "invoice_id")
            )
            written += bulk_write(conn, "invoice_keys", ("key", "invoice_id", "rank"), keys.iter_rows(),
                                  converted=True)
        if rebuild:
            cursor.execute("CREATE INDEX ix_invoice_keys_invoice_id ON invoice_keys (invoice_id)")
    finally:
        cursor.close()
    return written


def refresh(conn: Connection) -> int:
    """Key every invoice whose keys are missing or stale (caller's transaction); returns how many."""
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f"SELECT invoice_id, reference FROM invoices WHERE keys_version IS NULL OR keys_version <> {mark}",
            (KEYS_VERSION,),
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return 0
    stale = pl.DataFrame(rows, schema={"invoice_id": pl.String, "reference": pl.String}, orient="row")
    ids = stale["invoice_id"].to_list()
    store(conn, stale, replace=ids)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        marks = [(KEYS_VERSION, i) for i in ids]
        for start in range(0, len(marks), _BATCH):
            cursor.executemany(f"UPDATE invoices SET keys_version = {mark} WHERE invoice_id = {mark}",
                               marks[start:start + _BATCH])
    finally:
        cursor.close()
    return len(ids)


def lookup(conn: Connection, keys: pl.Series | None) -> pl.DataFrame:
    """``invoice_id, customer_id, key, rank`` of the invoices that are not cancelled, under any of
    ``keys`` (all of them when ``keys`` is None)."""
    sql = (
        "SELECT k.invoice_id, i.customer_id, k.key, k.rank FROM invoice_keys k "
        "JOIN invoices i ON i.invoice_id = k.invoice_id WHERE i.status <> 'cancelled'"
    )
    if keys is not None:
        values = keys.drop_nulls().unique().sort().to_list()
        if not values:
            return pl.DataFrame(schema=KEY_SCHEMA)
        sql += " AND k.key IN " + json_values(conn, values)
    return fetch_frame(conn, sql, KEY_SCHEMA)
