"""The match job behind ``recon match``: new transactions -> decisions -> postings, queue, set-asides.

1. **Snapshot** (one read): every transaction with status ``new`` in
   booking-date order, every invoice not cancelled (open amounts in integer
   cents), customers, their aliases and accounts (master and learned).
2. **Bulk stages** over whole columns (polars): reference keys of texts and
   invoices joined into hits (plus one-typo hits for lines without a hit),
   payer identification (accounts joined; names exact, truncated or fuzzy
   within blocks), ignore rules, amount-only candidates.
3. **Decisions**, one transaction at a time in booking-date order
   (:func:`matcher.decision.decide`), against open amounts that every posting
   reduces at once, so an invoice's open amount is never allocated twice in
   a run; a later payment for the same invoice finds it paid and is queued.
4. **Writes** in chunks through :mod:`ledger.bulk_posting`, each chunk one
   database transaction (all or nothing).  A crash leaves the chunks before it
   posted and the rest ``new``: the next run picks up exactly where it stopped.

Only ``new`` transactions are looked at: a queued one belongs to a person, and
an undone posting (queued ``reversed``) is never re-posted by the next run.
Running the job twice changes nothing the second time.  The job lock is the
caller's business (``recon match`` and ``recon run daily`` hold it).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Engine, String, cast, func, select, text

from ledger import invoice_keys
from ledger.bulk_posting import ChunkResult, PlainInvoice, to_json, write_plain
from ledger.db import fetch_frame, json_values, make_engine, transaction
from ledger.models import BankTransaction, Customer, CustomerAccount, CustomerAlias, Invoice, JobRun, utcnow
from ledger.posting import PostingError
from matcher.candidates import (
    amount_only_candidates,
    fold_text_keys,
    invoice_key_frame,
    raw_text_keys,
    reference_hits,
    typo_hits,
    typo_variants,
)
from matcher.decision import Decision, InvoiceBook, Payer, RefHit, TxnFacts, decide, to_decimal
from matcher.ignore import ignore_reasons
from matcher.payers import NameIndex, identify_payers, name_rows
from matcher.settings import SettingsBook
from rules import Rules

log = logging.getLogger("recon.match")
CHUNK = 20_000
# Chunks grow (each twice the one before) up to this size: the first is written soon, so that writing
# overlaps deciding from the start, and a large run commits less often (on SQLite every commit
# writes out the pages the chunk changed: at a million decisions, 50 chunks of 20,000 spent 24 s in
# commits, 10 of 100,000 about half that).
MAX_CHUNK = 160_000
IN_FLIGHT = 2  # chunks handed to the writer at a time (see _decide_and_write)
PROCESS_WRITER_FROM = 50_000  # transactions from which the chunks are written by a second process
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Progress = Callable[[int, int], None]


@dataclass
class MatchSummary:
    """What one run did, for the command's summary and the daily job's JSON."""

    considered: int = 0
    posted: int = 0
    posted_amount: Decimal = Decimal("0.00")
    allocations: int = 0
    queued: int = 0
    queued_by_reason: dict[str, int] = field(default_factory=dict)
    ignored: int = 0
    ignored_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    job_run_id: int | None = None
    writer_seconds: float = 0.0  # time the chunks took to write, wall and CPU (for the log, not the summary)
    writer_cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: money as a string, reasons sorted by count."""
        return {
            "considered": self.considered,
            "posted": self.posted,
            "posted_amount": str(self.posted_amount),
            "allocations": self.allocations,
            "queued": self.queued,
            "queued_by_reason": dict(sorted(self.queued_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "ignored": self.ignored,
            "ignored_by_reason": dict(sorted(self.ignored_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "seconds": round(self.seconds, 2),
            "job_run_id": self.job_run_id,
        }


def _cents(col: Any) -> Any:
    return cast(func.round(col * 100), BigInteger)


def _rows_frame(engine: Engine, stmt: Any, schema: dict[str, Any]) -> pl.DataFrame:
    """Rows of ``stmt`` as a frame (compiled once, read through the driver: :func:`ledger.db.fetch_frame`)."""
    with engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        return fetch_frame(conn, str(compiled), schema)


def _as_date(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return df.with_columns(
        [pl.col(c).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False) for c in cols if df.schema[c] == pl.String]
    )


def load_transactions(engine: Engine) -> pl.DataFrame:
    """Every ``new`` transaction, booking-date order; amounts in cents; ``txn`` = position in that order."""
    t = BankTransaction
    stmt = (
        select(
            t.id, cast(t.booking_date, String), cast(t.value_date, String), _cents(t.amount), t.currency,
            t.counterparty_name, t.counterparty_account, t.ultimate_debtor, t.remittance, t.creditor_reference,
            t.end_to_end_id, t.bank_code,
        )
        .where(t.status == "new")
        .order_by(t.booking_date, t.id)
    )
    schema = {
        "id": pl.Int64, "booking_date": pl.String, "value_date": pl.String, "amount_cents": pl.Int64,
        "currency": pl.String, "counterparty_name": pl.String,
        "counterparty_account": pl.String, "ultimate_debtor": pl.String, "remittance": pl.String,
        "creditor_reference": pl.String, "end_to_end_id": pl.String, "bank_code": pl.String,
    }
    df = _rows_frame(engine, stmt, schema)
    df = _as_date(df, "booking_date", "value_date")
    return df.with_row_index("txn").with_columns(pl.col("txn").cast(pl.Int64))


@dataclass
class Relevant:
    """The invoices a run can touch, when it is small beside the book: those its texts name, those of
    the customers involved, and those whose open amount equals a payment without payer or reference."""

    invoice_ids: list[str]
    customers: list[str]
    amounts: list[int]  # cents


def load_invoices(engine: Engine, relevant: Relevant | None = None, *, references: bool = False) -> pl.DataFrame:
    """Every invoice that is not cancelled (paid ones too: a second payment must be recognised), or
    only the ``relevant`` ones; ``inv`` = position in invoice id order (the same relative order either way).
    ``references``: with the ``reference`` column."""
    i = Invoice
    stmt = select(
        i.invoice_id, i.customer_id, i.currency, _cents(i.amount), _cents(i.open_amount),
        cast(func.round(i.discount_pct * 10000), BigInteger), cast(i.discount_until, String), cast(i.due_date, String),
        *([i.reference] if references else []),
    ).where(i.status != "cancelled")
    if relevant is not None:
        with engine.connect() as conn:
            parts = [
                f"invoices.invoice_id IN {json_values(conn, relevant.invoice_ids)}" if relevant.invoice_ids else None,
                f"invoices.customer_id IN {json_values(conn, relevant.customers)}" if relevant.customers else None,
                (f"(invoices.open_amount > 0 AND CAST(round(invoices.open_amount * 100) AS BIGINT) IN "
                 f"{json_values(conn, relevant.amounts)})") if relevant.amounts else None,
            ]
        parts = [x for x in parts if x]
        stmt = stmt.where(text("(" + " OR ".join(parts) + ")") if parts else text("1 = 0"))
    schema = {
        "invoice_id": pl.String, "customer_id": pl.String, "currency": pl.String, "amount_cents": pl.Int64,
        "open_cents": pl.Int64, "discount_e4": pl.Int64, "discount_until": pl.String, "due_date": pl.String,
        **({"reference": pl.String} if references else {}),
    }
    # sorted here, not by the database: PostgreSQL sorts text by its collation, polars by code point
    df = _as_date(_rows_frame(engine, stmt, schema), "discount_until", "due_date").sort("invoice_id")
    return df.with_row_index("inv").with_columns(pl.col("inv").cast(pl.Int64))


def build_book(invoices: pl.DataFrame, customers: pl.DataFrame) -> InvoiceBook:
    """The invoices as the decision reads them (cents and date ordinals in Python lists)."""
    df = invoices.select(
        "invoice_id", "customer_id", pl.col("currency").fill_null(""), "amount_cents", "open_cents",
        # discount = gross amount * pct / 100, rounded half up to the cent, in integers (pct has 4 decimals)
        ((pl.col("amount_cents") * pl.col("discount_e4").fill_null(0) + 500_000) // 1_000_000).alias("discount"),
        (pl.col("discount_until").cast(pl.Int32).fill_null(-_EPOCH_ORDINAL) + _EPOCH_ORDINAL).alias("until"),
        (pl.col("due_date").cast(pl.Int32).fill_null(-_EPOCH_ORDINAL) + _EPOCH_ORDINAL).alias("due"),
    )
    parents = {
        c: p for c, p in customers.select("customer_id", "parent_id").iter_rows() if p
    }
    return InvoiceBook(
        ids=df["invoice_id"].to_list(),
        customer=df["customer_id"].to_list(),
        currency=df["currency"].to_list(),
        amount=df["amount_cents"].to_list(),
        open=df["open_cents"].to_list(),
        discount=df["discount"].to_list(),
        discount_until=df["until"].to_list(),
        due=df["due"].to_list(),
        parent=parents,
    ).finish()


def _load_master(engine: Engine) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    customers = _rows_frame(
        engine, select(Customer.customer_id, Customer.name, Customer.parent_id),
        {"customer_id": pl.String, "name": pl.String, "parent_id": pl.String},
    )
    aliases = _rows_frame(
        engine, select(CustomerAlias.customer_id, CustomerAlias.alias, CustomerAlias.source),
        {"customer_id": pl.String, "alias": pl.String, "source": pl.String},
    )
    accounts = _rows_frame(
        engine, select(CustomerAccount.customer_id, CustomerAccount.account, CustomerAccount.source),
        {"customer_id": pl.String, "account": pl.String, "source": pl.String},
    )
    # in a fixed order, not the order the database keeps rows in (PostgreSQL moves an updated row to the
    # end of its table): ties between names are broken by position, and must not change with it.  Sorted
    # here, not by the database, whose text order follows its collation.
    return (customers.sort("customer_id"), aliases.sort("customer_id", "alias", "source"),
            accounts.sort("customer_id", "account", "source"))


@dataclass
class Facts:
    """The bulk stages' findings, per transaction position."""

    hits: dict[int, list[RefHit]]
    payers: dict[int, Payer]
    ignore: dict[int, str]
    amount_only: dict[int, list[int]]


# A run looks up only the invoices it can touch when it has fewer transactions than this fraction
# of the invoices (a day against a large book); otherwise it reads the whole book, which is cheaper
# than a lookup of nearly everything.  Both give the same decisions (tests/matcher/test_determinism.py).
RELEVANT_FRACTION = 0.1


def find_facts(engine: Engine, txns: pl.DataFrame, customers: pl.DataFrame, aliases: pl.DataFrame,
               accounts: pl.DataFrame, settings_book: SettingsBook, *,
               scope: str | None = None) -> tuple[Facts, pl.DataFrame]:
    """Run the bulk stages (references, payers, ignore rules, amount-only candidates); return the
    facts and the invoices they refer to (``inv`` positions).

    ``scope``: ``"all"`` reads every invoice, ``"relevant"`` only those the run can touch; by default
    the cheaper one (:data:`RELEVANT_FRACTION`).
    """
    s = settings_book.default
    t0 = time.monotonic()
    with engine.begin() as conn:
        n_invoices = conn.execute(select(func.count()).select_from(Invoice).where(Invoice.status != "cancelled")).scalar_one()
    if scope is None:
        scope = "relevant" if txns.height < RELEVANT_FRACTION * n_invoices else "all"
    # the name index is built (Python) while the references are looked up (polars and the database)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-match-names")
    index_f = pool.submit(NameIndex, name_rows(customers, aliases), s)
    try:
        texts = txns.select("txn", "remittance", "creditor_reference", "end_to_end_id")
        with engine.connect() as conn:
            raw_keys = raw_text_keys(texts)
            if scope == "relevant":
                inv_keys = invoice_keys.lookup(conn, raw_keys["key"])
                ik = inv_keys.select(pl.col("invoice_id").alias("inv"), "key", "rank")
            else:
                # the whole book: its keys made here from the references (the same function that made
                # the stored ones) cost less than reading the stored ones (1M invoices: 1.8 s against 4.2 s)
                invoices = load_invoices(engine, references=True)
                ik = invoice_key_frame(invoices.select("inv", "invoice_id", "reference")).join(
                    invoices.select("inv", "invoice_id"), on="inv"
                ).select(pl.col("invoice_id").alias("inv"), "key", "rank")
                invoices = invoices.drop("reference")
            txt_keys = fold_text_keys(raw_keys, ik)
            hits_df = reference_hits(txt_keys, ik)
            without = txns.filter(
                ~pl.col("txn").is_in(hits_df["txn"].unique().implode()) & (pl.col("amount_cents") > 0)
            )["txn"]
            if scope == "relevant":
                typo_keys = invoice_keys.lookup(conn, typo_variants(txt_keys, without))
                inv_keys = pl.concat([inv_keys, typo_keys])
                ik = typo_keys.select(pl.col("invoice_id").alias("inv"), "key", "rank")
        typos = typo_hits(txt_keys, ik, without)
        if typos.height:
            hits_df = pl.concat([hits_df, typos])
        log.info("references: %d hits (%d one-typo) in %.1fs", hits_df.height, typos.height, time.monotonic() - t0)

        t1 = time.monotonic()
        index = index_f.result()
    finally:
        pool.shutdown(wait=True)
    payers = identify_payers(
        txns.filter(pl.col("amount_cents") > 0).select(
            "txn", "counterparty_account", "counterparty_name", "ultimate_debtor"
        ),
        accounts,
        index,
    )
    log.info("payers: %d of %d identified in %.1fs", len(payers), txns.height, time.monotonic() - t1)

    ignore = ignore_reasons(
        txns.select("txn", "amount_cents", "counterparty_name", "remittance", "bank_code", "counterparty_account"),
        s.ignore_rules,
    )
    hit_txns = hits_df["txn"].unique()
    lonely = txns.filter(
        (pl.col("amount_cents") > 0)
        & ~pl.col("txn").is_in(hit_txns.implode())
        & ~pl.col("txn").is_in(list(payers.keys()))
    )

    t2 = time.monotonic()
    relevant = None
    if scope == "relevant":
        named = hits_df["inv"].unique().to_list()
        involved = set(inv_keys.filter(pl.col("invoice_id").is_in(named))["customer_id"].to_list())
        for p in payers.values():
            involved.update(p.customers)
        parents = dict(customers.select("customer_id", "parent_id").iter_rows())
        involved.update(c for c, parent in parents.items() if parent in involved)  # subsidiaries paid for
        relevant = Relevant(sorted(named), sorted(involved), sorted(set(lonely["amount_cents"].to_list())))
        invoices = load_invoices(engine, relevant)
        log.info("invoices: %d of %d read in %.1fs", invoices.height, n_invoices, time.monotonic() - t2)

    # (txn, invoice id) order; the positions joined in polars, the lists made from whole columns
    named = hits_df.sort("txn", "inv").join(
        invoices.select(pl.col("invoice_id").alias("inv"), pl.col("inv").alias("pos")), on="inv", maintain_order="left"
    )
    hits: dict[int, list[RefHit]] = {}
    last, current = None, None
    for txn, pos, form, found, fld in zip(named["txn"].to_list(), named["pos"].to_list(), named["form"].to_list(),
                                          named["found"].to_list(), named["field"].to_list(), strict=True):
        if txn != last:
            current = hits[txn] = []
            last = txn
        current.append(RefHit(pos, form, found, fld))  # type: ignore[union-attr]

    amount_only: dict[int, list[int]] = {}
    if lonely.height:
        cands = amount_only_candidates(lonely, invoices, s.max_amount_only_candidates)
        for txn, inv in cands.sort("txn", "inv").iter_rows():
            amount_only.setdefault(txn, []).append(inv)
    return Facts(hits, payers, ignore, amount_only), invoices


def _lean(d: Decision, tid: int, amount_cents: int, currency: str | None, book: InvoiceBook) -> tuple[Any, ...]:
    """A decision as :func:`ledger.bulk_posting.write_plain` takes it: plain values (cents, strings,
    the evidence already JSON text), cheap to hand to another process and to write."""
    ids = book.ids
    lines = [(ids[ln.inv], ln.cash, ln.adjustment, ln.adjustment_reason) for ln in d.lines]
    suggestions = [
        ([(ids[ln.inv], ln.cash, ln.adjustment, ln.adjustment_reason) for ln in group], str(to_decimal(conf)), reason,
         to_json(ev))
        for group, conf, reason, ev in d.suggestions
    ] if d.kind == "queue" else []
    # the evidence is encoded here: a string crosses to the writer process faster than a dict
    post = d.kind == "post"
    return (d.kind, tid, amount_cents, currency, d.reason, d.detail, d.customer_id,
            str(to_decimal(d.confidence)) if post else None, lines, to_json(d.evidence) if post else None,
            d.remainder, suggestions)


def run_match(engine: Engine, rules: Rules, *, actor: str = "recon", progress: Progress | None = None,
              chunk_size: int = CHUNK, scope: str | None = None, writer: str | None = None) -> MatchSummary:
    """Match every ``new`` transaction: post, queue or set aside; return what was done.

    ``progress(done, total)`` is called after every chunk written.  ``scope``: see :func:`find_facts`.
    ``writer``: ``"thread"`` or ``"process"``, who writes the chunks while the next is decided (by
    default a process for large runs on a database another process can open: see :func:`_writer`).
    """
    started = time.monotonic()
    summary = MatchSummary()
    settings_book = SettingsBook(rules)
    with transaction(engine) as session:
        run = JobRun(kind="match", actor=actor, started_at=utcnow(), status="running")
        session.add(run)
        session.flush()
        summary.job_run_id = run.id
    try:
        with few_collections():
            _run(engine, settings_book, actor, progress, chunk_size, summary, scope, writer)
    except BaseException:
        summary.seconds = time.monotonic() - started
        with transaction(engine) as session:
            row = session.get(JobRun, summary.job_run_id)
            if row is not None:
                row.status = "failed"
                row.finished_at = utcnow()
                row.summary = summary.as_dict()
        raise
    summary.seconds = time.monotonic() - started
    with transaction(engine) as session:
        row = session.get(JobRun, summary.job_run_id)
        if row is not None:
            row.status = "ok"
            row.finished_at = utcnow()
            row.summary = summary.as_dict()
    return summary


# Thresholds of the cyclic garbage collector while a run holds millions of objects: young objects
# are still collected (every 100,000 allocations), the whole heap almost never.
BULK_GC_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def few_collections() -> Iterator[None]:
    """Run the block with :data:`BULK_GC_THRESHOLDS`, then restore the collector's thresholds.

    A match holds its facts and invoice book (tens of millions of Python objects) for the whole
    run and allocates millions more.  With Python's default thresholds the collector walks that
    whole heap again every time it has grown by a quarter: measured on 1M transactions, 25 of 89
    seconds of the deciding process (pre-phase and decisions) went to collections that found
    nothing to free.  The run makes no garbage cycles of its own worth collecting sooner.
    """
    old = gc.get_threshold()
    gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _run(engine: Engine, settings_book: SettingsBook, actor: str, progress: Progress | None, chunk_size: int,
         summary: MatchSummary, scope: str | None, writer_kind: str | None) -> None:
    t0 = time.monotonic()
    txns = load_transactions(engine)
    summary.considered = txns.height
    if progress is not None:
        progress(0, txns.height)
    if txns.height == 0:
        return
    writer = _writer(engine, writer_kind, txns.height)
    if isinstance(writer, ProcessPoolExecutor):
        writer.submit(int)  # the writer process starts (a second of imports) while the snapshot is read
    try:
        _decide_and_write(engine, settings_book, actor, progress, chunk_size, summary, scope, txns, writer, t0)
    finally:
        writer.shutdown(wait=True, cancel_futures=True)


def _decide_and_write(engine: Engine, settings_book: SettingsBook, actor: str, progress: Progress | None,
                      chunk_size: int, summary: MatchSummary, scope: str | None, txns: pl.DataFrame,
                      writer: Executor, t0: float) -> None:
    with engine.begin() as conn:  # invoices written by other means than ``recon load invoices``
        keyed = invoice_keys.refresh(conn)
    customers, aliases, accounts = _load_master(engine)
    log.info("snapshot: %d transactions (%d invoices keyed) in %.1fs", txns.height, keyed, time.monotonic() - t0)
    facts, invoices = find_facts(engine, txns, customers, aliases, accounts, settings_book, scope=scope)
    book = build_book(invoices, customers)
    s_default = settings_book.default
    limit = s_default.four_eyes_limit_cents

    t2 = time.monotonic()
    # a small run in a few chunks too, so that writing overlaps deciding (not below 2,000: each chunk
    # is a database transaction of its own)
    chunk_size = min(chunk_size, max(2_000, txns.height // 4))
    max_chunk = max(chunk_size, MAX_CHUNK)
    first_chunk, decided_so_far = chunk_size, 0
    cols = txns.select(
        "txn", "id", "amount_cents", "currency", "booking_date", "value_date", "remittance", "creditor_reference",
        "end_to_end_id",
    )
    reserved: dict[int, int] = {}  # invoice position -> cents held by pending (four-eyes) allocations
    chunk: list[tuple[Any, ...]] = []
    chunk_start: dict[int, int] = {}  # invoice position -> open cents when the chunk began
    done = 0
    own_engine = None if isinstance(writer, ProcessPoolExecutor) else engine
    in_flight: deque[Future[ChunkResult]] = deque()
    token = uuid.uuid4().hex  # names this run to the writer (job run ids repeat across databases)
    waited = 0.0
    for txn, tid, amount_cents, currency, booking, value, remittance, cref, e2e in cols.iter_rows():
        facts_t = TxnFacts(
            tid, amount_cents, currency, booking, value,
            hits=facts.hits.get(txn, []), payer=facts.payers.get(txn),
            amount_only=facts.amount_only.get(txn, []), ignore=facts.ignore.get(txn),
            texts={"remittance": remittance, "creditor-reference": cref, "end-to-end-id": e2e},
        )
        s = s_default
        if settings_book.has_overrides:  # per-customer rules: those of the payer (or the named invoice's customer)
            who = facts_t.payer.customers[0] if facts_t.payer else (
                book.customer[facts_t.hits[0].inv] if facts_t.hits else None
            )
            s = settings_book.for_customer(who)
        decision = decide(facts_t, book, s)
        if decision.kind == "post":
            for ln in decision.lines:
                chunk_start.setdefault(ln.inv, book.open[ln.inv] + reserved.get(ln.inv, 0))
                book.open[ln.inv] -= ln.cash + ln.adjustment
                if s_default.four_eyes_limit_cents is not None and ln.adjustment > s_default.four_eyes_limit_cents:
                    # a pending line leaves the invoice open in the database until approved, but within
                    # this run it is reserved: it is not offered to a second payment
                    reserved[ln.inv] = reserved.get(ln.inv, 0) + ln.cash + ln.adjustment
        chunk.append(_lean(decision, tid, amount_cents, currency, book))
        if len(chunk) >= chunk_size:
            # the chunk is written by the writer while this thread decides the next.  Up to
            # IN_FLIGHT chunks are handed over, so that the writer finds the next one waiting when
            # it has committed one (handing a chunk to the writer process takes seconds); a failed
            # write stops the run before anything later is written (see _write)
            w = time.monotonic()
            while len(in_flight) >= IN_FLIGHT:
                done += _wait(in_flight.popleft(), progress, txns.height, done, summary)
            waited += time.monotonic() - w
            starts = {book.ids[i]: (book.amount[i], o, book.currency[i]) for i, o in chunk_start.items()}
            in_flight.append(writer.submit(_write, own_engine, chunk, starts, actor, summary.job_run_id, limit, token))
            chunk, chunk_start = [], {}
            # chunks grow (fewer, larger transactions), and shrink again towards the end: the last
            # chunk is written after deciding is done, so its size is the run's tail
            decided_so_far += chunk_size
            chunk_size = min(2 * chunk_size, max_chunk, max(first_chunk, (txns.height - decided_so_far) // 2))
    decided = time.monotonic() - t2
    if chunk:
        starts = {book.ids[i]: (book.amount[i], o, book.currency[i]) for i, o in chunk_start.items()}
        in_flight.append(writer.submit(_write, own_engine, chunk, starts, actor, summary.job_run_id, limit, token))
    while in_flight:
        done += _wait(in_flight.popleft(), progress, txns.height, done, summary)
    log.info("decided and wrote %d transactions in %.1fs (deciding done after %.1fs, of which %.1fs waiting "
             "for the writer; writing took %.1fs, %.1fs of it CPU)", done, time.monotonic() - t2, decided, waited,
             summary.writer_seconds, summary.writer_cpu_seconds)


def _writer(engine: Engine, kind: str | None, total: int) -> Executor:
    """Who writes the chunks: one thread, or one process with its own engine.

    Deciding and writing are both mostly Python, so a writer thread shares one core with the
    decisions (the interpreter lock); a process has the second core to itself, at the price of
    handing it each chunk (pickled: see :func:`_lean`) and of its start (about a second of imports).
    A process needs a database it can open by URL: a file or a server, not SQLite in memory.
    """
    url = engine.url
    shareable = url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")
    if kind is None:
        kind = "process" if shareable and total >= PROCESS_WRITER_FROM else "thread"
    if kind == "process" and shareable:
        # spawn, not fork: the parent holds polars' thread pool and open connections, neither of which
        # survives a fork; the URL is passed whole (its password and options such as a search_path)
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_writer_process_init,
                                   initargs=(url.render_as_string(hide_password=False),))
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-match-writer")


_PROCESS_ENGINE: Engine | None = None
# Runs (their tokens) a chunk of which failed to write, in the process that writes: the chunks
# already handed over after it are refused, so that nothing after a failed chunk is written.
_FAILED_RUNS: set[str] = set()


def _writer_process_init(url: str) -> None:
    global _PROCESS_ENGINE
    _PROCESS_ENGINE = make_engine(url)
    # a chunk arrives as millions of objects at once (unpickled): measured, 2.2 s for 160,000
    # decisions with the default thresholds of the collector, 0.4 s with these
    gc.set_threshold(*BULK_GC_THRESHOLDS)


def _write(engine: Engine | None, chunk: list[tuple[Any, ...]], starts: dict[str, tuple[int, int, str]], actor: str,
           job_run_id: int | None, limit: int | None, token: str = "") -> ChunkResult:
    """Write one chunk in one database transaction (in the writer thread, or the writer process with
    its own engine); ``starts``: invoice id -> (amount, open amount at the chunk's start, currency), cents."""
    engine = engine or _PROCESS_ENGINE
    if engine is None:
        raise RuntimeError("the match writer process has no database engine")
    if token and token in _FAILED_RUNS:  # an earlier chunk of this run failed: nothing after it is written
        raise PostingError("not written: an earlier chunk of this run failed")
    invoices = {
        invoice_id: PlainInvoice(amount_c, open_c, currency or None)
        for invoice_id, (amount_c, open_c, currency) in starts.items()
    }
    wall, cpu = time.monotonic(), time.thread_time()  # (the thread: a writer thread shares its process)
    try:
        with engine.begin() as conn:
            result = write_plain(conn, chunk, invoices, actor=actor, job_run_id=job_run_id, approval_limit=limit)
    except BaseException:
        if token:
            _FAILED_RUNS.add(token)
        raise
    result.seconds, result.cpu_seconds = time.monotonic() - wall, time.thread_time() - cpu
    return result


def _wait(pending: Future[ChunkResult] | None, progress: Progress | None, total: int, done: int,
          summary: MatchSummary) -> int:
    """Wait for the chunk being written (re-raising its error), count what it did; returns its size."""
    if pending is None:
        return 0
    res = pending.result()
    written = res.posted + res.pending + res.queued + res.ignored
    summary.writer_seconds += res.seconds
    summary.writer_cpu_seconds += res.cpu_seconds
    log.debug("chunk of %d written in %.1fs (%.1fs CPU)", written, res.seconds, res.cpu_seconds)
    summary.posted += res.posted
    summary.posted_amount += res.posted_amount
    summary.allocations += res.allocations
    summary.queued += res.queued + res.pending
    summary.ignored += res.ignored
    for k, v in res.queue_reasons.items():
        summary.queued_by_reason[k] = summary.queued_by_reason.get(k, 0) + v
    for k, v in res.ignore_reasons.items():
        summary.ignored_by_reason[k] = summary.ignored_by_reason.get(k, 0) + v
    if progress is not None:
        progress(done + written, total)
    return written
