"""Payment reminders: as of a date, who to remind, for which invoices, with what to say.

The schedule is in the rules file (``[reminders]``, per customer overridable
under ``[customers."ID".reminders]``): steps counted from each open invoice's
due date, by default 7 and 3 days before it, on the day, then 7, 30 and 60
days after it.  A step is listed when its date falls within the
``window_days`` days that end on the as-of date (1: a daily run lists today's
steps; 7: a weekly run lists the past week's); when several steps of one
invoice fall in the window only the latest is listed.

The invoice must still be open at the end of the as-of day by at least
``minimum_amount``.  Each line carries the customer's contact data where
known, what the customer owes in total, and the unapplied cash recon holds
for it (worth a look before reminding: the money may already be there).

It lists; it does not send.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Engine

from reports.base import Column, Kpi, Report, Section, Table, fmt_money
from reports.data import (
    ReportError,
    cents,
    customers_frame,
    end_of_day,
    money,
    open_items_at,
    pending_allocation_ids,
    snapshot,
    unapplied_at,
    zone,
)
from rules import Rules, load_rules


def schedule(rules: Rules) -> list[tuple[int, str]]:
    """The steps of ``rules`` as (days after the due date, label), earliest first.

    >>> schedule(load_rules())
    [(-7, '7 days before due'), (-3, '3 days before due'), (0, 'due today'), (7, '7 days overdue'), (30, '30 days overdue'), (60, '60 days overdue')]
    """
    steps: list[tuple[int, str]] = []
    for d in rules.get("reminders.before_due_days", []) or []:
        steps.append((-int(d), f"{int(d)} days before due"))
    if rules.get("reminders.on_due_date", True):
        steps.append((0, "due today"))
    for d in rules.get("reminders.overdue_days", []) or []:
        steps.append((int(d), f"{int(d)} days overdue"))
    return sorted(set(steps))


def _step_frame(steps: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"offset": [s[0] for s in steps], "step": [s[1] for s in steps]}, schema={"offset": pl.Int64, "step": pl.Utf8}
    )


def reminders(
    engine: Engine,
    as_of: date,
    *,
    rules: Rules | None = None,
    window_days: int | None = None,
    now: datetime | None = None,
) -> Report:
    """The reminders due as of ``as_of``."""
    rules = rules or load_rules()
    tz = zone(rules.get("reports.timezone"))
    now = now or datetime.now(UTC)
    window = int(window_days if window_days is not None else rules.get("reminders.window_days", 1) or 1)
    if window < 1:
        raise ReportError("--days: expected 1 or more")
    at = end_of_day(as_of, tz)
    with snapshot(engine) as conn:
        pending = pending_allocation_ids(conn)
        items = open_items_at(conn, as_of, at, pending)
        unapplied = unapplied_at(conn, at, pending)
        ids = items["customer_id"].unique().to_list()
        customers = customers_frame(conn, ids) if ids else customers_frame(conn, [])

    first_day = as_of - timedelta(days=window - 1)
    overrides = {cid for cid in ids if rules.for_customer(cid) is not rules}
    parts = []
    groups = [(rules, items.filter(~pl.col("customer_id").is_in(list(overrides))))]
    groups += [(rules.for_customer(cid), items.filter(pl.col("customer_id") == cid)) for cid in sorted(overrides)]
    for r, group in groups:
        minimum = cents(str(r.get("reminders.minimum_amount", "0.01") or "0"))
        steps = schedule(r)
        if group.is_empty() or not steps:
            continue
        hits = (
            group.filter(pl.col("open_at_c") >= max(minimum, 1))
            .join(_step_frame(steps), how="cross")
            .with_columns((pl.col("due_date") + pl.duration(days=pl.col("offset"))).alias("step_date"))
            .filter((pl.col("step_date") >= first_day) & (pl.col("step_date") <= as_of))
            .sort("offset")
            .group_by("invoice_id")
            .agg(pl.all().last())
        )
        parts.append(hits)
    hits = pl.concat(parts) if parts else None
    owed = items.group_by("customer_id", "currency").agg(pl.col("open_at_c").sum().alias("owed_c"))
    rows: list[dict[str, Any]] = []
    if hits is not None and not hits.is_empty():
        df = (
            hits.join(customers, on="customer_id", how="left")
            .join(owed, on=["customer_id", "currency"], how="left")
            .join(
                unapplied.select("customer_id", "currency", pl.col("unapplied_c")),
                on=["customer_id", "currency"],
                how="left",
            )
            .with_columns(pl.col("unapplied_c").fill_null(0))
            .sort("customer_id", "due_date", "invoice_id")
        )
        for r in df.iter_rows(named=True):
            rows.append(
                {
                    "customer_id": r["customer_id"],
                    "name": r["name"],
                    "email": r["email"],
                    "phone": r["phone"],
                    "invoice_id": r["invoice_id"],
                    "currency": r["currency"],
                    "issue_date": r["issue_date"],
                    "due_date": r["due_date"],
                    "step": r["step"],
                    "step_date": r["step_date"],
                    "days_past_due": int(r["days_past_due"]),
                    "open_amount": money(r["open_at_c"]),
                    "customer_owes": money(r["owed_c"]),
                    "customer_unapplied": money(r["unapplied_c"]),
                }
            )
    per_customer: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["customer_id"], r["currency"])
        c = per_customer.setdefault(
            key,
            {
                "customer_id": r["customer_id"], "name": r["name"], "email": r["email"], "phone": r["phone"],
                "currency": r["currency"], "invoices": 0, "to_remind": Decimal("0.00"),
                "customer_owes": r["customer_owes"], "customer_unapplied": r["customer_unapplied"],
            },
        )
        c["invoices"] += 1
        c["to_remind"] += r["open_amount"]
    data: dict[str, Any] = {
        "report": "reminders",
        "as_of": as_of,
        "window": {"from": first_day, "to": as_of, "days": window},
        "schedule": [{"days_after_due": o, "step": s} for o, s in schedule(rules)],
        "generated_at": now,
        "reminders": rows,
        "customers": list(per_customer.values()),
    }
    return Report(
        kind="reminders",
        title=f"Payment reminders as of {as_of.isoformat()}",
        subtitle=(
            f"Steps falling {first_day.isoformat()} to {as_of.isoformat()} · schedule: "
            + ", ".join(s for _, s in schedule(rules))
            + " · it lists, it does not send"
        ),
        data=data,
        sections=_sections(data),
        generated_at=now,
    )


def _sections(data: dict[str, Any]) -> list[Section]:
    rows = []
    for r in data["reminders"]:
        row = dict(r)
        if r["customer_unapplied"] > 0:
            row["_style"] = "warn"
        rows.append(row)
    totals: dict[str, Decimal] = {}
    for r in data["reminders"]:
        totals[r["currency"]] = totals.get(r["currency"], Decimal("0.00")) + r["open_amount"]
    kpis = [
        Kpi("Customers to remind", f"{len({r['customer_id'] for r in data['reminders']}):,}"),
        Kpi("Invoices", f"{len(data['reminders']):,}"),
        *[Kpi(f"Open {cur}", fmt_money(v)) for cur, v in sorted(totals.items())],
    ]
    return [
        Section(
            "reminders",
            "Reminders",
            intro="One line per invoice whose reminder step falls in the window; a highlighted line's customer "
            "has unapplied cash with us: check it before reminding.",
            kpis=kpis,
            tables=[
                Table(
                    "reminders",
                    "Reminders",
                    [
                        Column("customer_id", "Customer"),
                        Column("name", "Name"),
                        Column("invoice_id", "Invoice"),
                        Column("due_date", "Due", "date"),
                        Column("step", "Step"),
                        Column("days_past_due", "Days past due", "int"),
                        Column("currency", "Cur"),
                        Column("open_amount", "Open", "money"),
                        Column("customer_owes", "Customer owes", "money"),
                        Column("customer_unapplied", "Unapplied cash", "money"),
                        Column("email", "Email"),
                        Column("phone", "Phone"),
                    ],
                    rows,
                    None if rows else "Nobody to remind.",
                )
            ],
            sheet="Reminders",
        ),
        Section(
            "reminder_customers",
            "Per customer",
            tables=[
                Table(
                    "reminder_customers",
                    "Per customer",
                    [
                        Column("customer_id", "Customer"),
                        Column("name", "Name"),
                        Column("email", "Email"),
                        Column("phone", "Phone"),
                        Column("currency", "Cur"),
                        Column("invoices", "Invoices", "int"),
                        Column("to_remind", "To remind", "money"),
                        Column("customer_owes", "Owes in total", "money"),
                        Column("customer_unapplied", "Unapplied cash", "money"),
                    ],
                    [dict(c) for c in data["customers"]],
                    None if data["customers"] else "Nobody to remind.",
                )
            ],
            sheet="Customers",
        ),
    ]
