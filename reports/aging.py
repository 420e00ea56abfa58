"""Receivables aging as of a date: what is open, and how long past its due date.

Every invoice issued by the as-of date that still had something open at the
end of that day (in the rules' time zone) falls into one bucket by days past
due: ``current`` (not yet due), ``1-30``, ``31-60``, ``61-90`` and ``over 90``.
Per customer and currency, and in total per currency, the buckets add up to
the open total; the customer's unapplied cash (money recon holds on account)
is shown against it, and ``net`` is what remains after it.

The open amount at a past date is reconstructed from recon's postings (see
:mod:`reports.data`), so an aging as of the end of a closed month reads the
same later.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine

from reports import charts
from reports.base import Chart, Column, Kpi, Report, Section, Table, fmt_money
from reports.data import (
    AGING_BUCKETS,
    Pending,
    aging_groups,
    customers_frame,
    end_of_day,
    money,
    pending_allocation_ids,
    snapshot,
    unapplied_at,
    zone,
)
from rules import Rules, load_rules

BUCKETS: tuple[tuple[str, str, int | None, int | None], ...] = (
    # key, label, lowest and highest days past due (inclusive; None = open ended)
    ("current", "Current", None, 0),
    ("d1_30", "1-30", 1, 30),
    ("d31_60", "31-60", 31, 60),
    ("d61_90", "61-90", 61, 90),
    ("over_90", "Over 90", 91, None),
)
BUCKET_KEYS = [b[0] for b in BUCKETS]
# the SQL that buckets the invoices (reports.data) must speak of the same buckets
assert BUCKET_KEYS == [key for key, _ in AGING_BUCKETS] and [b[3] for b in BUCKETS] == [h for _, h in AGING_BUCKETS]


def bucket_of(days_past_due: int) -> str:
    """The bucket key for a number of days past due (0 or less: current).

    >>> [bucket_of(d) for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91)]
    ['current', 'current', 'd1_30', 'd1_30', 'd31_60', 'd31_60', 'd61_90', 'd61_90', 'over_90']
    """
    for key, _, low, high in BUCKETS:
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return key
    raise AssertionError(days_past_due)  # pragma: no cover - the buckets cover every integer


def aging_figures(
    conn: Connection, day: date, at: datetime, *, pending: Pending | None = None, unapplied: pl.DataFrame | None = None
) -> dict[str, Any]:
    """The aging as of ``day`` with the data as it stood at ``at``: customers and totals per currency.

    ``pending`` and ``unapplied`` (as :func:`reports.data.unapplied_at` returns it) when the caller has them.
    """
    if pending is None:
        pending = pending_allocation_ids(conn)
    groups = aging_groups(conn, day, at, pending)
    if unapplied is None:
        unapplied = unapplied_at(conn, at, pending)
    per = (
        groups.group_by("customer_id", "currency")
        .agg(
            *[pl.col("open_c").filter(pl.col("bucket") == k).sum().alias(k) for k in BUCKET_KEYS],
            pl.col("open_c").sum().alias("total"),
            pl.col("n").sum().alias("invoices"),
            pl.col("oldest_due").min(),
        )
        .join(
            unapplied.select("customer_id", "currency", pl.col("unapplied_c").alias("unapplied")),
            on=["customer_id", "currency"],
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col(*BUCKET_KEYS, "total", "unapplied", "invoices").fill_null(0))
    )
    ids = per["customer_id"].unique().to_list()
    names = customers_frame(conn, ids).select("customer_id", "name")
    per = per.join(names, on="customer_id", how="left").sort(
        "currency", "total", "customer_id", descending=[False, True, False]
    )
    customers = []
    for r in per.iter_rows(named=True):
        row: dict[str, Any] = {
            "customer_id": r["customer_id"],
            "name": r["name"],
            "currency": r["currency"],
            "invoices": int(r["invoices"]),
        }
        for k in BUCKET_KEYS:
            row[k] = money(r[k])
        row["total"] = money(r["total"])
        row["unapplied"] = money(r["unapplied"])
        row["net"] = money(r["total"] - r["unapplied"])
        row["oldest_days_past_due"] = None if r["oldest_due"] is None else (day - r["oldest_due"]).days
        customers.append(row)
    totals = []
    for cur in sorted({c["currency"] for c in customers if c["currency"] is not None}):
        group = [c for c in customers if c["currency"] == cur]
        t: dict[str, Any] = {"currency": cur, "customers": len(group), "invoices": sum(c["invoices"] for c in group)}
        for k in (*BUCKET_KEYS, "total", "unapplied", "net"):
            t[k] = sum((c[k] for c in group), Decimal("0.00"))
        totals.append(t)
    return {"as_of": day, "at": at, "customers": customers, "totals": totals}


def aging(
    engine: Engine, as_of: date, *, rules: Rules | None = None, now: datetime | None = None
) -> Report:
    """The aging report as of ``as_of`` (the data as it stood at 24:00 of that day)."""
    rules = rules or load_rules()
    tz = zone(rules.get("reports.timezone"))
    at = end_of_day(as_of, tz)
    now = now or datetime.now(UTC)
    with snapshot(engine) as conn:
        figures = aging_figures(conn, as_of, at)
    data = {"report": "aging", "generated_at": now, **figures}
    return Report(
        kind="aging",
        title=f"Receivables aging as of {as_of.isoformat()}",
        subtitle=f"Open invoices by days past due, unapplied cash against them · generated {now.astimezone(tz):%Y-%m-%d %H:%M}",
        data=data,
        sections=aging_sections(figures),
        generated_at=now,
    )


_BUCKET_COLUMNS = [Column(k, label, "money") for k, label, _, _ in BUCKETS]


def aging_charts(totals: list[dict[str, Any]]) -> list[Chart]:
    """A bar chart of the aging buckets per currency."""
    return [
        Chart(
            f"aging_{t['currency']}",
            f"Open receivables by days past due ({t['currency']})",
            charts.bar_chart(
                [label for _, label, _, _ in BUCKETS],
                [float(t[k]) for k in BUCKET_KEYS],
                value_format="{:,.0f}",
                colors=[charts.GREEN, charts.BLUE, charts.AMBER, charts.ORANGE, charts.RED],
            ),
        )
        for t in totals
    ]


def aging_sections(figures: dict[str, Any], *, summary_only: bool = False, title: str = "Aging") -> list[Section]:
    """Totals per currency with a chart (and, unless ``summary_only``, a table per customer)."""
    kpis = [
        Kpi(
            f"Open {t['currency']}",
            fmt_money(t["total"]),
            f"{t['invoices']:,} invoices · {fmt_money(t['total'] - t['current'])} past due",
            "neutral",
        )
        for t in figures["totals"]
    ]
    chart_list = aging_charts(figures["totals"])
    total_rows = [dict(t) for t in figures["totals"]]
    sections = [
        Section(
            "aging_summary",
            title,
            intro="Open invoice amounts by days past their due date; unapplied cash is money the customer "
            "has paid that no invoice has absorbed yet.",
            kpis=kpis,
            charts=[] if summary_only else chart_list,
            tables=[
                Table(
                    "aging_totals",
                    "Totals",
                    [
                        Column("currency", "Currency"),
                        Column("customers", "Customers", "int"),
                        Column("invoices", "Invoices", "int"),
                        *_BUCKET_COLUMNS,
                        Column("total", "Open total", "money"),
                        Column("unapplied", "Unapplied cash", "money"),
                        Column("net", "Net", "money"),
                    ],
                    total_rows,
                    None if total_rows else "Nothing open.",
                )
            ],
            sheet="Aging" if summary_only else "Summary",
        )
    ]
    if not summary_only:
        rows = []
        for c in figures["customers"]:
            row = dict(c)
            if c["oldest_days_past_due"] is not None and c["oldest_days_past_due"] > 90:
                row["_style"] = "warn"
            rows.append(row)
        sections.append(
            Section(
                "aging_customers",
                "Per customer",
                tables=[
                    Table(
                        "aging_customers",
                        "Per customer",
                        [
                            Column("customer_id", "Customer"),
                            Column("name", "Name"),
                            Column("currency", "Currency"),
                            Column("invoices", "Invoices", "int"),
                            *_BUCKET_COLUMNS,
                            Column("total", "Open total", "money"),
                            Column("unapplied", "Unapplied cash", "money"),
                            Column("net", "Net", "money"),
                        ],
                        rows,
                        None if rows else "Nothing open.",
                        limit=200,
                    )
                ],
                sheet="Customers",
            )
        )
    return sections
