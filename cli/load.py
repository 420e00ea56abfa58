"""``recon load``: customers and open invoices from the ERP."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import ReconError, current_user, db_option, echo_json, format_option, guarded, open_engine
from ledger.masterdata import LoadError, LoadResult, load_customers, load_invoices


@click.group()
def load() -> None:
    """Load or update master data: customers and open invoices."""


def _report(result: LoadResult, fmt: str) -> None:
    if fmt == "json":
        echo_json(result.as_dict())
        return
    click.echo(
        f"{Path(result.file).name}: {result.rows} {result.kind} loaded "
        f"({result.inserted} new, {result.updated} updated)"
    )
    if result.disagreements:
        click.echo(
            f"  {len(result.disagreements)} invoice(s) where the ERP's open amount disagrees with recon's postings;"
            " recon kept the lower open amount:"
        )
        for d in result.disagreements[:20]:
            click.echo(f"    {d['invoice_id']}: ERP {d['erp_open_amount']}, recon {d['recon_open_amount']}")
        if len(result.disagreements) > 20:
            click.echo(f"    ... and {len(result.disagreements) - 20} more (see --format json)")


@load.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@format_option("text", "json")
@click.option("--user", default=None, help="Who loads (recorded in the audit trail).")
@click.pass_context
@guarded
def customers_cmd(ctx: click.Context, file: Path, db_url: str | None, fmt: str, user: str | None) -> None:
    """Load or update customers from a CSV file (customer_id, name, aliases, ibans, parent_id, ...).

    \b
    Example:
      recon load customers erp/customers.csv
    A bad value rejects the whole file (file:line: column: what was expected).
    """
    engine = open_engine(ctx, db_url)
    try:
        _report(load_customers(engine, file, current_user(user)), fmt)
    except LoadError as exc:
        raise ReconError(str(exc)) from None


@load.command("invoices")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@format_option("text", "json")
@click.option("--user", default=None, help="Who loads (recorded in the audit trail).")
@click.pass_context
@guarded
def invoices_cmd(ctx: click.Context, file: Path, db_url: str | None, fmt: str, user: str | None) -> None:
    """Load or update open invoices from a CSV file (invoice_id, customer_id, dates, currency, amount, ...).

    \b
    Example:
      recon load invoices erp/open_items.csv
    Reloading updates by invoice_id; recon never reopens what it has posted: the open
    amount becomes the lower of the ERP's and the amount less recon's allocations.
    """
    engine = open_engine(ctx, db_url)
    try:
        _report(load_invoices(engine, file, current_user(user)), fmt)
    except LoadError as exc:
        raise ReconError(str(exc)) from None
