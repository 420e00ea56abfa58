"""The schema: every table recon keeps, as SQLAlchemy 2 typed models.

Money is ``Numeric(18, 2)`` and ``Decimal`` in Python, never float.  The
constraints here guard what must never happen whatever the code does: an
allocation without its transaction or invoice, a negative or over-allocated
amount, the same statement line stored twice, two open queue items for one
transaction.

Natural keys: customers and invoices are keyed by the ERP's own ids
(``customer_id``, ``invoice_id``) so the export and the CLI speak the user's
language; everything recon creates has an integer surrogate ``id``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MONEY = Numeric(18, 2)
JSON_NULLABLE = JSON(none_as_null=True)  # Python None is SQL NULL, not the JSON text "null"
RATE = Numeric(9, 6)  # percentages, confidences

# Stable constraint names so that Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite needs INTEGER (not BIGINT) for an autoincrementing primary key.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Timezone-aware now, for every timestamp recon writes."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


# --- master data ----------------------------------------------------------------------------------


class Customer(Base):
    """A customer from the ERP (``customers.csv``)."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    credit_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(100))
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)  # extra CSV columns, kept
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    aliases: Mapped[list[CustomerAlias]] = relationship(back_populates="customer", cascade="all, delete-orphan")
    accounts: Mapped[list[CustomerAccount]] = relationship(back_populates="customer", cascade="all, delete-orphan")


class CustomerAlias(Base):
    """Another name a customer pays under: from master data, or learned from a person's decision."""

    __tablename__ = "customer_aliases"
    __table_args__ = (UniqueConstraint("customer_id", "alias"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16), default="master")  # master | learned
    learned_from_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="aliases")


class CustomerAccount(Base):
    """A bank account a customer pays from (IBAN or local number, compacted: no spaces, upper case)."""

    __tablename__ = "customer_accounts"
    __table_args__ = (UniqueConstraint("customer_id", "account"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"), index=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16), default="master")  # master | learned
    learned_from_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="accounts")


class Invoice(Base):
    """An open item from the ERP (``invoices.csv``) and what recon has settled of it.

    ``open_amount`` is recon's own view: the ERP's open amount at load time
    less what recon posted since.  ``erp_open_amount`` keeps what the last
    load said, so a disagreement can be shown instead of silently applied.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("open_amount >= 0", name="open_not_negative"),
        CheckConstraint("open_amount <= amount", name="open_within_amount"),
        CheckConstraint("status IN ('open', 'partly_paid', 'paid', 'cancelled')", name="status_known"),
        Index("ix_invoices_customer_id", "customer_id"),  # not the status: a settled invoice stays in place
    )

    invoice_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    open_amount: Mapped[Decimal] = mapped_column(MONEY)
    erp_open_amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    discount_pct: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    discount_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # the version of the reference keys stored for this invoice in ``invoice_keys`` (NULL: not keyed
    # yet, or its reference changed: a reload resets it); see :mod:`ledger.invoice_keys`
    keys_version: Mapped[int | None] = mapped_column(SmallInteger)


class InvoiceKey(Base):
    """A key under which a payment's text can name an invoice (``matcher.candidates.invoice_key_frame``).

    Stored when invoices are loaded, so that a day's match looks up the keys its
    texts hold instead of computing them for every open invoice on every run.
    """

    __tablename__ = "invoice_keys"
    __table_args__ = ({"sqlite_with_rowid": False},)  # the primary key is the table: lookups by key, appends in key order

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(
        ForeignKey("invoices.invoice_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    rank: Mapped[int] = mapped_column(SmallInteger)  # the key form, best first (matcher.candidates.FORMS)


class BankAccount(Base):
    """One of our own bank accounts, as statements name it."""

    __tablename__ = "bank_accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), unique=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- imported statements --------------------------------------------------------------------------


class StatementFile(Base):
    """A file that was imported; its content hash makes a second import of the same bytes a no-op."""

    __tablename__ = "statement_files"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    statements: Mapped[int] = mapped_column(Integer, default=0)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list[Any] | None] = mapped_column(JSON_NULLABLE)
    job_run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id"))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Statement(Base):
    """One statement of one account within an imported file, with its balances and warnings."""

    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("statement_files.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    statement_ref: Mapped[str | None] = mapped_column(String(100))
    sequence: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str | None] = mapped_column(String(3))
    opening_balance: Mapped[Decimal | None] = mapped_column(MONEY)
    opening_date: Mapped[date | None] = mapped_column(Date)
    closing_balance: Mapped[Decimal | None] = mapped_column(MONEY)
    closing_date: Mapped[date | None] = mapped_column(Date, index=True)
    first_booking_date: Mapped[date | None] = mapped_column(Date)
    last_booking_date: Mapped[date | None] = mapped_column(Date)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list[Any] | None] = mapped_column(JSON_NULLABLE)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within its file


TRANSACTION_STATUSES = ("new", "posted", "queued", "ignored", "unapplied")


class BankTransaction(Base):
    """One statement line.

    ``line_key`` says when two lines are the same: a hash of the account and
    the line's content (dates, amount, currency, bank reference, counterparty,
    text) plus the occurrence number of that content within its file, so two
    identical lines in one file stay two, while the same line delivered again
    in an overlapping statement is recognised.  The bank reference alone is
    never trusted (``NONREF``, empty, counters restarting per statement).

    ``status``: ``new`` (not yet matched), ``posted`` (fully settled by
    allocations and/or unapplied cash), ``queued`` (waiting for a person),
    ``ignored`` (not a customer payment, or a debit).
    """

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("account_id", "line_key"),
        CheckConstraint("status IN ('new', 'posted', 'queued', 'ignored')", name="status_known"),
        # The schema's own guard that a payment is never allocated beyond its amount (house rule:
        # checked in code and guarded in the schema); ledger/posting.py and ledger/bulk_posting.py
        # keep settled_amount equal to the live allocations' cash plus open unapplied cash.
        CheckConstraint(
            "settled_amount >= 0 AND settled_amount <= CASE WHEN amount > 0 THEN amount ELSE 0 END",
            name="settled_within_amount",
        ),
        # Only the new transactions are looked up by status (the match job's snapshot, in booking
        # order): partial, so that a decided transaction leaves the index and enters nothing.
        Index("ix_bank_transactions_new", "booking_date", "id",
              sqlite_where=text("status = 'new'"), postgresql_where=text("status = 'new'")),
        Index("ix_bank_transactions_bank_reference", "bank_reference"),
        # Partial: every imported line starts without a payer, and a lookup by customer
        # (customer_id = x) implies NOT NULL, so the NULLs would only cost each import.
        Index("ix_bank_transactions_customer_id", "customer_id",
              sqlite_where=text("customer_id IS NOT NULL"), postgresql_where=text("customer_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"))  # indexed by uq(account_id, line_key)
    line_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)  # index within its statement
    bank_reference: Mapped[str | None] = mapped_column(String(200))
    booking_date: Mapped[date] = mapped_column(Date, index=True)
    value_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    counterparty_name: Mapped[str | None] = mapped_column(String(300))
    counterparty_account: Mapped[str | None] = mapped_column(String(64))
    counterparty_bic: Mapped[str | None] = mapped_column(String(16))
    ultimate_debtor: Mapped[str | None] = mapped_column(String(300))
    remittance: Mapped[str | None] = mapped_column(Text)
    creditor_reference: Mapped[str | None] = mapped_column(String(64))
    end_to_end_id: Mapped[str | None] = mapped_column(String(100))
    bank_code: Mapped[str | None] = mapped_column(String(40))
    raw: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"))  # identified payer; partial index above
    ignore_reason: Mapped[str | None] = mapped_column(String(100))
    # cash of this payment applied to invoices (posted or awaiting approval) or held as unapplied cash
    settled_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- decisions ------------------------------------------------------------------------------------

ALLOCATION_STATUSES = ("posted", "pending_approval", "reversed")


class Allocation(Base):
    """Part of a transaction applied to an invoice (plus an adjustment that closes the rest).

    ``amount`` is cash; ``adjustment_amount`` is what the allocation closes on
    the invoice beyond the cash (an early-payment discount, bank charges
    within tolerance, a write-off) with ``adjustment_reason``.  A reversed
    allocation stays, with ``status = 'reversed'``, for the audit trail.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("adjustment_amount >= 0", name="adjustment_not_negative"),
        CheckConstraint("amount + adjustment_amount > 0", name="allocates_something"),
        CheckConstraint("status IN ('posted', 'pending_approval', 'reversed')", name="status_known"),
        CheckConstraint(
            "adjustment_amount = 0 OR adjustment_reason IN ('discount', 'bank-charges', 'write-off')",
            name="adjustment_has_reason",
        ),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        Index("ix_allocations_transaction_status", "transaction_id", "status"),
        Index("ix_allocations_invoice_status", "invoice_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"), nullable=False)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_id"), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    adjustment_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    adjustment_reason: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="posted")
    confidence: Mapped[Decimal] = mapped_column(RATE, default=Decimal("1"))
    reason: Mapped[str] = mapped_column(String(40))  # e.g. reference+amount, name+amount, multi-invoice, manual
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)
    automatic: Mapped[bool] = mapped_column(Boolean, default=True)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id"))


class UnappliedCash(Base):
    """Cash received from a customer that no invoice (yet) absorbs: an overpayment's surplus, or
    a payment assigned to a customer before its invoice is known."""

    __tablename__ = "unapplied_cash"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('open', 'applied', 'reversed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id"), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str] = mapped_column(String(40))  # overpayment | on-account
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


QUEUE_REASONS = (
    "no-candidate",
    "ambiguous",
    "amount-mismatch",
    "unknown-payer",
    "possible-duplicate",
    "overpayment",
    "low-confidence",
    "currency-mismatch",
    "pending-approval",
    "reversed",
)


class QueueItem(Base):
    """A transaction that needs a person, with why.  At most one open item per transaction."""

    __tablename__ = "queue_items"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved', 'dismissed')", name="status_known"),
        Index("ix_queue_items_status_reason", "status", "reason"),
        # one open item per transaction (partial unique index works on SQLite and PostgreSQL)
        Index(
            "uq_queue_items_open_transaction",
            "transaction_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("bank_transactions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(Text)  # the reason in plain words
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id"))  # suspected payer
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="recon")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)
    job_run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id"))

    suggestions: Mapped[list[Suggestion]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="(Suggestion.rank, Suggestion.id)"
    )


class Suggestion(Base):
    """One invoice line of a ranked suggestion; a suggestion (one ``rank``) may span several invoices."""

    __tablename__ = "suggestions"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("adjustment_amount >= 0", name="adjustment_not_negative"),
        Index("ix_suggestions_item_rank", "queue_item_id", "rank"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    queue_item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)  # 1 = best
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_id"), nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    adjustment_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    adjustment_reason: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[Decimal] = mapped_column(RATE)
    reason: Mapped[str] = mapped_column(String(40))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)

    item: Mapped[QueueItem] = relationship(back_populates="suggestions")


class AuditEntry(Base):
    """Append-only trail of every decision: who, when, what, before and after.

    The migration installs triggers that refuse UPDATE and DELETE on this
    table on both SQLite and PostgreSQL.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        # Partial: most entries (a transaction's own state, set-asides, the queue) name no invoice, and
        # a lookup by invoice (invoice_id = x) implies NOT NULL.
        Index("ix_audit_log_invoice_id", "invoice_id",
              sqlite_where=text("invoice_id IS NOT NULL"), postgresql_where=text("invoice_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))  # post, queue, ignore, accept, allocate, dismiss, unmatch, approve, load ...
    transaction_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)
    job_run_id: Mapped[int | None] = mapped_column(BigInteger)


class JobRun(Base):
    """One run of a job (load, import, match, daily), with its summary."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | failed | partial
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON_NULLABLE)


class JobLock(Base):
    """A named lock row for jobs that must not run twice at once (SQLite; PostgreSQL also uses advisory locks)."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
