"""Loading master data: ``customers.csv`` and ``invoices.csv`` as the contract defines them.

A file is validated whole before anything is written (polars over whole
columns, so a million invoices validate in seconds); the first bad value is
reported as ``file:line: column: what was expected`` and nothing of the file
is stored.  Loading again updates rows by key.

The reload rule for invoices (recon never silently undoes its own postings):
recon's open amount becomes the *lower* of the ERP's ``open_amount`` and the
invoice amount less what recon has allocated to it.  When the two disagree,
the ERP's figure is kept in ``erp_open_amount`` and the invoice is listed in
the load result as a disagreement for a person to look at.  An ERP amount
below what recon has already allocated rejects the file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, and_, bindparam, delete, func, select

from ledger import invoice_keys
from ledger.db import bulk_write, driver_value, transaction
from ledger.models import Allocation, Customer, CustomerAccount, CustomerAlias, Invoice, JobRun, utcnow
from ledger.posting import audit, compact_account

MONEY_RE = r"^-?[0-9]+(\.[0-9]{1,2})?$"
DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
INT_RE = r"^-?[0-9]+$"
CHUNK = 20_000
BULK_INDEX_THRESHOLD = 50_000

CUSTOMER_COLUMNS = ("customer_id", "name", "aliases", "ibans", "parent_id", "credit_limit", "payment_terms_days", "country")
CUSTOMER_KNOWN = (*CUSTOMER_COLUMNS, "email", "phone")
INVOICE_COLUMNS = (
    "invoice_id", "customer_id", "issue_date", "due_date", "currency", "amount", "open_amount", "reference",
    "discount_pct", "discount_until",
)


class LoadError(Exception):
    """A master-data file is rejected; the message is ``file:line: column: expected ...``."""


@dataclass
class LoadResult:
    """What a load did."""

    file: str
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    disagreements: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "kind": self.kind, "rows": self.rows, "inserted": self.inserted,
            "updated": self.updated, "disagreements": self.disagreements,
        }


# --- reading and validating -------------------------------------------------------------------------


def read_csv_strings(path: Path) -> pl.DataFrame:
    """Read a contract CSV as strings (UTF-8, optional BOM), cells trimmed, empty cells null."""
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{name}: cannot read the file: {exc.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise LoadError(f"{name}:1: the file is empty; expected a header row")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LoadError(f"{name}:{line}: not UTF-8 (byte {data[exc.start]:#x}); expected a UTF-8 file") from None
    try:
        df = pl.read_csv(io.BytesIO(data), infer_schema=False, has_header=True)
    except pl.exceptions.PolarsError as exc:
        shape = _csv_shape_error(data)
        raise LoadError(f"{name}:{shape}" if shape else f"{name}: not a valid CSV file: {str(exc).splitlines()[0]}") from None
    df = df.rename({c: c.strip().lower() for c in df.columns})
    return df.with_columns(pl.col(c).str.strip_chars(" \t").replace("", None) for c in df.columns)


def _csv_shape_error(data: bytes) -> str | None:
    """Find the first row whose field count differs from the header's (polars only says 'malformed')."""
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader, None)
    if header is None:
        return None
    for row in reader:
        if row and len(row) != len(header):
            return f"{reader.line_num}: (row): expected {len(header)} fields as in the header, found {len(row)}"
    return None


def _first_bad(df: pl.DataFrame, mask: pl.Expr) -> int | None:
    idx = df.select(pl.arg_where(mask).first()).item()
    return None if idx is None else int(idx)


def _require(df: pl.DataFrame, name: str, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise LoadError(f"{name}:1: {missing[0]}: required column missing (header has: {', '.join(df.columns)})")
    for col in required:
        bad = _first_bad(df, pl.col(col).is_null())
        if bad is not None:
            raise LoadError(f"{name}:{bad + 2}: {col}: a value is required")


def _check_pattern(df: pl.DataFrame, name: str, col: str, pattern: str, expected: str) -> None:
    if col not in df.columns:
        return
    bad = _first_bad(df, pl.col(col).is_not_null() & ~pl.col(col).str.contains(pattern))
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: {col}: expected {expected}, got {df[col][bad]!r}")


def _check_date(df: pl.DataFrame, name: str, col: str) -> None:
    if col not in df.columns:
        return
    _check_pattern(df, name, col, DATE_RE, "an ISO date YYYY-MM-DD")
    parsed = df.select(pl.col(col).str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("d"))["d"]
    bad = _first_bad(df.with_columns(parsed.alias("__d")), pl.col(col).is_not_null() & pl.col("__d").is_null())
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: {col}: expected an ISO date YYYY-MM-DD, got {df[col][bad]!r} (no such day)")


def _check_money(df: pl.DataFrame, name: str, col: str, positive: bool = False) -> None:
    _check_pattern(df, name, col, MONEY_RE, "money as a decimal with '.' and at most 2 decimals (e.g. 1234.50)")
    if positive and col in df.columns:
        bad = _first_bad(df, pl.col(col).is_not_null() & pl.col(col).str.starts_with("-"))
        if bad is not None:
            raise LoadError(f"{name}:{bad + 2}: {col}: expected a positive amount, got {df[col][bad]!r}")


def _check_unique(df: pl.DataFrame, name: str, col: str) -> None:
    bad = _first_bad(df, pl.col(col).is_duplicated())
    if bad is not None:
        value = df[col][bad]
        rows = df.select(pl.arg_where(pl.col(col) == value))[:, 0].to_list()
        raise LoadError(f"{name}:{rows[1] + 2}: {col}: {value!r} appears twice (also on line {rows[0] + 2})")


def _cents(col: str) -> pl.Expr:
    """A money string column as Int64 cents (exact: split at the point, never via float)."""
    s = pl.col(col)
    neg = s.str.starts_with("-")
    body = s.str.strip_prefix("-")
    whole = body.str.split_exact(".", 1).struct.field("field_0").cast(pl.Int64)
    frac = body.str.split_exact(".", 1).struct.field("field_1").fill_null("0").str.pad_end(2, "0").cast(pl.Int64)
    cents = whole * 100 + frac
    return pl.when(neg).then(-cents).otherwise(cents)


def _dec(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents).scaleb(-2)


def _extra_columns(df: pl.DataFrame, known: Sequence[str]) -> list[str]:
    return [c for c in df.columns if c not in known]


# --- customers --------------------------------------------------------------------------------------


def load_customers(engine: Engine, path: Path, actor: str = "recon") -> LoadResult:
    """Load or update ``customers.csv``; aliases and accounts from the file replace the master ones
    (learned ones are kept).  Rejects the whole file on the first bad value."""
    name = path.name
    df = read_csv_strings(path)
    _require(df, name, ("customer_id", "name"))
    _check_unique(df, name, "customer_id")
    _check_money(df, name, "credit_limit")
    _check_pattern(df, name, "payment_terms_days", INT_RE, "a whole number of days")
    _check_pattern(df, name, "country", r"^[A-Za-z]{2}$", "an ISO 3166 alpha-2 country code (e.g. DE)")
    ids = set(df["customer_id"].to_list())
    extra_cols = _extra_columns(df, CUSTOMER_KNOWN)
    result = LoadResult(file=str(path), kind="customers", rows=df.height)

    with transaction(engine) as session:
        existing = set(session.scalars(select(Customer.customer_id)))
        if "parent_id" in df.columns:
            known = ids | existing
            for i, (cid, parent) in enumerate(zip(df["customer_id"], df["parent_id"], strict=True)):
                if parent is None:
                    continue
                if parent == cid:
                    raise LoadError(f"{name}:{i + 2}: parent_id: a customer cannot be its own parent")
                if parent not in known:
                    raise LoadError(f"{name}:{i + 2}: parent_id: expected a known customer_id, got {parent!r}")
        now = utcnow()
        rows = []
        for rec in df.iter_rows(named=True):
            rows.append(
                {
                    "customer_id": rec["customer_id"],
                    "name": rec["name"],
                    "parent_id": None,  # set below, once every customer of the file exists
                    "credit_limit": _dec_str(rec.get("credit_limit")),
                    "payment_terms_days": int(rec["payment_terms_days"]) if rec.get("payment_terms_days") else None,
                    "country": rec["country"].upper() if rec.get("country") else None,
                    "email": rec.get("email"),
                    "phone": rec.get("phone"),
                    "extra": {c: rec[c] for c in extra_cols if rec.get(c) is not None} or None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        update_cols = ["name", "credit_limit", "payment_terms_days", "country", "email", "phone", "extra", "updated_at"]
        cols = list(rows[0]) if rows else []
        bulk_write(session.connection(), "customers", cols, ([r[c] for c in cols] for r in rows),
                   conflict_key="customer_id", update=update_cols, json_columns=("extra",))
        parents = [
            {"cid": r["customer_id"], "pid": p}
            for r, p in zip(rows, df["parent_id"] if "parent_id" in df.columns else [None] * len(rows), strict=True)
        ]
        table = Customer.__table__
        set_parent = table.update().where(table.c.customer_id == bindparam("cid")).values(parent_id=bindparam("pid"))
        for start in range(0, len(parents), CHUNK):
            session.execute(set_parent, parents[start : start + CHUNK])
        result.inserted = len(ids - existing)
        result.updated = len(ids & existing)

        # master aliases and accounts: replace the file's, keep the learned ones
        file_ids = list(ids)
        for start in range(0, len(file_ids), 5000):
            chunk = file_ids[start : start + 5000]
            session.execute(delete(CustomerAlias).where(and_(CustomerAlias.customer_id.in_(chunk), CustomerAlias.source == "master")))
            session.execute(delete(CustomerAccount).where(and_(CustomerAccount.customer_id.in_(chunk), CustomerAccount.source == "master")))
        aliases: list[dict[str, Any]] = []
        accounts: list[dict[str, Any]] = []
        seen_alias: set[tuple[str, str]] = set()
        seen_account: set[tuple[str, str]] = set()
        learned_alias = {(a, b) for a, b in session.execute(select(CustomerAlias.customer_id, CustomerAlias.alias))}
        learned_account = {(a, b) for a, b in session.execute(select(CustomerAccount.customer_id, CustomerAccount.account))}
        for rec in df.select([c for c in ("customer_id", "aliases", "ibans") if c in df.columns]).iter_rows(named=True):
            cid = rec["customer_id"]
            for alias in (rec.get("aliases") or "").split(";"):
                alias = alias.strip()
                if alias and (cid, alias) not in seen_alias and (cid, alias) not in learned_alias:
                    seen_alias.add((cid, alias))
                    aliases.append({"customer_id": cid, "alias": alias, "source": "master", "created_at": now})
            for iban in (rec.get("ibans") or "").split(";"):
                acc = compact_account(iban)
                if acc and (cid, acc) not in seen_account and (cid, acc) not in learned_account:
                    seen_account.add((cid, acc))
                    accounts.append({"customer_id": cid, "account": acc, "source": "master", "created_at": now})
        for start in range(0, len(aliases), CHUNK):
            session.execute(CustomerAlias.__table__.insert(), aliases[start : start + CHUNK])
        for start in range(0, len(accounts), CHUNK):
            session.execute(CustomerAccount.__table__.insert(), accounts[start : start + CHUNK])
        _record_load(session, actor, result)
    return result


def _dec_str(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- invoices ---------------------------------------------------------------------------------------


def load_invoices(engine: Engine, path: Path, actor: str = "recon") -> LoadResult:
    """Load or update ``invoices.csv`` (see the module docstring for the reload rule)."""
    name = path.name
    df = read_csv_strings(path)
    _require(df, name, ("invoice_id", "customer_id", "issue_date", "due_date", "currency", "amount"))
    _check_unique(df, name, "invoice_id")
    for col in ("issue_date", "due_date", "discount_until"):
        _check_date(df, name, col)
    _check_money(df, name, "amount", positive=True)
    _check_money(df, name, "open_amount", positive=True)
    _check_pattern(df, name, "currency", r"^[A-Za-z]{3}$", "an ISO 4217 currency code (e.g. EUR)")
    _check_pattern(df, name, "discount_pct", r"^[0-9]{1,2}(\.[0-9]{1,4})?$", "a percentage such as 2 or 2.5")
    for col in ("open_amount", "reference", "discount_pct", "discount_until"):
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    df = df.with_columns(
        _cents("amount").alias("amount_c"),
        pl.when(pl.col("open_amount").is_null()).then(_cents("amount")).otherwise(_cents("open_amount")).alias("erp_open_c"),
        pl.col("currency").str.to_uppercase(),
        pl.col("issue_date").str.strptime(pl.Date, "%Y-%m-%d"),
        pl.col("due_date").str.strptime(pl.Date, "%Y-%m-%d"),
        pl.col("discount_until").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    )
    bad = _first_bad(df, pl.col("amount_c") <= 0)
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: amount: expected a positive amount, got {df['amount'][bad]!r}")
    bad = _first_bad(df, pl.col("erp_open_c") > pl.col("amount_c"))
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: open_amount: expected at most the amount {df['amount'][bad]}, got {df['open_amount'][bad]!r}")
    bad = _first_bad(df, pl.col("due_date") < pl.col("issue_date"))
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: due_date: expected on or after issue_date {df['issue_date'][bad]}, got {df['due_date'][bad]}")
    bad = _first_bad(df, pl.col("discount_pct").is_not_null() & pl.col("discount_until").is_null())
    if bad is not None:
        raise LoadError(f"{name}:{bad + 2}: discount_until: expected a date when discount_pct is given")
    extra_cols = _extra_columns(df, (*INVOICE_COLUMNS, "amount_c", "erp_open_c"))
    result = LoadResult(file=str(path), kind="invoices", rows=df.height)

    with transaction(engine) as session:
        customers = pl.DataFrame({"customer_id": list(session.scalars(select(Customer.customer_id)))}, schema={"customer_id": pl.String})
        bad = _first_bad(df, ~pl.col("customer_id").is_in(customers["customer_id"].implode()))
        if bad is not None:
            raise LoadError(f"{name}:{bad + 2}: customer_id: expected a known customer (load customers first), got {df['customer_id'][bad]!r}")
        # What recon has allocated per invoice (posted and pending), in cents.
        allocated_rows = session.execute(
            select(Allocation.invoice_id, func.sum(Allocation.amount + Allocation.adjustment_amount))
            .where(Allocation.status != "reversed")
            .group_by(Allocation.invoice_id)
        ).all()
        existing_ids = pl.DataFrame(
            {"invoice_id": list(session.scalars(select(Invoice.invoice_id)))}, schema={"invoice_id": pl.String}
        )
        allocated = pl.DataFrame(
            {"invoice_id": [r[0] for r in allocated_rows], "alloc_c": [int(Decimal(r[1]) * 100) for r in allocated_rows]},
            schema={"invoice_id": pl.String, "alloc_c": pl.Int64},
        )
        df = df.join(allocated, on="invoice_id", how="left").with_columns(pl.col("alloc_c").fill_null(0))
        bad = _first_bad(df, pl.col("amount_c") < pl.col("alloc_c"))
        if bad is not None:
            raise LoadError(
                f"{name}:{bad + 2}: amount: expected at least the {_dec(df['alloc_c'][bad])} recon has already allocated "
                f"to {df['invoice_id'][bad]}, got {df['amount'][bad]!r}"
            )
        recon_view = pl.col("amount_c") - pl.col("alloc_c")
        df = df.with_columns(
            pl.min_horizontal(pl.col("erp_open_c"), recon_view).alias("open_c"),
            ((pl.col("alloc_c") > 0) & (pl.col("erp_open_c") != recon_view)).alias("disagrees"),
        )
        for rec in df.filter(pl.col("disagrees")).select("invoice_id", "erp_open_c", "open_c").iter_rows():
            result.disagreements.append(
                {"invoice_id": rec[0], "erp_open_amount": str(_dec(rec[1])), "recon_open_amount": str(_dec(rec[2]))}
            )
        df = df.with_columns(
            pl.when(pl.col("open_c") == 0).then(pl.lit("paid"))
            .when(pl.col("open_c") < pl.col("amount_c")).then(pl.lit("partly_paid"))
            .otherwise(pl.lit("open")).alias("status")
        )
        result.updated = df.join(existing_ids, on="invoice_id", how="semi").height
        result.inserted = df.height - result.updated
        now = str(driver_value(utcnow(), session.get_bind().dialect.name == "sqlite"))
        money_str = {c: _cents_to_str(c).alias(c) for c in ("amount_c", "open_c", "erp_open_c")}
        extra_json = (
            pl.struct(extra_cols).map_elements(_extra_json, return_dtype=pl.String) if extra_cols else pl.lit(None, dtype=pl.String)
        )
        # Values are converted to driver-ready strings over whole columns (dates ISO, money exact
        # decimal text): SQLAlchemy's per-row type processing costs more than the insert itself.
        frame = df.select(
            "invoice_id", "customer_id", pl.col("issue_date").dt.to_string("%Y-%m-%d"),
            pl.col("due_date").dt.to_string("%Y-%m-%d"), "currency", money_str["amount_c"], money_str["open_c"],
            money_str["erp_open_c"], "reference", "discount_pct", pl.col("discount_until").dt.to_string("%Y-%m-%d"),
            "status", extra_json.alias("extra"), pl.lit(now).alias("created_at"), pl.lit(now).alias("updated_at"),
            pl.lit(invoice_keys.KEYS_VERSION).alias("keys_version"),
        )
        cols = ["invoice_id", "customer_id", "issue_date", "due_date", "currency", "amount", "open_amount",
                "erp_open_amount", "reference", "discount_pct", "discount_until", "status", "extra", "created_at",
                "updated_at", "keys_version"]
        update_cols = [c for c in cols if c not in ("invoice_id", "created_at")]
        _bulk_upsert(session, "invoices", cols, "invoice_id", update_cols, frame)
        del frame
        # the reference keys the match looks invoices up by, stored with the invoices (a reload replaces them)
        reloaded = df.join(existing_ids, on="invoice_id", how="semi")["invoice_id"].to_list()
        invoice_keys.store(session.connection(), df.select("invoice_id", "reference"), replace=reloaded)
        _record_load(session, actor, result)
    return result


def _cents_to_str(col: str) -> pl.Expr:
    """Int64 cents as exact decimal text ('1234.50', '-0.05')."""
    c = pl.col(col)
    a = c.abs()
    sign = pl.when(c < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, (a // 100).cast(pl.String), pl.lit("."), (a % 100).cast(pl.String).str.pad_start(2, "0"))


def _extra_json(rec: dict[str, Any]) -> str | None:
    kept = {k: v for k, v in rec.items() if v is not None}
    return json.dumps(kept, ensure_ascii=False) if kept else None


def _bulk_upsert(session: Any, table: str, cols: Sequence[str], key: str, update: Sequence[str], frame: pl.DataFrame) -> None:
    """Upsert a frame of driver-ready values (see ``ledger.db.bulk_write``)."""
    conn = session.connection()
    cursor = conn.connection.driver_connection.cursor()
    # A large load into SQLite is about twice as fast when the secondary indexes are built once
    # at the end instead of row by row; DDL is transactional there, so a failure restores them.
    rebuild: list[str] = []
    if conn.dialect.name == "sqlite" and frame.height >= BULK_INDEX_THRESHOLD:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))
        for name, ddl in cursor.fetchall():
            if "UNIQUE" not in ddl.upper():
                cursor.execute(f'DROP INDEX "{name}"')
                rebuild.append(ddl)
    bulk_write(conn, table, cols, frame.iter_rows(), conflict_key=key, update=update, json_columns=("extra",),
               converted=True)
    for ddl in rebuild:
        cursor.execute(ddl)
    cursor.close()


def _record_load(session: Any, actor: str, result: LoadResult) -> None:
    now = utcnow()
    run = JobRun(kind=f"load-{result.kind}", actor=actor, started_at=now, finished_at=now, status="ok",
                 summary={k: v for k, v in result.as_dict().items() if k != "disagreements"}
                 | {"disagreements": len(result.disagreements)})
    session.add(run)
    session.flush()
    audit(session, actor, f"load-{result.kind}", entity="file", entity_id=Path(result.file).name[:64],
          detail={"rows": result.rows, "inserted": result.inserted, "updated": result.updated,
                  "disagreements": result.disagreements[:100]},
          job_run_id=run.id)
