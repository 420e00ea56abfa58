"""``recon status``: what is in the database, at a glance."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import func, select

from cli.common import db_option, echo_json, format_option, guarded, open_engine
from ledger.db import transaction
from ledger.models import BankTransaction, Customer, Invoice, QueueItem, StatementFile


def collect_status(engine: Any) -> dict[str, Any]:
    """Counts and amounts of master data, transactions by status and the open queue by reason."""
    with transaction(engine) as s:
        inv = {st: (n, amt) for st, n, amt in s.execute(
            select(Invoice.status, func.count(), func.coalesce(func.sum(Invoice.open_amount), 0)).group_by(Invoice.status))}
        txn = {st: (n, amt) for st, n, amt in s.execute(
            select(BankTransaction.status, func.count(), func.coalesce(func.sum(BankTransaction.amount), 0))
            .group_by(BankTransaction.status))}
        queue = dict(s.execute(select(QueueItem.reason, func.count()).where(QueueItem.status == "open").group_by(QueueItem.reason)).all())
        return {
            "customers": s.scalar(select(func.count()).select_from(Customer)),
            "statement_files": s.scalar(select(func.count()).select_from(StatementFile)),
            "invoices": {k: {"count": v[0], "open_amount": v[1]} for k, v in sorted(inv.items())},
            "transactions": {k: {"count": v[0], "amount": v[1]} for k, v in sorted(txn.items())},
            "queue": dict(sorted(queue.items())),
        }


@click.command("status")
@db_option
@format_option("text", "json")
@click.pass_context
@guarded
def status(ctx: click.Context, db_url: str | None, fmt: str) -> None:
    """Show what recon holds: customers, invoices, transactions by status, the open queue.

    \b
    Example:
      recon status --format json
    """
    data = collect_status(open_engine(ctx, db_url))
    if fmt == "json":
        echo_json(data)
        return
    click.echo(f"customers:       {data['customers']}")
    click.echo(f"statement files: {data['statement_files']}")
    click.echo("invoices:        " + (", ".join(f"{k} {v['count']} (open {v['open_amount']})" for k, v in data["invoices"].items()) or "none"))
    click.echo("transactions:    " + (", ".join(f"{k} {v['count']}" for k, v in data["transactions"].items()) or "none"))
    click.echo("queue:           " + (", ".join(f"{k} {v}" for k, v in data["queue"].items()) or "empty"))
