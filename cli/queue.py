"""``recon queue``: the payments the matcher could not settle on its own, and a person's decisions on them.

An item is identified by its transaction's id (the id recon shows everywhere:
here, in ``recon audit`` and for ``recon unmatch``), or by the bank reference
as in the export.  Every decision goes through ``ledger.posting`` in one
database transaction, records who decided (``--user``, else ``$RECON_USER``,
else the login name) and when, and teaches the matcher the payer's account
and name for the customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from cli.common import (
    EXIT_REJECTED,
    ReconError,
    current_user,
    db_option,
    echo_json,
    format_option,
    guarded,
    open_engine,
    user_option,
)
from cli.decisions import compact_account, find_transaction, fmt_money, fmt_time, print_table
from ledger import posting
from ledger.db import transaction
from ledger.models import (
    QUEUE_REASONS,
    Allocation,
    BankAccount,
    BankTransaction,
    Customer,
    CustomerAccount,
    Invoice,
    QueueItem,
    Suggestion,
    UnappliedCash,
)
from ledger.posting import ADJUSTMENT_REASONS, AllocationLine, PostingError
from rules import RulesError, load_rules

ZERO = Decimal("0")


# --- reading the queue ----------------------------------------------------------------------------


@dataclass
class SuggestionView:
    """One ranked suggestion: its invoice lines and why."""

    rank: int
    confidence: Decimal
    reason: str
    evidence: dict[str, Any]
    lines: list[Suggestion] = field(default_factory=list)

    @property
    def cash(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)

    def label(self) -> str:
        """``INV-1+INV-2 (0.82)``: the best suggestion in a table cell."""
        return "+".join(ln.invoice_id for ln in self.lines) + f" ({_conf(self.confidence)})"

    def as_dict(self, txn_amount: Decimal) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "confidence": self.confidence,
            "reason": self.reason,
            "invoices": [
                {
                    "invoice_id": ln.invoice_id,
                    "amount": ln.amount,
                    "adjustment_amount": ln.adjustment_amount,
                    "adjustment_reason": ln.adjustment_reason,
                }
                for ln in self.lines
            ],
            "unapplied": max(txn_amount - self.cash, ZERO),
            "evidence": self.evidence,
        }


@dataclass
class QueueRow:
    """An open queue item with its transaction, our account and its suggestions."""

    item: QueueItem
    txn: BankTransaction
    account: str
    customer_name: str | None
    suggestions: list[SuggestionView]
    age_days: int

    @property
    def best(self) -> SuggestionView | None:
        return self.suggestions[0] if self.suggestions else None

    def as_dict(self) -> dict[str, Any]:
        t = self.txn
        return {
            "id": t.id,
            "queue_item": self.item.id,
            "reason": self.item.reason,
            "detail": self.item.detail,
            "queued_at": fmt_time(self.item.created_at).replace(" ", "T") + "Z",
            "booking_date": t.booking_date,
            "age_days": self.age_days,
            "account": self.account,
            "amount": t.amount,
            "currency": t.currency,
            "bank_reference": t.bank_reference,
            "counterparty_name": t.counterparty_name,
            "counterparty_account": t.counterparty_account,
            "remittance": t.remittance,
            "customer_id": self.item.customer_id or t.customer_id,
            "customer_name": self.customer_name,
            "suggestions": [s.as_dict(t.amount) for s in self.suggestions],
        }


def _conf(value: Decimal | float | None) -> str:
    if value is None:
        return ""
    return f"{Decimal(str(value)):.2f}"


def _group_suggestions(lines: Sequence[Suggestion]) -> list[SuggestionView]:
    groups: dict[int, SuggestionView] = {}
    for ln in sorted(lines, key=lambda s: (s.rank, s.id)):
        view = groups.get(ln.rank)
        if view is None:
            view = groups[ln.rank] = SuggestionView(ln.rank, ln.confidence, ln.reason, ln.evidence or {})
        view.lines.append(ln)
    return [groups[r] for r in sorted(groups)]


def open_queue(
    session: Session,
    *,
    reasons: Sequence[str] = (),
    account: str | None = None,
    customer: str | None = None,
    min_amount: Decimal | None = None,
    max_amount: Decimal | None = None,
    min_age: int | None = None,
    max_age: int | None = None,
    as_of: date | None = None,
    transaction_ids: Sequence[int] | None = None,
) -> list[QueueRow]:
    """The open queue items that pass every given filter (age in days since the booking date)."""
    today = as_of or date.today()
    query = (
        select(QueueItem, BankTransaction, BankAccount.account, Customer.name)
        .join(BankTransaction, BankTransaction.id == QueueItem.transaction_id)
        .join(BankAccount, BankAccount.id == BankTransaction.account_id)
        .outerjoin(Customer, Customer.customer_id == func.coalesce(QueueItem.customer_id, BankTransaction.customer_id))
        .where(QueueItem.status == "open")
    )
    if transaction_ids is not None:
        query = query.where(QueueItem.transaction_id.in_(list(transaction_ids)))
    if reasons:
        query = query.where(QueueItem.reason.in_(list(reasons)))
    if account:
        query = query.where(BankAccount.account == compact_account(account))
    if min_amount is not None:
        query = query.where(BankTransaction.amount >= min_amount)
    if max_amount is not None:
        query = query.where(BankTransaction.amount <= max_amount)
    if min_age is not None:
        query = query.where(BankTransaction.booking_date <= date.fromordinal(today.toordinal() - min_age))
    if max_age is not None:
        query = query.where(BankTransaction.booking_date >= date.fromordinal(today.toordinal() - max_age))
    if customer:
        suggested_for = exists().where(
            Suggestion.queue_item_id == QueueItem.id,
            Suggestion.invoice_id == Invoice.invoice_id,
            Invoice.customer_id == customer,
        )
        query = query.where(
            or_(QueueItem.customer_id == customer, BankTransaction.customer_id == customer, suggested_for)
        )
    rows = session.execute(query).all()
    by_item: dict[int, list[Suggestion]] = defaultdict(list)
    ids = [r[0].id for r in rows]
    txn_ids = [r[1].id for r in rows]
    decided: set[int] = set()  # a decision waits for approval: the matcher's suggestions are history
    for start in range(0, len(ids), 1000):
        for sug in session.scalars(select(Suggestion).where(Suggestion.queue_item_id.in_(ids[start:start + 1000]))):
            by_item[sug.queue_item_id].append(sug)
        decided.update(session.scalars(select(Allocation.transaction_id).where(
            Allocation.transaction_id.in_(txn_ids[start:start + 1000]), Allocation.status != "reversed")))
    return [
        QueueRow(item, txn, acct, name,
                 [] if txn.id in decided else _group_suggestions(by_item.get(item.id, [])),
                 (today - txn.booking_date).days)
        for item, txn, acct, name in rows
    ]


SORT_KEYS = {
    "date": lambda r: (r.txn.booking_date, r.txn.id),
    "age": lambda r: (r.age_days, r.txn.id),
    "amount": lambda r: (r.txn.amount, r.txn.id),
    "reason": lambda r: (r.item.reason, r.txn.booking_date, r.txn.id),
    "customer": lambda r: (r.item.customer_id or r.txn.customer_id or "\uffff", r.txn.booking_date, r.txn.id),
    "confidence": lambda r: (r.best.confidence if r.best else Decimal(-1), r.txn.id),
    "id": lambda r: r.txn.id,
}


# --- evidence in plain words ----------------------------------------------------------------------

FORM_WORDS = {
    "rf": "a valid RF creditor reference",
    "exact": "exactly",
    "leading-zeros": "with leading zeros dropped or added",
    "digits-only": "its digits only",
    "typo": "with one wrong digit (weak)",
}
PAYER_WORDS = {
    "account": "the account it pays from is {cust}'s (master data)",
    "learned-account": "the account it pays from was confirmed for {cust} in an earlier decision",
    "name": "the payer's name is {cust}'s name",
    "alias": "the payer's name is an alias of {cust}",
    "learned-alias": "the payer's name was confirmed for {cust} in an earlier decision",
    "truncated-name": "the payer's name, cut short by the bank, is the start of {cust}'s name",
    "fuzzy-name": "the payer's name is similar to {cust}'s",
}


def evidence_words(evidence: dict[str, Any], currency: str | None = None) -> list[str]:
    """The matcher's evidence (``matcher/decision.py``) as sentences an accountant can check."""
    ev = dict(evidence or {})
    out: list[str] = []
    cur = f" {currency}" if currency else ""
    refs = ev.pop("reference", None)
    for ref in refs if isinstance(refs, list) else [refs] if refs else []:
        where = ref.get("in") or "text"
        form = FORM_WORDS.get(ref.get("match"), ref.get("match") or "")
        out.append(f"the {where} names invoice {ref.get('invoice')}: {ref.get('found')!r} ({form})")
    amount = ev.pop("amount", None)
    if isinstance(amount, dict):
        paid, expected, kind = amount.get("paid"), amount.get("expected"), amount.get("match")
        diff = amount.get("difference")
        adj = amount.get("adjustment")
        adj_reason = amount.get("adjustment_reason")
        sentences = {
            "exact": f"{paid}{cur} paid is exactly the open amount",
            "discount": f"{paid}{cur} paid is the open {expected} less the early-payment discount of {adj}",
            "bank-charges": f"{paid}{cur} paid is {adj} short of the open {expected}: bank charges within tolerance",
            "partial": f"{paid}{cur} paid is part of the open {expected}; the invoice stays partly open",
            "overpayment": f"{paid}{cur} paid is more than the open {expected}; "
                           f"{diff} would stay as unapplied cash on the customer's account",
            "currency": f"{paid} paid in another currency than the invoice's open {expected}",
            "multi": f"{paid}{cur} paid is the sum of the open amounts of the invoices named",
            "subset": f"{paid}{cur} paid is the sum of the open amounts of these invoices (none named)",
            "amount-only": f"only the amount fits: {paid}{cur} paid, {expected} open",
        }
        text = sentences.get(kind, f"{paid}{cur} paid, {expected} open ({kind})")
        if kind not in ("discount", "bank-charges") and adj:
            text += f"; {adj} closed as {adj_reason}"
        if kind in ("exact", "multi", "subset") and diff not in (None, "0", "0.00"):
            text += f" (difference {diff})"
        out.append(text)
        parts = amount.get("invoices")
        if isinstance(parts, dict) and parts:
            out.append("open amounts: " + ", ".join(f"{inv} {amt}" for inv, amt in parts.items()))
    payer = ev.pop("payer", None)
    if isinstance(payer, dict):
        by = payer.get("by")
        if by in (None, "none"):
            out.append("the payer is not known (no customer's account, name or alias matches)")
        else:
            cust = payer.get("customer_id") or "a customer"
            text = PAYER_WORDS.get(by, f"the payer is {{cust}} (by {by})").format(cust=cust)
            if payer.get("score") is not None and by in ("fuzzy-name", "truncated-name"):
                text += f" (similarity {payer['score']})"
            out.append(text)
            if payer.get("pays_for"):
                out.append(f"{cust} pays for {payer['pays_for']}, whose invoice it is")
            if payer.get("invoice_customer"):
                out.append(f"but the invoice belongs to another customer, {payer['invoice_customer']}")
    currency_ev = ev.pop("currency", None)
    if isinstance(currency_ev, dict):
        out.append(f"the invoice is in {currency_ev.get('invoice')} ({currency_ev.get('open')} open), "
                   f"the payment in {currency_ev.get('paid')} ({currency_ev.get('payment')}): "
                   "recon never posts across currencies")
    when = ev.pop("date", None)
    if isinstance(when, dict) and when.get("days_after_due") is not None:
        days = int(when["days_after_due"])
        if days == 0:
            out.append(f"paid on the due date ({when.get('due')})")
        elif days > 0:
            out.append(f"paid {days} day(s) after the due date {when.get('due')}")
        else:
            out.append(f"paid {-days} day(s) before the due date {when.get('due')}")
    if ev.pop("unique", True) is False:
        out.append("another candidate fits about as well: this is a question for a person")
    conf = ev.pop("confidence", None)
    if isinstance(conf, dict):
        out.append(f"confidence {conf.get('total')} (reference {conf.get('reference')}, payer {conf.get('payer')})")
    for key, value in ev.items():
        if value not in (None, "", [], {}):
            out.append(f"{key.replace('_', ' ')}: {value}")
    return out


# --- deciding -------------------------------------------------------------------------------------


def parse_money(text: str, what: str) -> Decimal:
    """A money value as the contract writes it (``1234.50``); refuse anything else with one line."""
    cleaned = text.strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ReconError(f"{what}: {text!r} is not an amount (write it like 1234.50)") from None
    if not value.is_finite() or "," in cleaned or value != value.quantize(Decimal("0.01")):
        raise ReconError(f"{what}: {text!r} is not an amount in cents (write it like 1234.50)")
    if value < 0:
        raise ReconError(f"{what}: {text!r} must not be negative")
    return value.quantize(Decimal("0.01"))


def four_eyes_limit(rules_path: str | None) -> Decimal | None:
    """``[posting] four_eyes_limit`` of the rules (None: no limit)."""
    try:
        rules = load_rules(rules_path)
    except RulesError as exc:
        raise ReconError(str(exc)) from None
    value = rules.get("posting.four_eyes_limit")
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ReconError(f"{rules.source}: posting.four_eyes_limit {value!r} is not an amount") from None


def _describe_posting(session: Session, txn: BankTransaction, limit: Decimal | None) -> dict[str, Any]:
    """What a decision left: the allocations, the invoices' new state, unapplied cash, what waits."""
    allocations = posting.active_allocations(session, txn.id)
    cash = list(session.scalars(select(UnappliedCash).where(
        UnappliedCash.transaction_id == txn.id, UnappliedCash.status == "open")))
    lines = []
    for a in allocations:
        inv = session.get(Invoice, a.invoice_id)
        lines.append({
            "invoice_id": a.invoice_id,
            "amount": a.amount,
            "adjustment_amount": a.adjustment_amount,
            "adjustment_reason": a.adjustment_reason,
            "status": a.status,
            "invoice_open_amount": inv.open_amount if inv else None,
            "invoice_status": inv.status if inv else None,
        })
    return {
        "transaction": txn.id,
        "bank_reference": txn.bank_reference,
        "amount": txn.amount,
        "currency": txn.currency,
        "status": txn.status,
        "customer_id": txn.customer_id,
        "allocations": lines,
        "unapplied_cash": [{"customer_id": c.customer_id, "amount": c.amount, "reason": c.reason} for c in cash],
        "waiting_for_approval": any(a.status == "pending_approval" for a in allocations),
        "four_eyes_limit": limit,
    }


def _echo_outcome(result: dict[str, Any], actor: str, verb: str) -> None:
    cur = result.get("currency") or ""
    click.echo(f"transaction {result['transaction']} ({fmt_money(result['amount'])} {cur}): {verb} by {actor}")
    for ln in result["allocations"]:
        adj = (f" + {fmt_money(ln['adjustment_amount'])} {ln['adjustment_reason']}"
               if ln["adjustment_amount"] else "")
        if ln["status"] == "pending_approval":
            state = "waits for approval; invoice unchanged"
        else:
            state = f"invoice now {fmt_money(ln['invoice_open_amount'])} open ({ln['invoice_status']})"
        click.echo(f"  {ln['invoice_id']}: {fmt_money(ln['amount'])}{adj} -> {state}")
    for c in result["unapplied_cash"]:
        click.echo(f"  {fmt_money(c['amount'])} on {c['customer_id']}'s account as unapplied cash ({c['reason']})")
    if result["waiting_for_approval"]:
        click.echo(f"  an adjustment above the four-eyes limit of {fmt_money(result['four_eyes_limit'])} waits for "
                   f"another person: recon queue approve {result['transaction']} --user SOMEONE-ELSE")


def _decide(ctx: click.Context, db_url: str | None, ident: str, account: str | None, fmt: str, actor: str,
            verb: str, decide: Any, limit: Decimal | None = None) -> None:
    """Find the transaction, run ``decide(session, txn, item)`` in one database transaction, report."""
    engine = open_engine(ctx, db_url)
    with transaction(engine) as s:
        txn = find_transaction(s, ident, account)
        item = posting.open_queue_item(s, txn.id)
        try:
            decide(s, txn, item)
        except PostingError as exc:
            raise ReconError(str(exc), EXIT_REJECTED) from None
        result = _describe_posting(s, txn, limit)
        result["by"] = actor
    if fmt == "json":
        echo_json(result)
    else:
        _echo_outcome(result, actor, verb)


def _ident_options(command: Any) -> Any:
    return click.option("--account", metavar="ACCOUNT",
                        help="Our account, when ID is a bank reference that stands on two accounts.")(command)


rules_option = click.option("--rules", "rules_path", type=click.Path(dir_okay=False), metavar="FILE",
                            help="Rules file (for posting.four_eyes_limit; default: the shipped rules).")


# --- the command group ----------------------------------------------------------------------------


class _InOrder(click.Group):
    """Lists the verbs in the order of work (list, show, decide), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group("queue", cls=_InOrder, short_help="The exception queue: list, show and decide by hand.")
def queue() -> None:
    """The exception queue: payments that need a person, and the decisions on them.

    \b
    A working session:
      recon queue list                       # what waits, oldest first
      recon queue show 1042                  # the line as the bank wrote it, the evidence, the payer's invoices
      recon queue accept 1042                # take suggestion 1 (or --suggestion 2)
      recon queue allocate 1043 --invoice INV-7 --amount 400.00 --invoice INV-9 --amount 85.00
      recon queue assign 1044 --customer C1001   # on account: the invoice is not known yet
      recon queue dismiss 1045 --reason "tax refund, not a customer payment"
      recon queue approve 1046 --user bob    # four eyes: a second person approves a large adjustment
    """


@queue.command("list", short_help="List the open queue (filters, sorting, JSON).")
@click.option("--reason", "reasons", multiple=True, type=click.Choice(QUEUE_REASONS), metavar="REASON",
              help="Only items queued for this reason (repeatable): " + ", ".join(QUEUE_REASONS) + ".")
@click.option("--account", metavar="ACCOUNT", help="Only payments into this account of ours.")
@click.option("--customer", metavar="CUSTOMER_ID",
              help="Only items that may concern this customer (suspected payer or a suggested invoice).")
@click.option("--min-age", type=click.IntRange(min=0), metavar="DAYS", help="Booked at least DAYS days ago.")
@click.option("--max-age", type=click.IntRange(min=0), metavar="DAYS", help="Booked at most DAYS days ago.")
@click.option("--min-amount", metavar="X", help="Amount at least X (e.g. 1000.00).")
@click.option("--max-amount", metavar="X", help="Amount at most X.")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Count ages from this day (default: today).")
@click.option("--sort", type=click.Choice(list(SORT_KEYS)), default="date", show_default=True,
              help="Order: booking date, age, amount, reason, customer, best suggestion's confidence, or id.")
@click.option("--desc", is_flag=True, help="Reverse the order (e.g. --sort amount --desc: largest first).")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="Show at most N items (0: all).")
@db_option
@format_option("table", "json")
@click.pass_context
@guarded
def list_cmd(ctx: click.Context, reasons: tuple[str, ...], account: str | None, customer: str | None,
             min_age: int | None, max_age: int | None, min_amount: str | None, max_amount: str | None,
             as_of: datetime | None, sort: str, desc: bool, limit: int, db_url: str | None, fmt: str) -> None:
    """List the open exception queue: one item per payment that needs a person.

    ID is the transaction's id, used by `show`, `accept`, `allocate`,
    `dismiss`, `assign`, `approve` and by `recon unmatch`.  AGE is in days
    since the booking date.  BEST is the top suggestion and its confidence.

    \b
    Examples:
      recon queue list
      recon queue list --reason ambiguous --reason amount-mismatch --sort amount --desc
      recon queue list --customer C1001 --min-age 30
      recon queue list --min-amount 10000 --format json | jq '.[].id'
    """
    lo = parse_money(min_amount, "--min-amount") if min_amount else None
    hi = parse_money(max_amount, "--max-amount") if max_amount else None
    engine = open_engine(ctx, db_url)
    with transaction(engine) as s:
        rows = open_queue(s, reasons=reasons, account=account, customer=customer, min_amount=lo, max_amount=hi,
                          min_age=min_age, max_age=max_age, as_of=as_of.date() if as_of else None)
    rows.sort(key=SORT_KEYS[sort], reverse=desc)
    total = len(rows)
    if limit:
        rows = rows[:limit]
    if fmt == "json":
        echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        click.echo("the queue is empty" if not any((reasons, account, customer, min_age, max_age, lo, hi))
                   else "no queue item matches")
        return
    amount_sum = sum((r.txn.amount for r in rows), ZERO)
    shown = f"{len(rows)} of {total}" if limit and total > len(rows) else str(total)
    print_table(
        ["ID", "booked", ("age", "right"), "account", ("amount", "right"), "cur", "payer", "reason", "customer",
         "best suggestion", "text"],
        [
            (r.txn.id, r.txn.booking_date, r.age_days, r.account, fmt_money(r.txn.amount), r.txn.currency or "",
             (r.txn.counterparty_name or "")[:30], r.item.reason,
             r.item.customer_id or r.txn.customer_id or "", r.best.label() if r.best else "",
             (r.txn.remittance or "")[:40])
            for r in rows
        ],
        caption=f"{shown} item(s), {fmt_money(amount_sum)} in all. Next: recon queue show ID",
    )


@queue.command("show", short_help="One payment: bank text, evidence, the payer's invoices.")
@click.argument("ident", metavar="ID")
@_ident_options
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def show(ctx: click.Context, ident: str, account: str | None, db_url: str | None, fmt: str) -> None:
    """Show one payment: the line as the bank wrote it, why it waits, each suggestion and its evidence
    in plain words, and the payer's other open invoices.

    \b
    Examples:
      recon queue show 1042
      recon queue show 2026110200123 --account DE89370400440532013000
    """
    engine = open_engine(ctx, db_url)
    with transaction(engine) as s:
        txn = find_transaction(s, ident, account)
        data = _show_data(s, txn)
    if fmt == "json":
        echo_json(data)
    else:
        _print_show(data)


def _payer_customers(session: Session, txn: BankTransaction, item: QueueItem | None,
                     suggestions: list[SuggestionView]) -> list[str]:
    ids: list[str] = []
    for cid in (item.customer_id if item else None, txn.customer_id):
        if cid:
            ids.append(cid)
    acct = posting.compact_account(txn.counterparty_account)
    if acct:
        ids.extend(session.scalars(select(CustomerAccount.customer_id).where(CustomerAccount.account == acct)))
    for sug in suggestions:
        for ln in sug.lines:
            inv = session.get(Invoice, ln.invoice_id)
            if inv is not None:
                ids.append(inv.customer_id)
    return list(dict.fromkeys(ids))


def _show_data(session: Session, txn: BankTransaction) -> dict[str, Any]:
    item = posting.open_queue_item(session, txn.id)
    active = posting.active_allocations(session, txn.id)
    # once a person has decided (an allocation waits for approval) the matcher's suggestions are history
    suggestions = _group_suggestions(item.suggestions) if item and not active else []
    acct = session.get(BankAccount, txn.account_id)
    customers = _payer_customers(session, txn, item, suggestions)
    suggested = {ln.invoice_id for sug in suggestions for ln in sug.lines} | {a.invoice_id for a in active}
    others = []
    names = {}
    for cid in customers[:5]:
        cust = session.get(Customer, cid)
        names[cid] = cust.name if cust else None
        invs = session.scalars(
            select(Invoice).where(Invoice.customer_id == cid, Invoice.status.in_(("open", "partly_paid")))
            .order_by(Invoice.due_date, Invoice.invoice_id).limit(50)
        )
        for inv in invs:
            if inv.invoice_id in suggested:
                continue
            others.append({
                "invoice_id": inv.invoice_id, "customer_id": cid, "due_date": inv.due_date, "currency": inv.currency,
                "amount": inv.amount, "open_amount": inv.open_amount, "status": inv.status, "reference": inv.reference,
            })
    allocations = [
        {"invoice_id": a.invoice_id, "amount": a.amount, "adjustment_amount": a.adjustment_amount,
         "adjustment_reason": a.adjustment_reason, "status": a.status, "decided_by": a.decided_by,
         "decided_at": fmt_time(a.decided_at), "reason": a.reason, "automatic": a.automatic}
        for a in active
    ]
    cash = [{"customer_id": c.customer_id, "amount": c.amount, "reason": c.reason} for c in session.scalars(
        select(UnappliedCash).where(UnappliedCash.transaction_id == txn.id, UnappliedCash.status == "open"))]
    return {
        "id": txn.id,
        "status": txn.status,
        "ignore_reason": txn.ignore_reason,
        "queue": None if item is None else {
            "queue_item": item.id, "reason": item.reason, "detail": item.detail,
            "queued_at": fmt_time(item.created_at), "queued_by": item.created_by, "customer_id": item.customer_id,
        },
        "transaction": {
            "account": acct.account if acct else None,
            "booking_date": txn.booking_date,
            "value_date": txn.value_date,
            "amount": txn.amount,
            "currency": txn.currency,
            "bank_reference": txn.bank_reference,
            "counterparty_name": txn.counterparty_name,
            "counterparty_account": txn.counterparty_account,
            "counterparty_bic": txn.counterparty_bic,
            "ultimate_debtor": txn.ultimate_debtor,
            "remittance": txn.remittance,
            "creditor_reference": txn.creditor_reference,
            "end_to_end_id": txn.end_to_end_id,
            "bank_code": txn.bank_code,
            "raw": txn.raw,
        },
        "suggestions": [
            sug.as_dict(txn.amount) | {"evidence_text": evidence_words(sug.evidence, txn.currency)}
            for sug in suggestions
        ],
        "allocations": allocations,
        "unapplied_cash": cash,
        "payer_customers": [{"customer_id": c, "name": names.get(c)} for c in customers[:5]],
        "other_open_invoices": others,
    }


def _print_show(d: dict[str, Any]) -> None:
    t = d["transaction"]
    cur = t["currency"] or ""
    q = d["queue"]
    head = f"Transaction {d['id']}: {fmt_money(t['amount'])} {cur} booked {t['booking_date']}"
    if q:
        head += f", in the queue since {q['queued_at']} UTC (reason: {q['reason']})"
    else:
        head += f", status {d['status']}" + (f" ({d['ignore_reason']})" if d["ignore_reason"] else "")
    click.echo(head)
    if q and q["detail"]:
        click.echo(f"  {q['detail']}")
    click.echo("")
    click.echo("As the bank wrote it")
    fields = [
        ("account", t["account"]), ("booked", t["booking_date"]), ("value date", t["value_date"]),
        ("amount", f"{fmt_money(t['amount'])} {cur}"), ("bank reference", t["bank_reference"]),
        ("payer", t["counterparty_name"]), ("payer account", t["counterparty_account"]),
        ("payer BIC", t["counterparty_bic"]), ("ultimate debtor", t["ultimate_debtor"]),
        ("remittance", t["remittance"]), ("creditor ref", t["creditor_reference"]),
        ("end-to-end id", t["end_to_end_id"]), ("bank code", t["bank_code"]),
    ]
    for label, value in fields:
        if value not in (None, ""):
            click.echo(f"  {label:<16}{value}")
    if t["raw"]:
        click.echo("  raw:")
        for line in str(t["raw"]).splitlines():
            click.echo(f"    {line}")
    click.echo("")
    if d["suggestions"]:
        click.echo("Suggestions (best first)")
        for sug in d["suggestions"]:
            parts = []
            for ln in sug["invoices"]:
                adj = Decimal(str(ln["adjustment_amount"]))
                parts.append(f"{ln['invoice_id']} {fmt_money(Decimal(str(ln['amount'])))}"
                             + (f" + {fmt_money(adj)} {ln['adjustment_reason']}" if adj else ""))
            click.echo(f"  {sug['rank']}. {', '.join(parts)}   confidence {_conf(sug['confidence'])} ({sug['reason']})")
            for sentence in sug["evidence_text"]:
                click.echo(f"       - {sentence}")
            left = Decimal(str(sug["unapplied"]))
            if left > 0 and not any("unapplied cash" in sentence for sentence in sug["evidence_text"]):
                click.echo(f"       - accepting it leaves {fmt_money(left)} as unapplied cash on the customer's account")
    elif q and not d["allocations"]:
        click.echo("No suggestion: recon found no invoice this payment fits.")
    if d["allocations"]:
        click.echo("Decided")
        for a in d["allocations"]:
            adj = f" + {fmt_money(a['adjustment_amount'])} {a['adjustment_reason']}" if a["adjustment_amount"] else ""
            state = "waits for a second person's approval" if a["status"] == "pending_approval" else a["status"]
            click.echo(f"  {a['invoice_id']} {fmt_money(a['amount'])}{adj}: {state} "
                       f"(by {a['decided_by']} at {a['decided_at']} UTC, {a['reason']})")
    for c in d["unapplied_cash"]:
        click.echo(f"  {fmt_money(c['amount'])} unapplied cash on {c['customer_id']}'s account ({c['reason']})")
    click.echo("")
    if d["payer_customers"]:
        who = ", ".join(f"{c['name'] or '?'} ({c['customer_id']})" for c in d["payer_customers"])
        if d["other_open_invoices"]:
            click.echo(f"Other open invoices of {who}")
            for inv in d["other_open_invoices"][:20]:
                click.echo(f"  {inv['invoice_id']:<20} due {inv['due_date']}  open {fmt_money(inv['open_amount']):>14}"
                           f" of {fmt_money(inv['amount'])} {inv['currency']}"
                           + (f"  ref {inv['reference']}" if inv["reference"] else ""))
            if len(d["other_open_invoices"]) > 20:
                click.echo(f"  ... and {len(d['other_open_invoices']) - 20} more (--format json lists them all)")
        else:
            click.echo(f"No other open invoices of {who}.")
    else:
        click.echo("The payer is not known.")
    if q:
        click.echo("")
        n = d["id"]
        if q["reason"] == "pending-approval":
            click.echo(f"Next: recon queue approve {n} --user SOMEONE-ELSE, or recon unmatch {n}")
        else:
            click.echo(f"Next: recon queue accept {n} [--suggestion N] | allocate {n} --invoice INV --amount X | "
                       f"assign {n} --customer C | dismiss {n} --reason TEXT")


@queue.command("accept", short_help="Post a suggestion as recon proposed it.")
@click.argument("ident", metavar="ID")
@click.option("--suggestion", "rank", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which suggestion (the number `recon queue show` prints).")
@_ident_options
@rules_option
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def accept(ctx: click.Context, ident: str, rank: int, account: str | None, rules_path: str | None,
           user: str | None, db_url: str | None, fmt: str) -> None:
    """Accept a suggestion: post it as recon proposed it (the best one unless --suggestion N).

    What the suggestion leaves of the payment goes to the customer's account
    as unapplied cash (an overpayment).  An adjustment above the four-eyes
    limit waits for a second person (`recon queue approve`).

    \b
    Examples:
      recon queue accept 1042
      recon queue accept 1042 --suggestion 2 --user alice
    """
    actor = current_user(user)
    limit = four_eyes_limit(rules_path)

    def decide(s: Session, txn: BankTransaction, item: QueueItem | None) -> None:
        if item is None:
            raise PostingError(f"transaction {txn.id} is not in the queue (status {txn.status})")
        if item.reason == "pending-approval":
            raise PostingError(f"transaction {txn.id} waits for approval: recon queue approve {txn.id}")
        groups = _group_suggestions(item.suggestions)
        if not groups:
            raise PostingError(f"transaction {txn.id} has no suggestion; use recon queue allocate, assign or dismiss")
        chosen = next((g for g in groups if g.rank == rank), None)
        if chosen is None:
            raise PostingError(f"transaction {txn.id} has {len(groups)} suggestion(s); there is no suggestion {rank}")
        lines = [AllocationLine(ln.invoice_id, ln.amount, ln.adjustment_amount, ln.adjustment_reason)
                 for ln in chosen.lines]
        posting.post(
            s, txn, lines, actor=actor, reason=chosen.reason, confidence=Decimal("1"),
            evidence={"accepted_suggestion": rank, "suggestion_confidence": chosen.confidence,
                      "queue_reason": item.reason, "matcher": chosen.evidence},
            automatic=False, remainder="unapplied", approval_limit=limit, learn_payer=True,
        )

    _decide(ctx, db_url, ident, account, fmt, actor, f"suggestion {rank} accepted", decide, limit)


class _AllocateCommand(click.Command):
    """Keeps the order of --invoice/--amount/--adjustment/--adjustment-reason, which pairs them.

    click gathers each repeated option into its own list and forgets how
    they interleave; the pairing rule (an option belongs to the --invoice
    before it) needs that order, so it is read from the arguments first.
    """

    GROUPED = {"--invoice": "invoice", "--amount": "amount", "--adjustment": "adjustment",
               "--adjustment-reason": "adjustment_reason"}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {opt for p in self.params if isinstance(p, click.Option) and not p.is_flag for opt in p.opts}
        sequence: list[tuple[str, str]] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                break
            name, eq, value = arg.partition("=")
            if name in self.GROUPED:
                if eq:
                    sequence.append((self.GROUPED[name], value))
                elif i + 1 < len(args):
                    sequence.append((self.GROUPED[name], args[i + 1]))
                    i += 1
            elif arg in takes_value:
                i += 1
            i += 1
        ctx.meta["allocate.sequence"] = sequence
        return super().parse_args(ctx, args)


@dataclass
class _Line:
    invoice: str
    amount: str | None = None
    adjustment: str | None = None
    adjustment_reason: str | None = None


def pair_allocation_options(sequence: Sequence[tuple[str, str]]) -> list[_Line]:
    """Group the allocate options: each --invoice starts a line; what follows belongs to it."""
    lines: list[_Line] = []
    for key, value in sequence:
        if key == "invoice":
            lines.append(_Line(value.strip()))
            continue
        flag = "--" + key.replace("_", "-")
        if not lines:
            raise click.UsageError(f"{flag} {value} comes before any --invoice; write --invoice INV first")
        current = lines[-1]
        if getattr(current, key) is not None:
            raise click.UsageError(f"{flag} is given twice for invoice {current.invoice}")
        setattr(current, key, value)
    if not lines:
        raise click.UsageError("name at least one --invoice (or use `recon queue assign` to put it on account)")
    for ln in lines:
        if ln.adjustment is not None and ln.adjustment_reason is None:
            raise click.UsageError(f"--adjustment for invoice {ln.invoice} needs --adjustment-reason "
                                   f"({'|'.join(ADJUSTMENT_REASONS)})")
        if ln.adjustment_reason is not None and ln.adjustment is None:
            raise click.UsageError(f"--adjustment-reason for invoice {ln.invoice} needs --adjustment X")
        if ln.adjustment_reason is not None and ln.adjustment_reason not in ADJUSTMENT_REASONS:
            raise click.UsageError(f"--adjustment-reason {ln.adjustment_reason!r} is not one of "
                                   f"{', '.join(ADJUSTMENT_REASONS)}")
    return lines


@queue.command("allocate", cls=_AllocateCommand, short_help="Allocate a payment to invoices by hand.")
@click.argument("ident", metavar="ID")
@click.option("--invoice", "invoices", multiple=True, metavar="INV",
              help="An invoice to pay; repeat for several.  Starts a line: the options after it belong to it.")
@click.option("--amount", "amounts", multiple=True, metavar="X",
              help="Cash applied to the --invoice before it (default: its open amount less its adjustment).")
@click.option("--adjustment", "adjustments", multiple=True, metavar="X",
              help="More closed on the --invoice before it, beyond the cash.")
@click.option("--adjustment-reason", "adjustment_reasons", multiple=True, type=click.Choice(ADJUSTMENT_REASONS),
              help="Why the adjustment of the --invoice before it: discount, bank-charges or write-off.")
@click.option("--rest-on-account", is_flag=True,
              help="Put what the lines leave of the payment on the customer's account as unapplied cash.")
@click.option("--customer", metavar="CUSTOMER_ID",
              help="The payer, when it is not the first invoice's customer (e.g. a parent company).")
@_ident_options
@rules_option
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def allocate(ctx: click.Context, ident: str, invoices: tuple[str, ...], amounts: tuple[str, ...],
             adjustments: tuple[str, ...], adjustment_reasons: tuple[str, ...], rest_on_account: bool,
             customer: str | None, account: str | None, rules_path: str | None, user: str | None,
             db_url: str | None, fmt: str) -> None:
    """Allocate a payment by hand to one or more invoices, with partial amounts and adjustments.

    Each --invoice starts a line; the --amount, --adjustment and
    --adjustment-reason that follow it (up to the next --invoice) belong to
    that invoice.  The cash of all lines must add up to the payment, unless
    --rest-on-account puts the rest on the customer's account.  An
    adjustment closes more of the invoice than the cash paid (bank charges
    the payer's bank kept, an early-payment discount, a small write-off); one
    above the four-eyes limit of the rules waits for a second person.

    \b
    Examples:
      # 1,485.00 received for INV-7 (1,000.00) and INV-9 (500.00), 15.00 bank charges kept:
      recon queue allocate 1043 --invoice INV-7 --amount 1000.00 \\
          --invoice INV-9 --amount 485.00 --adjustment 15.00 --adjustment-reason bank-charges
      # a partial payment:
      recon queue allocate 1044 --invoice INV-12 --amount 250.00
      # pay INV-3 in full and keep the surplus on the customer's account:
      recon queue allocate 1045 --invoice INV-3 --rest-on-account
    """
    lines = pair_allocation_options(ctx.meta.get("allocate.sequence", []))
    if len(lines) != len(invoices):  # the raw scan and click disagree: never guess
        raise click.UsageError("could not pair the --invoice options; write each as --invoice INV --amount X")
    actor = current_user(user)
    limit = four_eyes_limit(rules_path)
    parsed: list[tuple[str, Decimal | None, Decimal, str | None]] = []
    for ln in lines:
        amount = parse_money(ln.amount, f"--amount for {ln.invoice}") if ln.amount is not None else None
        adjustment = parse_money(ln.adjustment, f"--adjustment for {ln.invoice}") if ln.adjustment else ZERO
        parsed.append((ln.invoice, amount, adjustment, ln.adjustment_reason))

    def decide(s: Session, txn: BankTransaction, item: QueueItem | None) -> None:
        allocation_lines = []
        for invoice_id, amount, adjustment, reason in parsed:
            if amount is None:
                inv = s.get(Invoice, invoice_id)
                if inv is None:
                    raise PostingError(f"unknown invoice {invoice_id}")
                amount = inv.open_amount - adjustment
                if amount < 0:
                    raise PostingError(f"invoice {invoice_id} has {inv.open_amount} open, less than the adjustment")
            allocation_lines.append(AllocationLine(invoice_id, amount, adjustment, reason))
        try:
            posting.post(
                s, txn, allocation_lines, actor=actor, reason="manual", confidence=Decimal("1"),
                evidence={"decided_in": "recon queue allocate", "queue_reason": item.reason if item else None},
                automatic=False, customer_id=customer, remainder="unapplied" if rest_on_account else "error",
                approval_limit=limit, learn_payer=True,
            )
        except PostingError as exc:
            if "unallocated" in str(exc) and not rest_on_account:
                raise PostingError(f"{exc} (--rest-on-account)") from None
            raise

    _decide(ctx, db_url, ident, account, fmt, actor, "allocated", decide, limit)


@queue.command("dismiss", short_help="Set a line aside: not a customer payment.")
@click.argument("ident", metavar="ID")
@click.option("--reason", required=True, metavar="TEXT", help="Why this is not a customer payment (kept in the audit trail).")
@_ident_options
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def dismiss(ctx: click.Context, ident: str, reason: str, account: str | None, user: str | None,
            db_url: str | None, fmt: str) -> None:
    """Set a line aside as not a customer payment (a tax refund, a transfer between our accounts ...).

    It leaves the queue and shows as `ignored` in the export; `recon unmatch`
    brings it back.

    \b
    Example:
      recon queue dismiss 1045 --reason "VAT refund from the tax office"
    """
    if not reason.strip():
        raise click.UsageError("--reason must say why")
    actor = current_user(user)

    def decide(s: Session, txn: BankTransaction, item: QueueItem | None) -> None:
        if txn.status == "ignored":
            raise PostingError(f"transaction {txn.id} is already set aside ({txn.ignore_reason})")
        posting.ignore(s, txn, reason.strip(), actor=actor, automatic=False)

    _decide(ctx, db_url, ident, account, fmt, actor, f"dismissed ({reason.strip()})", decide)


@queue.command("assign", short_help="Put a payment on a customer's account (no invoice yet).")
@click.argument("ident", metavar="ID")
@click.option("--customer", required=True, metavar="CUSTOMER_ID", help="The customer who paid.")
@_ident_options
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def assign(ctx: click.Context, ident: str, customer: str, account: str | None, user: str | None,
           db_url: str | None, fmt: str) -> None:
    """Book a payment on a customer's account as unapplied cash, when no invoice is known yet.

    The payer's account and name are remembered for the customer, so the
    matcher recognises the next payment.

    \b
    Example:
      recon queue assign 1044 --customer C1001
    """
    actor = current_user(user)

    def decide(s: Session, txn: BankTransaction, item: QueueItem | None) -> None:
        posting.assign_on_account(s, txn, customer.strip(), actor=actor)

    _decide(ctx, db_url, ident, account, fmt, actor, f"put on {customer}'s account", decide)


@queue.command("approve", short_help="Approve a large adjustment (four eyes).")
@click.argument("ident", metavar="ID")
@_ident_options
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def approve(ctx: click.Context, ident: str, account: str | None, user: str | None, db_url: str | None,
            fmt: str) -> None:
    """Approve an adjustment above the four-eyes limit that another person decided.

    The person who decided cannot approve it too.  To refuse it instead,
    `recon unmatch ID` and decide again.

    \b
    Example:
      recon queue approve 1046 --user bob
    """
    actor = current_user(user)

    def decide(s: Session, txn: BankTransaction, item: QueueItem | None) -> None:
        posting.approve(s, txn, actor=actor)

    _decide(ctx, db_url, ident, account, fmt, actor, "approved", decide)


