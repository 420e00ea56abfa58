"""Payment behaviour: how fast customers pay, how much they owe against their limit, what cash comes in.

As of a date ``D`` (the data as it stood at the end of that day):

* **DSO** (days sales outstanding), per currency and customer:
  ``open receivables at D / invoiced in the last dso_days days * dso_days``
  (``[reports] dso_days``, default 90), one decimal.
* **Payment habit** per customer, from the invoices paid in full (by recon's
  postings) within ``behaviour_lookback_days`` before ``D``: the paid date is
  the booking date of the last payment applied to the invoice; *days to pay*
  = paid date - issue date, *days late* = paid date - due date (negative:
  early); the averages are plain means over invoices, one decimal; *share
  paid late* = invoices paid after their due date / invoices paid.
* **Credit exposure**: open receivables less unapplied cash, against the
  customer's credit limit; customers over their limit are flagged.
* **Cash-in forecast** for the next weeks: each open invoice is expected on
  its due date moved by its customer's average days late (rounded half away
  from zero; with no history of its own, the average of all customers; with
  none at all, on the due date).  Week 1 is the seven days after ``D``.  An
  invoice whose expected date has already passed is shown apart as
  *overdue beyond habit*, not spread into the weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, func, select

from ledger.models import Allocation, BankTransaction
from reports import charts
from reports.base import Chart, Column, Kpi, Report, Section, Table, fmt_money, pct
from reports.data import (
    Pending,
    allocation_active_at,
    customers_frame,
    end_of_day,
    invoice_settlements,
    money,
    pending_allocation_ids,
    snapshot,
    unapplied_at,
    zone,
)
from rules import Rules, load_rules

ONE = Decimal("0.1")


def _mean(total: int, n: int) -> Decimal | None:
    if not n:
        return None
    return (Decimal(total) / Decimal(n)).quantize(ONE, rounding=ROUND_HALF_UP)


def _paid_dates(conn: Connection, at: datetime, pending: Pending) -> pl.DataFrame:
    """Per invoice: the booking date of the last payment applied to it (active at ``at``)."""
    rows = conn.execute(
        select(Allocation.invoice_id, func.max(BankTransaction.booking_date))
        .join(BankTransaction, BankTransaction.id == Allocation.transaction_id)
        .where(allocation_active_at(at, pending), Allocation.amount > 0)
        .group_by(Allocation.invoice_id)
    )
    return pl.DataFrame([tuple(r) for r in rows], schema={"invoice_id": pl.Utf8, "paid_date": pl.Date}, orient="row")


def behaviour(
    engine: Engine,
    as_of: date,
    *,
    rules: Rules | None = None,
    weeks: int | None = None,
    now: datetime | None = None,
) -> Report:
    """The payment behaviour report as of ``as_of``."""
    rules = rules or load_rules()
    tz = zone(rules.get("reports.timezone"))
    now = now or datetime.now(UTC)
    weeks = int(weeks if weeks is not None else rules.get("reports.forecast_weeks", 8) or 8)
    dso_days = int(rules.get("reports.dso_days", 90) or 90)
    lookback = int(rules.get("reports.behaviour_lookback_days", 365) or 365)
    at = end_of_day(as_of, tz)
    with snapshot(engine) as conn:
        pending = pending_allocation_ids(conn)
        inv = invoice_settlements(conn, {"at": at}, pending=pending, issued_by=as_of)
        paid = _paid_dates(conn, at, pending)
        unapplied = unapplied_at(conn, at, pending)
        customers = customers_frame(conn)

    inv = inv.join(paid, on="invoice_id", how="left")
    open_inv = inv.filter(pl.col("open_at_c") != 0)
    history = inv.filter(
        (pl.col("open_at_c") == 0)
        & pl.col("paid_date").is_not_null()
        & (pl.col("paid_date") <= as_of)
        & (pl.col("paid_date") > as_of - timedelta(days=lookback))
    ).with_columns(
        (pl.col("paid_date") - pl.col("issue_date")).dt.total_days().alias("days_to_pay"),
        (pl.col("paid_date") - pl.col("due_date")).dt.total_days().alias("days_late"),
    )
    habits = (
        history.group_by("customer_id")
        .agg(
            pl.len().alias("paid"),
            pl.col("days_to_pay").sum().alias("sum_pay"),
            pl.col("days_late").sum().alias("sum_late"),
            (pl.col("days_late") > 0).sum().alias("late"),
        )
    )
    overall = {
        "paid": history.height,
        "sum_pay": int(history["days_to_pay"].sum() or 0),
        "sum_late": int(history["days_late"].sum() or 0),
        "late": int((history["days_late"] > 0).sum() or 0),
    }
    sales = inv.filter(pl.col("issue_date") > as_of - timedelta(days=dso_days))

    # --- DSO per currency
    dso_rows = []
    for cur in sorted(set(inv["currency"].to_list())):
        o = int(open_inv.filter(pl.col("currency") == cur)["open_at_c"].sum() or 0)
        s = int(sales.filter(pl.col("currency") == cur)["amount_c"].sum() or 0)
        dso_rows.append(
            {"currency": cur, "open": money(o), "sales": money(s), "days": dso_days, "dso": _dso(o, s, dso_days)}
        )

    # --- per customer: habit, DSO, exposure
    open_by_c = open_inv.group_by("customer_id").agg(
        pl.col("open_at_c").sum().alias("open_c"),
        pl.col("currency").unique().sort().str.join(",").alias("currencies"),
        (pl.col("due_date") < as_of).sum().alias("overdue_invoices"),
    )
    sales_by_c = sales.group_by("customer_id").agg(pl.col("amount_c").sum().alias("sales_c"))
    unapplied_by_c = unapplied.group_by("customer_id").agg(pl.col("unapplied_c").sum())
    per = (
        customers.join(open_by_c, on="customer_id", how="left")
        .join(sales_by_c, on="customer_id", how="left")
        .join(unapplied_by_c, on="customer_id", how="left")
        .join(habits, on="customer_id", how="left")
        .with_columns(pl.col("open_c", "sales_c", "unapplied_c", "paid", "sum_pay", "sum_late", "late").fill_null(0))
        .filter((pl.col("open_c") != 0) | (pl.col("paid") > 0) | (pl.col("unapplied_c") != 0))
        .sort("customer_id")
    )
    global_late = _mean(overall["sum_late"], overall["paid"])
    customer_rows = []
    for r in per.iter_rows(named=True):
        exposure = r["open_c"] - r["unapplied_c"]
        limit = r["credit_limit_c"]
        customer_rows.append(
            {
                "customer_id": r["customer_id"],
                "name": r["name"],
                "currencies": r["currencies"],
                "open": money(r["open_c"]),
                "unapplied": money(r["unapplied_c"]),
                "exposure": money(exposure),
                "credit_limit": None if limit is None else money(limit),
                "limit_used": None if not limit else pct(exposure, limit),
                "over_limit": bool(limit is not None and exposure > limit),
                "dso": _dso(r["open_c"], r["sales_c"], dso_days),
                "invoices_paid": int(r["paid"]),
                "avg_days_to_pay": _mean(r["sum_pay"], r["paid"]),
                "avg_days_late": _mean(r["sum_late"], r["paid"]),
                "share_paid_late": pct(r["late"], r["paid"]),
                "overdue_invoices": int(r["overdue_invoices"] or 0),
            }
        )

    # --- forecast
    late_by_c = {c["customer_id"]: c["avg_days_late"] for c in customer_rows if c["avg_days_late"] is not None}
    forecast = _forecast(open_inv, late_by_c, global_late, as_of, weeks)

    data: dict[str, Any] = {
        "report": "behaviour",
        "as_of": as_of,
        "generated_at": now,
        "dso_days": dso_days,
        "lookback_days": lookback,
        "dso": dso_rows,
        "overall": {
            "invoices_paid": overall["paid"],
            "avg_days_to_pay": _mean(overall["sum_pay"], overall["paid"]),
            "avg_days_late": global_late,
            "share_paid_late": pct(overall["late"], overall["paid"]),
            "customers_over_limit": sum(1 for c in customer_rows if c["over_limit"]),
        },
        "customers": customer_rows,
        "forecast": forecast,
    }
    return Report(
        kind="behaviour",
        title=f"Payment behaviour as of {as_of.isoformat()}",
        subtitle=(
            f"DSO over {dso_days} days · habits from invoices paid in the last {lookback} days · "
            f"cash-in forecast for {weeks} weeks · generated {now.astimezone(tz):%Y-%m-%d %H:%M}"
        ),
        data=data,
        sections=_sections(data),
        generated_at=now,
    )


def _dso(open_c: int, sales_c: int, days: int) -> Decimal | None:
    if not sales_c:
        return None
    return (Decimal(open_c) * days / Decimal(sales_c)).quantize(ONE, rounding=ROUND_HALF_UP)


def _forecast(
    open_inv: pl.DataFrame, late_by_c: dict[str, Decimal], global_late: Decimal | None, as_of: date, weeks: int
) -> list[dict[str, Any]]:
    """Per currency: expected cash per week, later, and overdue beyond habit."""
    shift = {
        cid: int(v.quantize(Decimal("1"), rounding=ROUND_HALF_UP)) for cid, v in late_by_c.items()
    }
    default = int(global_late.quantize(Decimal("1"), rounding=ROUND_HALF_UP)) if global_late is not None else 0
    df = open_inv.with_columns(
        pl.col("customer_id").replace_strict(shift, default=default, return_dtype=pl.Int64).alias("shift")
    ).with_columns((pl.col("due_date") + pl.duration(days=pl.col("shift"))).alias("expected"))
    df = df.with_columns(((pl.col("expected") - pl.lit(as_of)).dt.total_days() - 1).alias("ahead"))
    df = df.with_columns(
        pl.when(pl.col("ahead") < 0)
        .then(pl.lit(-1))
        .when(pl.col("ahead") >= 7 * weeks)
        .then(pl.lit(weeks))
        .otherwise(pl.col("ahead") // 7)
        .alias("week")
    )
    out = []
    for cur in sorted(set(df["currency"].to_list())):
        d = df.filter(pl.col("currency") == cur)
        sums = dict(d.group_by("week").agg(pl.col("open_at_c").sum()).iter_rows())
        rows = []
        for w in range(weeks):
            first = as_of + timedelta(days=1 + 7 * w)
            rows.append(
                {"week": w + 1, "from": first, "to": first + timedelta(days=6), "amount": money(sums.get(w, 0))}
            )
        out.append(
            {
                "currency": cur,
                "weeks": rows,
                "later": money(sums.get(weeks, 0)),
                "overdue_beyond_habit": money(sums.get(-1, 0)),
                "open_total": money(int(d["open_at_c"].sum() or 0)),
            }
        )
    return out


def _lateness(days: Decimal | None) -> str:
    if days is None:
        return "no invoices paid yet"
    if days > 0:
        return f"paid on average {days} days after the due date"
    if days < 0:
        return f"paid on average {-days} days before the due date"
    return "paid on average on the due date"


def _sections(data: dict[str, Any]) -> list[Section]:
    o = data["overall"]
    kpis = [
        *[
            Kpi(f"DSO {d['currency']}", "–" if d["dso"] is None else f"{d['dso']} days",
                f"open {fmt_money(d['open'])} / sales {fmt_money(d['sales'])} of {d['days']} days")
            for d in data["dso"]
        ],
        Kpi("Average days to pay", "–" if o["avg_days_to_pay"] is None else f"{o['avg_days_to_pay']} days",
            f"{o['invoices_paid']:,} invoices paid"),
        Kpi("Paid late", "–" if o["share_paid_late"] is None else f"{o['share_paid_late']:.1f} %",
            _lateness(o["avg_days_late"])),
        Kpi("Over credit limit", f"{o['customers_over_limit']:,}", "customers", "bad" if o["customers_over_limit"] else "good"),
    ]
    chart_list = []
    for f in data["forecast"]:
        labels = ["overdue"] + [f"W{w['week']}" for w in f["weeks"]] + ["later"]
        values = [float(f["overdue_beyond_habit"])] + [float(w["amount"]) for w in f["weeks"]] + [float(f["later"])]
        chart_list.append(
            Chart(
                f"forecast_{f['currency']}",
                f"Expected cash-in by week ({f['currency']})",
                charts.bar_chart(labels, values, value_format="{:,.0f}",
                                 colors=[charts.RED] + [charts.BLUE] * len(f["weeks"]) + [charts.GREY]),
            )
        )
    customer_rows = []
    for c in data["customers"]:
        row = dict(c)
        if c["over_limit"]:
            row["_style"] = "warn"
        row["over_limit"] = "OVER LIMIT" if c["over_limit"] else ""
        customer_rows.append(row)
    forecast_rows = []
    for f in data["forecast"]:
        forecast_rows.append({"period": "Overdue beyond habit", "currency": f["currency"], "amount": f["overdue_beyond_habit"], "_style": "warn"})
        for w in f["weeks"]:
            forecast_rows.append(
                {"period": f"Week {w['week']}", "from": w["from"], "to": w["to"], "currency": f["currency"], "amount": w["amount"]}
            )
        forecast_rows.append({"period": "Later", "currency": f["currency"], "amount": f["later"]})
        forecast_rows.append({"period": "Open total", "currency": f["currency"], "amount": f["open_total"], "_style": "total"})
    return [
        Section(
            "behaviour_summary", "Summary", kpis=kpis, charts=chart_list,
            tables=[
                Table(
                    "dso",
                    "Days sales outstanding",
                    [Column("currency", "Currency"), Column("open", "Open receivables", "money"),
                     Column("sales", "Invoiced in the window", "money"), Column("days", "Window (days)", "int"),
                     Column("dso", "DSO (days)", "decimal")],
                    [dict(d) for d in data["dso"]],
                )
            ],
            sheet="Summary",
        ),
        Section(
            "behaviour_customers",
            "Customers",
            intro="Payment habit from invoices paid in full; exposure = open receivables less unapplied cash.",
            tables=[
                Table(
                    "customers",
                    "Per customer",
                    [
                        Column("customer_id", "Customer"),
                        Column("name", "Name"),
                        Column("invoices_paid", "Paid", "int"),
                        Column("avg_days_to_pay", "Avg days to pay", "decimal"),
                        Column("avg_days_late", "Avg days late", "decimal"),
                        Column("share_paid_late", "Paid late %", "pct"),
                        Column("dso", "DSO", "decimal"),
                        Column("open", "Open", "money"),
                        Column("unapplied", "Unapplied", "money"),
                        Column("exposure", "Exposure", "money"),
                        Column("credit_limit", "Credit limit", "money"),
                        Column("limit_used", "Limit used %", "pct"),
                        Column("over_limit", "Flag"),
                    ],
                    customer_rows,
                    None if customer_rows else "No customer activity.",
                )
            ],
            sheet="Customers",
        ),
        Section(
            "forecast",
            "Cash-in forecast",
            intro="Open invoices expected on their due date moved by the customer's average days late.",
            tables=[
                Table(
                    "forecast",
                    "Expected cash-in",
                    [Column("period", "Period"), Column("from", "From", "date"), Column("to", "To", "date"),
                     Column("currency", "Currency"), Column("amount", "Expected", "money")],
                    forecast_rows,
                    None if forecast_rows else "Nothing open.",
                )
            ],
            sheet="Forecast",
        ),
    ]
