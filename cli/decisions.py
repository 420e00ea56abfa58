"""``recon unmatch`` and ``recon audit``: undo a decision, and show the trail of every decision.

Also the helpers the queue and export commands share: finding a transaction
by the id recon shows or by the bank's reference, and printing a table for
people.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
from sqlalchemy import Select, select
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
from ledger import posting
from ledger.db import transaction
from ledger.models import AuditEntry, BankAccount, BankTransaction, Invoice, UnappliedCash
from reports.export import FORMULA_STARTS

# --- shared helpers -------------------------------------------------------------------------------


def compact_account(value: str) -> str:
    """An account as recon stores our own accounts: no spaces, upper case."""
    return "".join(value.split()).upper()


def find_transaction(session: Session, ident: str, account: str | None = None) -> BankTransaction:
    """The transaction ``ident`` names: recon's id, or the bank reference as in the export.

    With ``account`` the ident is always a bank reference on that account.  A
    number that is both an id and another transaction's bank reference is
    refused rather than guessed.  Raises :class:`ReconError` with one line.
    """
    ident = ident.strip()
    if not ident:
        raise ReconError("no transaction given")
    if ident.startswith("'") and ident[1:].startswith(FORMULA_STARTS):
        # copied from the CSV export, where a reference like -42 is written '-42 for spreadsheets
        ident = ident[1:]
    refs_query: Select[tuple[BankTransaction]] = select(BankTransaction).where(BankTransaction.bank_reference == ident)
    if account:
        acct = compact_account(account)
        refs_query = refs_query.join(BankAccount, BankAccount.id == BankTransaction.account_id).where(
            BankAccount.account == acct
        )
    refs = list(session.scalars(refs_query.order_by(BankTransaction.id).limit(20)))
    by_id = session.get(BankTransaction, int(ident)) if ident.isdigit() and not account and len(ident) < 19 else None
    if by_id is not None:
        others = [t for t in refs if t.id != by_id.id]
        if others:
            raise ReconError(
                f"{ident} is recon's transaction {by_id.id} and also the bank reference of transaction "
                f"{others[0].id}; add --account ACCOUNT to mean the bank reference"
            )
        return by_id
    if len(refs) == 1:
        return refs[0]
    if not refs:
        where = f" on account {compact_account(account)}" if account else ""
        what = "id or bank reference" if not account else "bank reference"
        raise ReconError(f"no transaction with {what} {ident!r}{where} (see `recon queue list` or the export)")
    accounts = sorted({_account_of(session, t) for t in refs})
    ids = ", ".join(str(t.id) for t in refs[:5])
    if len(accounts) > 1 and not account:
        raise ReconError(
            f"bank reference {ident!r} stands on {len(accounts)} accounts ({', '.join(accounts)}); "
            "add --account ACCOUNT"
        )
    raise ReconError(
        f"bank reference {ident!r} stands on {len(refs)} transactions of {accounts[0]} ({ids}); "
        "use recon's id instead"
    )


def _account_of(session: Session, txn: BankTransaction) -> str:
    acct = session.get(BankAccount, txn.account_id)
    return acct.account if acct else "?"


def fmt_money(value: Decimal | None) -> str:
    """``1,234.50`` for people (tables); scripts get exact strings from ``--format json``."""
    if value is None:
        return ""
    return f"{value:,.2f}"


def fmt_time(value: datetime | None) -> str:
    """A stored timestamp as UTC ``YYYY-MM-DD HH:MM:SS`` (SQLite hands them back without a zone)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def print_table(
    columns: Sequence[str | tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """A table for people via rich; a column given as ``(name, "right")`` is right-aligned (amounts)."""
    from rich.console import Console
    from rich.table import Table

    # a pipe or a file gets a wide table instead of one squeezed to 80 columns
    out = sys.stdout
    console = Console(width=None if out.isatty() else 200, highlight=False, file=out)
    table = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for col in columns:
        name, justify = (col, "left") if isinstance(col, str) else col
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


# --- recon unmatch --------------------------------------------------------------------------------


@click.command("unmatch", short_help="Undo a posting; the payment goes back to the queue.")
@click.argument("transaction_ident", metavar="TRANSACTION")
@click.option("--account", metavar="ACCOUNT",
              help="Our account the bank reference stands on (when the same reference is on two accounts).")
@click.option("--note", metavar="TEXT", help="Why (kept in the audit trail and shown in the queue).")
@user_option
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def unmatch(ctx: click.Context, transaction_ident: str, account: str | None, note: str | None, user: str | None,
            db_url: str | None, fmt: str) -> None:
    """Undo a posting: the invoices are open again and the payment goes back to the queue.

    Works on what the matcher posted and on what a person decided (an
    accepted suggestion, a manual allocation, a payment put on account, a
    dismissal, an allocation still waiting for approval).  The audit trail
    keeps the posting and its reversal; `recon match` will not post the
    payment again on its own: it waits in the queue (reason `reversed`) for a
    person.

    TRANSACTION is the id recon shows (`recon queue list`, `recon audit`), or
    the bank reference as in `recon export allocations`; add --account when
    the same reference stands on two of our accounts.

    \b
    Examples:
      recon unmatch 1042
      recon unmatch 2026110200123 --account DE89370400440532013000 --note "wrong customer"
    """
    engine = open_engine(ctx, db_url)
    actor = current_user(user)
    with transaction(engine) as s:
        txn = find_transaction(s, transaction_ident, account)
        touched = [a.invoice_id for a in posting.active_allocations(s, txn.id)]
        cash = sum(
            (c.amount for c in s.scalars(select(UnappliedCash).where(
                UnappliedCash.transaction_id == txn.id, UnappliedCash.status == "open"))),
            Decimal("0"),
        )
        was = txn.status
        try:
            reversed_count = posting.unmatch(s, txn, actor=actor, note=note)
        except posting.PostingError as exc:
            raise ReconError(str(exc), EXIT_REJECTED) from None
        invoices = [posting.invoice_state(inv) | {"invoice_id": inv.invoice_id}
                    for inv in (s.get(Invoice, i) for i in dict.fromkeys(touched)) if inv is not None]
        result = {
            "transaction": txn.id,
            "bank_reference": txn.bank_reference,
            "account": _account_of(s, txn),
            "amount": txn.amount,
            "currency": txn.currency,
            "was": was,
            "reversed_allocations": reversed_count,
            "unapplied_cash_reversed": cash,
            "invoices": invoices,
            "status": txn.status,
            "queue_reason": "reversed",
            "by": actor,
        }
    if fmt == "json":
        echo_json(result)
        return
    what = f"{reversed_count} allocation(s) reversed" if reversed_count else f"the {was} decision undone"
    if cash:
        what += f", {fmt_money(cash)} of unapplied cash taken back"
    click.echo(f"transaction {txn.id} ({txn.bank_reference or 'no bank reference'}, "
               f"{fmt_money(txn.amount)} {txn.currency or ''}): {what}; back in the queue (reason reversed)")
    for inv in invoices:
        click.echo(f"  invoice {inv['invoice_id']}: open {fmt_money(Decimal(inv['open_amount']))} ({inv['status']})")


# --- recon audit ----------------------------------------------------------------------------------


def _month(value: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month as YYYY-MM", param_hint="--period") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def _day_start(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def audit_entries(
    session: Session,
    *,
    transaction_id: int | None = None,
    invoice_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    actions: Sequence[str] = (),
    limit: int = 0,
) -> list[AuditEntry]:
    """Audit entries matching every given filter, oldest first (``until`` is exclusive; ``limit`` keeps the newest)."""
    query = select(AuditEntry)
    if transaction_id is not None:
        query = query.where(AuditEntry.transaction_id == transaction_id)
    if invoice_id is not None:
        query = query.where(AuditEntry.invoice_id == invoice_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if actions:
        query = query.where(AuditEntry.action.in_(list(actions)))
    if limit:
        newest = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
        return newest[::-1]
    return list(session.scalars(query.order_by(AuditEntry.id)))


def _short(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {_short(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    return str(value)


def describe_entry(entry: AuditEntry) -> str:
    """What an audit entry changed, in a line for people (JSON output keeps everything)."""
    before, after, detail = entry.before or {}, entry.after or {}, entry.detail or {}
    parts: list[str] = []
    if detail.get("amount") not in (None, "0", "0.00"):
        parts.append(f"cash {detail['amount']}")
    if detail.get("adjustment_amount") not in (None, "0", "0.00"):
        reason = detail.get("adjustment_reason")
        parts.append(f"adjustment {detail['adjustment_amount']}" + (f" {reason}" if reason else ""))
    if "open_amount" in before or "open_amount" in after:
        parts.append(f"open {before.get('open_amount', '?')} -> {after.get('open_amount', '?')}"
                     f" ({after.get('status', before.get('status', '?'))})")
    elif before.get("status") != after.get("status") and ("status" in before or "status" in after):
        parts.append(f"status {before.get('status') or '-'} -> {after.get('status') or '-'}")
    for key in ("reason", "note", "decided_by"):
        if detail.get(key):
            parts.append(f"{key.replace('_', ' ')}: {detail[key]}")
    if detail.get("suggestions"):
        parts.append(f"{len(detail['suggestions'])} suggestion(s)")
    if detail.get("confidence") not in (None, "1", "1.000000") and entry.action.startswith("post"):
        parts.append(f"confidence {detail['confidence']}")
    if not parts:
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if changed:
            parts.append(_short(changed))
        elif detail:
            parts.append(_short(detail))
    return "; ".join(parts)


def entry_as_dict(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry for ``--format json``."""
    return {
        "id": entry.id,
        "at": fmt_time(entry.at).replace(" ", "T") + "Z",
        "actor": entry.actor,
        "action": entry.action,
        "transaction": entry.transaction_id,
        "invoice": entry.invoice_id,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "detail": entry.detail,
        "job_run": entry.job_run_id,
    }


@click.command("audit", short_help="The audit trail: who decided what, when, what changed.")
@click.option("--transaction", "transaction_ident", metavar="ID",
              help="One transaction: recon's id or its bank reference (with --account if needed).")
@click.option("--account", metavar="ACCOUNT", help="Our account, when --transaction is a bank reference on two accounts.")
@click.option("--invoice", metavar="INV", help="One invoice: everything posted against it, undone, approved or loaded.")
@click.option("--period", metavar="YYYY-MM", help="Decisions made in that month (UTC).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="Made on or after that day (UTC).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="Made on or before that day (UTC).")
@click.option("--actor", "actor", metavar="NAME", help="Only what this person (or `recon` for the jobs) did.")
@click.option("--action", "actions", multiple=True, metavar="ACTION",
              help="Only these actions (repeatable): post, post-pending, approve, unmatch, queue, dismiss, ignore, ...")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True, help="Only the newest N (0: all).")
@db_option
@format_option("table", "json")
@click.pass_context
@guarded
def audit(ctx: click.Context, transaction_ident: str | None, account: str | None, invoice: str | None,
          period: str | None, since: datetime | None, until: datetime | None, actor: str | None,
          actions: tuple[str, ...], limit: int, db_url: str | None, fmt: str) -> None:
    """Show the audit trail: who decided what, when, and what it changed.

    Every posting (automatic or by a person), queueing, approval, dismissal
    and undo is recorded, before and after, and never changed afterwards
    (the database refuses updates and deletes of the trail).  Filters
    combine; without any, the whole trail is shown, oldest first.

    \b
    Examples:
      recon audit --transaction 1042
      recon audit --invoice INV-2026-0815
      recon audit --period 2026-10 --actor alice
      recon audit --since 2026-11-01 --until 2026-11-07 --format json
    """
    if period and (since or until):
        raise click.UsageError("use either --period or --since/--until, not both")
    if account and not transaction_ident:
        raise click.UsageError("--account goes with --transaction")
    start = end = None
    if period:
        start, end = _month(period)
    if since:
        start = _day_start(since.date())
    if until:
        end = _day_start(until.date()) + timedelta(days=1)
    engine = open_engine(ctx, db_url)
    with transaction(engine) as s:
        txn_id = find_transaction(s, transaction_ident, account).id if transaction_ident else None
        entries = audit_entries(s, transaction_id=txn_id, invoice_id=invoice, since=start, until=end,
                                actor=actor, actions=actions, limit=limit)
    if fmt == "json":
        echo_json([entry_as_dict(e) for e in entries])
        return
    if not entries:
        click.echo("no audit entries match")
        return
    print_table(
        ["when (UTC)", "who", "action", "transaction", "invoice", "what changed"],
        [(fmt_time(e.at), e.actor, e.action, e.transaction_id, e.invoice_id, describe_entry(e)) for e in entries],
        caption=f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}",
    )
