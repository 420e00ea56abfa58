"""The month-end reconciliation: does the bank's closing balance follow from what recon knows?

For each bank account (and in total per currency):

* **Bank side**: the statements of the period (those whose closing date, else
  last booking date, falls in the month) that carry both balances, in order;
  the period opens with the first one's opening balance and closes with the
  last one's closing balance.  A gap (a statement's opening balance differs
  from the previous statement's closing balance, also across the start of the
  period) and every balance warning the import recorded are shown.
* **Movements**: the transactions booked in the period (widened to the
  statements' own booking dates when a statement straddles the month), each
  amount split into classes as they stood at the *cutoff*: posted
  automatically, posted by a person, held as unapplied cash, still in the
  queue, set aside as not a customer payment, not classified, and debits.  The
  split always adds up to the transaction (see
  :func:`reports.data.classify_movements`).
* **Reconciliation**: closing balance against opening balance plus every
  class; the difference is zero when recon holds every movement the bank
  booked, and otherwise equals what is missing.  A non-zero difference is
  explained line by line: balance gaps between statements, statements whose
  own lines do not add up to their balances (a line recon does not hold), and
  what remains unexplained.

The *cutoff* is 24:00 (in the rules' time zone) of the period's last day or,
when the period's last bank lines were imported later, of the day they were
imported (the October 31 statement arrives on November 1 and the daily job
matches it that morning), plus ``[reports] cutoff_days_after`` days; or
``--as-at``.  Decisions recorded after it do not change the report, so the
numbers a controller closed the month with can be produced again later; a
report made before its cutoff has passed says it is provisional.  A
transaction counts as posted automatically when an automatic allocation was
posted (and not reversed) by the cutoff; pending four-eyes adjustments count
from approval.  The book side opens at the previous period's cutoff, so
consecutive months chain.

Also: the book side (receivables open at the start, invoiced, received,
adjusted by reason, reversed, open at the end; it ties by construction and the
tie is checked), automation (share of receipts posted automatically by count
and amount, per day), the queue at the cutoff by reason and age, the
unapplied cash, and the aging at the period's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import Engine, and_, or_, select

from ledger.models import BankTransaction
from ledger.posting import compact_account
from reports import charts
from reports.aging import aging_charts, aging_figures, aging_sections
from reports.base import Chart, Column, Kpi, Report, Section, Table, fmt_money, fmt_pct, pct
from reports.data import (
    MOVEMENT_CLASSES,
    ZERO,
    Period,
    ReportError,
    StatementRow,
    bank_accounts,
    book_groups,
    cents,
    customers_frame,
    money,
    movement_groups,
    pending_allocation_ids,
    period_cutoff,
    previous_period,
    queue_summary,
    snapshot,
    statements_of,
    unapplied_at,
    window_filter,
    zone,
)
from rules import Rules, load_rules

CLASS_LABELS = dict(MOVEMENT_CLASSES)
CLASS_KEYS = [k for k, _ in MOVEMENT_CLASSES]


# --- the reconciliation itself ------------------------------------------------------------------------


@dataclass(slots=True)
class ReconLine:
    """One classified movement line of a reconciliation."""

    key: str
    label: str
    count: int
    amount: Decimal


def reconcile(
    opening: Decimal | None, closing: Decimal | None, lines: list[ReconLine]
) -> dict[str, Any]:
    """Closing balance against opening balance plus every line.

    ``difference = closing - (opening + sum(lines))``: zero when the lines hold
    every movement; leaving a line out makes it exactly that line's amount.
    None when the bank side has no balances.

    >>> reconcile(Decimal("100"), Decimal("130"), [ReconLine("auto", "a", 1, Decimal("30"))])["difference"]
    Decimal('0')
    """
    movements = sum((ln.amount for ln in lines), ZERO)
    expected = None if opening is None else opening + movements
    difference = None if expected is None or closing is None else closing - expected
    return {
        "opening_balance": opening,
        "lines": [{"class": ln.key, "label": ln.label, "count": ln.count, "amount": ln.amount} for ln in lines],
        "movements": movements,
        "expected_closing": expected,
        "closing_balance": closing,
        "difference": difference,
    }


# --- bank side -------------------------------------------------------------------------------------------


def _bank_side(stmts: list[StatementRow], period: Period) -> dict[str, Any]:
    """The statements of the period in order, the balances, the gaps, the warnings, the booking window."""
    dated = [s for s in stmts if s.day is not None]
    in_period = sorted(
        (s for s in dated if period.start <= s.day <= period.end),  # type: ignore[operator]
        key=lambda s: (s.day, s.opening_date or s.day, s.id),
    )
    chain = [s for s in in_period if s.opening_balance is not None and s.closing_balance is not None]
    without = [s for s in in_period if s not in chain]
    previous = max(
        (s for s in dated if s.day < period.start and s.closing_balance is not None),  # type: ignore[operator]
        key=lambda s: (s.day, s.id),
        default=None,
    )
    gaps: list[dict[str, Any]] = []
    if chain and previous is not None and previous.closing_balance != chain[0].opening_balance:
        gaps.append(_gap(previous, chain[0], before_period=True))
    for a, b in zip(chain, chain[1:], strict=False):
        if a.closing_balance != b.opening_balance:
            gaps.append(_gap(a, b, before_period=False))
    window_start, window_end = period.start, period.end
    if chain:
        window_start = min(window_start, chain[0].first_booking_date or window_start)
        window_end = max(window_end, chain[-1].last_booking_date or window_end)
    warnings = [
        {"statement": s.label, "statement_id": s.id, "warning": w} for s in in_period for w in s.warnings
    ]
    checks = []
    for s in chain:
        moved = s.closing_balance - s.opening_balance  # type: ignore[operator]
        lines = money(s.lines_c)
        checked = s.duplicate_count == 0
        checks.append(
            {
                "statement": s.label,
                "statement_id": s.id,
                "opening_date": s.opening_date,
                "opening_balance": s.opening_balance,
                "closing_date": s.closing_date,
                "closing_balance": s.closing_balance,
                "lines": s.line_count,
                "duplicates": s.duplicate_count,
                "lines_amount": lines,
                "missing": moved - lines if checked else None,
            }
        )
    return {
        "opening_balance": chain[0].opening_balance if chain else None,
        "opening_date": chain[0].opening_date if chain else None,
        "closing_balance": chain[-1].closing_balance if chain else None,
        "closing_date": chain[-1].closing_date if chain else None,
        "statements": checks,
        "statements_without_balances": [s.label for s in without],
        "gaps": gaps,
        "warnings": warnings,
        "window": (window_start, window_end),
    }


def _gap(a: StatementRow, b: StatementRow, *, before_period: bool) -> dict[str, Any]:
    overlap = bool(
        a.last_booking_date and b.first_booking_date and b.first_booking_date <= a.last_booking_date
    )
    return {
        "after_statement": a.label,
        "after_closing_date": a.closing_date,
        "after_closing_balance": a.closing_balance,
        "statement": b.label,
        "opening_date": b.opening_date,
        "opening_balance": b.opening_balance,
        "amount": b.opening_balance - a.closing_balance,  # type: ignore[operator]
        "before_period": before_period,
        "overlap": overlap,
    }


def _explain(bank: dict[str, Any], difference: Decimal | None) -> list[dict[str, Any]]:
    """Explain a non-zero difference: gaps inside the period, statements missing lines, the rest."""
    if difference is None or difference == ZERO:
        return []
    out: list[dict[str, Any]] = []
    explained = ZERO
    for g in bank["gaps"]:
        if g["before_period"]:
            continue  # the period starts from its own opening balance: a gap before it does not count
        what = "statements overlap" if g["overlap"] else "a statement is missing"
        out.append(
            {
                "label": f"balance gap before {g['statement']}: opening {g['opening_balance']} on "
                f"{g['opening_date']} after closing {g['after_closing_balance']} on {g['after_closing_date']} "
                f"({what})",
                "amount": g["amount"],
            }
        )
        explained += g["amount"]
    for s in bank["statements"]:
        if s["missing"]:
            out.append(
                {
                    "label": f"statement {s['statement']}: its balances move by "
                    f"{s['closing_balance'] - s['opening_balance']}, its lines in recon add up to "
                    f"{s['lines_amount']}: lines recon does not hold",
                    "amount": s["missing"],
                }
            )
            explained += s["missing"]
    rest = difference - explained
    if rest != ZERO:
        out.append(
            {
                "label": "not explained by the statements: movements booked outside the statements' dates, "
                "or lines held under an overlapping statement",
                "amount": rest,
            }
        )
    return out


# --- the report ------------------------------------------------------------------------------------------


def month_end(
    engine: Engine,
    period: Period,
    *,
    accounts: list[str] | None = None,
    rules: Rules | None = None,
    as_at: datetime | None = None,
    now: datetime | None = None,
) -> Report:
    """Compute the month-end report for ``period`` (all accounts, or the named ones)."""
    rules = rules or load_rules()
    tz = zone(rules.get("reports.timezone"))
    grace = int(rules.get("reports.cutoff_days_after", 0) or 0)
    now = now or datetime.now(UTC)
    buckets = [int(b) for b in rules.get("reports.queue_age_buckets", [2, 7, 14, 30])]

    if accounts:
        # as the importer stores them: no spaces, upper case
        accounts = [compact_account(a) or a for a in accounts]
    with snapshot(engine) as conn:
        accs = bank_accounts(conn, accounts)
        if accounts:
            unknown = sorted(set(accounts) - {a[1] for a in accs})
            if unknown:
                known = [a[1] for a in bank_accounts(conn)]
                raise ReportError(
                    f"no bank account {', '.join(unknown)}; the imported statements name "
                    + (", ".join(known[:10]) + (" ..." if len(known) > 10 else "") if known else "none yet")
                )
        acc_ids = [a[0] for a in accs]
        stmts = statements_of(conn, acc_ids)
        banks = {aid: _bank_side([s for s in stmts if s.account_id == aid], period) for aid in acc_ids}
        windows = [
            and_(
                BankTransaction.account_id == aid,
                BankTransaction.booking_date >= banks[aid]["window"][0],
                BankTransaction.booking_date <= banks[aid]["window"][1],
            )
            for aid in acc_ids
        ]
        txn_filter = select(BankTransaction.id).where(or_(*windows) if windows else BankTransaction.id < 0)
        cutoff = as_at.astimezone(UTC) if as_at else period_cutoff(conn, period, txn_filter, tz, grace)
        before = previous_period(period)
        start_cutoff = period_cutoff(conn, before, window_filter(before.start, before.end, acc_ids), tz, grace)
        pending = pending_allocation_ids(conn)
        moves = movement_groups(conn, txn_filter, cutoff, pending)
        queue = queue_summary(conn, cutoff, buckets)
        unapplied = unapplied_at(conn, cutoff, pending)
        book = book_groups(conn, period.start, period.end, start_cutoff, cutoff, pending)
        customers = customers_frame(conn, sorted(set(unapplied["customer_id"].to_list())))
        aging = aging_figures(conn, period.end, cutoff, pending=pending, unapplied=unapplied)

    acc_results = []
    for aid, account, currency, name in accs:
        m = moves.filter(pl.col("account_id") == aid)
        cur = currency or _main_currency(m)
        acc_results.append(_account_result(account, cur, name, banks[aid], m))
    totals = _totals(acc_results)
    data: dict[str, Any] = {
        "report": "month-end",
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "cutoff": cutoff,
        "provisional": cutoff > now,
        "start_cutoff": start_cutoff,
        "generated_at": now,
        "accounts": acc_results,
        "totals": totals,
        "automation": _automation(moves),
        "automation_by_day": _automation_by_day(moves),
        "book": _book_side(book),
        "queue": _queue(queue, cutoff, buckets),
        "unapplied_cash": _unapplied(unapplied, customers),
        "aging": {"as_of": period.end, "totals": aging["totals"]},
    }
    return Report(
        kind="month-end",
        title=f"Month-end reconciliation {period.label}",
        subtitle=(
            f"{period.start.isoformat()} to {period.end.isoformat()} · classified by the decisions recorded by "
            f"{_moment(cutoff, tz)}" + (" (provisional: that moment has not come yet)" if cutoff > now else "")
            + f" · generated {_moment(now, tz)}"
        ),
        data=data,
        sections=_sections(data, aging),
        generated_at=now,
    )


def _moment(at: datetime, tz: Any) -> str:
    local = at.astimezone(tz)
    if local.hour == 0 and local.minute == 0 and local.second == 0:
        return f"{(local.date() - timedelta(days=1)).isoformat()} 24:00 {local.tzname()}"
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def _main_currency(m: pl.DataFrame) -> str | None:
    if m.is_empty():
        return None
    top = m.group_by("currency").agg(pl.col("n").sum()).sort("n", descending=True)
    return top["currency"][0]


def _class_lines(m: pl.DataFrame) -> list[ReconLine]:
    """The movement classes of a set of classified transactions: amount and count per class."""
    lines = []
    amounts = {
        "auto": int(m["auto_c"].sum() or 0),
        "manual": int(m["manual_c"].sum() or 0),
        "unapplied": int(m["unapplied_c"].sum() or 0),
    }
    rest = m.group_by("rest_class").agg(pl.col("rest_c").sum()).drop_nulls("rest_class")
    for key, value in rest.iter_rows():
        amounts[key] = int(value)
    counts = dict(m.group_by("primary_class").agg(pl.col("n").sum()).iter_rows())
    for key in CLASS_KEYS:
        lines.append(ReconLine(key, CLASS_LABELS[key], int(counts.get(key, 0)), money(amounts.get(key, 0))))
    return lines


def _account_result(
    account: str, currency: str | None, name: str | None, bank: dict[str, Any], m: pl.DataFrame
) -> dict[str, Any]:
    lines = _class_lines(m)
    rec = reconcile(bank["opening_balance"], bank["closing_balance"], lines)
    rec["explanation"] = _explain(bank, rec["difference"])
    set_aside = (
        m.filter(pl.col("rest_class") == "set_aside")
        .group_by(pl.col("ignore_reason").fill_null("(no reason recorded)"))
        .agg(pl.col("n").sum().alias("count"), pl.col("rest_c").sum().alias("amount_c"))
        .sort("amount_c", "ignore_reason", descending=[True, False])
    )
    window = bank.pop("window")
    return {
        "account": account,
        "name": name,
        "currency": currency,
        "window": {"from": window[0], "to": window[1]},
        "transactions": int(m["n"].sum() or 0),
        "bank": bank,
        "reconciliation": rec,
        "set_aside_by_reason": [
            {"reason": r, "count": int(n), "amount": money(c)} for r, n, c in set_aside.iter_rows()
        ],
    }


def _totals(accs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per currency: the accounts' reconciliations added up (difference None if an account has no balances)."""
    out = []
    for cur in sorted({a["currency"] or "" for a in accs}):
        group = [a for a in accs if (a["currency"] or "") == cur]
        lines = []
        for i, key in enumerate(CLASS_KEYS):
            lines.append(
                ReconLine(
                    key,
                    CLASS_LABELS[key],
                    sum(a["reconciliation"]["lines"][i]["count"] for a in group),
                    sum((a["reconciliation"]["lines"][i]["amount"] for a in group), ZERO),
                )
            )
        complete = all(a["bank"]["opening_balance"] is not None for a in group)
        opening = sum((a["bank"]["opening_balance"] for a in group), ZERO) if complete else None
        closing = sum((a["bank"]["closing_balance"] for a in group), ZERO) if complete else None
        rec = reconcile(opening, closing, lines)
        rec["accounts"] = [a["account"] for a in group]
        rec["currency"] = cur or None
        out.append(rec)
    return out


def _receipts(m: pl.DataFrame) -> pl.DataFrame:
    # customer receipts: credits (a debit's class is "debit") not set aside as non-customer
    return m.filter(~pl.col("primary_class").is_in(["debit", "set_aside"]))


def _automation(m: pl.DataFrame) -> list[dict[str, Any]]:
    """Per currency: the share of customer receipts (credits not set aside) posted automatically."""
    receipts = _receipts(m)
    out = []
    for cur in sorted(receipts["currency"].fill_null("").unique().to_list()):
        r = receipts.filter(pl.col("currency").fill_null("") == cur)
        n = int(r["n"].sum() or 0)
        auto_n = int(r.filter(pl.col("primary_class") == "auto")["n"].sum() or 0)
        manual_n = int(r.filter(pl.col("primary_class") == "manual")["n"].sum() or 0)
        total_c = int(r["amount_c"].sum() or 0)
        auto_c = int(r["auto_c"].sum() or 0)
        manual_c = int(r["manual_c"].sum() or 0)
        out.append(
            {
                "currency": cur or None,
                "receipts": n,
                "receipts_amount": money(total_c),
                "posted_automatically": auto_n,
                "posted_automatically_amount": money(auto_c),
                "posted_by_person": manual_n,
                "posted_by_person_amount": money(manual_c),
                "automation_rate_count": pct(auto_n, n),
                "automation_rate_amount": pct(auto_c, total_c),
            }
        )
    return out


def _automation_by_day(m: pl.DataFrame) -> list[dict[str, Any]]:
    per_day = (
        _receipts(m)
        .group_by("booking_date")
        .agg(
            pl.col("n").sum().alias("receipts"),
            pl.col("n").filter(pl.col("primary_class") == "auto").sum().alias("auto"),
        )
        .sort("booking_date")
    )
    return [
        {"date": d, "receipts": int(n), "posted_automatically": int(a), "automation_rate_count": pct(a, n)}
        for d, n, a in per_day.iter_rows()
    ]


def _book_side(book: pl.DataFrame) -> list[dict[str, Any]]:
    """Per currency: open at start + invoiced - settled outside recon - received - adjusted + reversed = open at end."""
    out = []
    for cur in sorted(book["currency"].unique().to_list()):
        b = book.filter(pl.col("currency") == cur)
        new = b.filter(pl.col("before") == 0)
        old = b.filter(pl.col("before") == 1)

        def total(df: pl.DataFrame, col: str) -> int:
            return int(df[col].sum() or 0)

        open_start = total(old, "open_start_c")
        invoiced = total(new, "amount_c")
        # what the ERP had already settled when recon loaded an invoice of this period, plus anything
        # recon posted against it before the period began (an invoice loaded ahead of its issue date)
        outside = total(new, "amount_c") - total(new, "open_c") - total(new, "now_c") + total(new, "settled_start_c")
        received = total(b, "cash_in_c")
        adjusted = {
            "discount": money(total(b, "adj_discount_c")),
            "bank-charges": money(total(b, "adj_bank_charges_c")),
            "write-off": money(total(b, "adj_write_off_c")),
        }
        reversed_ = total(b, "reversed_c")
        open_end = total(b, "open_end_c")
        computed = open_start + invoiced - outside - received - sum(cents(v) for v in adjusted.values()) + reversed_
        out.append(
            {
                "currency": cur,
                "open_at_start": money(open_start),
                "invoiced": money(invoiced),
                "invoices_issued": total(new, "n"),
                "settled_outside_recon": money(outside),
                "received": money(received),
                "adjusted": adjusted,
                "reversed": money(reversed_),
                "open_at_end": money(open_end),
                "check_difference": money(open_end - computed),
            }
        )
    return out


def _queue(q: pl.DataFrame, cutoff: datetime, buckets: list[int]) -> dict[str, Any]:
    """The queue open at the cutoff, by reason and by age (whole days since the item was opened)."""
    labels = _age_labels(buckets)
    by_reason = (
        q.group_by("reason", "currency")
        .agg(pl.col("n").sum().alias("count"), pl.col("amount_c").sum().alias("amount_c"), pl.col("oldest").min())
        .sort(["count", "reason"], descending=[True, False])
    )
    currencies = sorted(q["currency"].fill_null("").unique().to_list()) or [""]
    age_rows = []
    for i, label in enumerate(labels):
        for cur in currencies:
            hit = q.filter((pl.col("bucket") == i) & (pl.col("currency").fill_null("") == cur))
            age_rows.append(
                {
                    "age": label,
                    "currency": cur or None,
                    "count": int(hit["n"].sum() or 0),
                    "amount": money(int(hit["amount_c"].sum() or 0)),
                }
            )
    return {
        "open": int(q["n"].sum() or 0),
        "amount_by_currency": {
            (c or ""): money(int(v))
            for c, v in q.group_by("currency").agg(pl.col("amount_c").sum()).sort("currency").iter_rows()
        },
        "by_reason": [
            {
                "reason": r,
                "currency": c,
                "count": int(n),
                "amount": money(a),
                "oldest_days": int((cutoff - oldest).total_seconds() // 86400),
            }
            for r, c, n, a, oldest in by_reason.iter_rows()
        ],
        "by_age": age_rows,
    }


def _age_labels(buckets: list[int]) -> list[str]:
    labels, low = [], 0
    for edge in buckets:
        labels.append(f"{low}-{edge} days")
        low = edge + 1
    labels.append(f"over {buckets[-1]} days" if buckets else "all")
    return labels


def _unapplied(u: pl.DataFrame, customers: pl.DataFrame) -> dict[str, Any]:
    df = u.join(customers.select("customer_id", "name"), on="customer_id", how="left").sort(
        "unapplied_c", descending=True
    )
    rows = [
        {"customer_id": cid, "name": name, "currency": cur, "payments": int(n), "amount": money(c)}
        for cid, cur, c, n, name in df.select("customer_id", "currency", "unapplied_c", "payments", "name").iter_rows()
    ]
    totals = {
        (c or ""): money(int(v)) for c, v in u.group_by("currency").agg(pl.col("unapplied_c").sum()).sort("currency").iter_rows()
    }
    return {"customers": rows, "totals": totals}


# --- layout for people -----------------------------------------------------------------------------------


def _sections(data: dict[str, Any], aging: dict[str, Any]) -> list[Section]:
    out: list[Section] = []
    out.append(_summary_section(data, aging["totals"]))
    out.append(_reconciliation_section(data))
    out.append(_statements_section(data))
    out.append(_automation_section(data))
    out.append(_book_section(data))
    out.append(_queue_section(data))
    out.append(_unapplied_section(data))
    out.extend(aging_sections(aging, summary_only=True, title=f"Aging at {data['to'].isoformat()}"))
    return out


def _summary_section(data: dict[str, Any], aging_totals: list[dict[str, Any]]) -> Section:
    kpis = []
    for t in data["totals"]:
        diff = t["difference"]
        cur = t["currency"] or ""
        kpis.append(
            Kpi(
                f"Difference {cur}".strip(),
                "no balances" if diff is None else f"{fmt_money(diff)}",
                "bank closing vs opening + classified movements",
                "neutral" if diff is None else ("good" if diff == ZERO else "bad"),
            )
        )
    for a in data["automation"]:
        kpis.append(
            Kpi(
                f"Posted automatically {a['currency'] or ''}".strip(),
                fmt_pct(a["automation_rate_count"]) or "–",
                f"{a['posted_automatically']:,} of {a['receipts']:,} receipts · "
                f"{fmt_pct(a['automation_rate_amount']) or '–'} of the amount",
                "neutral",
            )
        )
    q = data["queue"]
    kpis.append(
        Kpi(
            "Queue at cutoff",
            f"{q['open']:,}",
            " · ".join(f"{fmt_money(v)} {k}".strip() for k, v in q["amount_by_currency"].items()) or "empty",
            "warn" if q["open"] else "good",
        )
    )
    un = data["unapplied_cash"]["totals"]
    for cur, amount in list(un.items()) or [("", ZERO)]:
        holders = sum(1 for c in data["unapplied_cash"]["customers"] if (c["currency"] or "") == cur)
        kpis.append(
            Kpi(f"Unapplied cash {cur}".strip(), fmt_money(amount), f"held for {holders:,} customer(s)", "neutral")
        )
    charts_ = []
    days = data["automation_by_day"]
    if days:
        charts_.append(
            Chart(
                "automation_by_day",
                "Share of receipts posted automatically, per booking day",
                charts.bar_chart(
                    [d["date"].strftime("%d") for d in days],
                    [float(d["automation_rate_count"] or 0) for d in days],
                    value_format="{:.0f}%",
                    y_max=100.0,
                    tooltips=[
                        f"{d['date'].isoformat()}: {d['posted_automatically']} of {d['receipts']} receipts"
                        for d in days
                    ],
                    x_label="booking day",
                    width=940,
                ),
                wide=True,
            )
        )
    charts_.append(_queue_chart(data["queue"]))
    charts_.extend(aging_charts(aging_totals))
    return Section(
        "summary",
        "Summary",
        intro=(
            "The bank's closing balance against its opening balance plus every movement recon classified. "
            "A difference of zero means recon holds every movement the bank booked in the period."
        ),
        kpis=kpis,
        charts=[c for c in charts_ if c is not None],
        sheet="Summary",
    )


_REC_COLUMNS = [
    Column("line", "Line"),
    Column("count", "Transactions", "int"),
    Column("amount", "Amount", "money"),
]


def _rec_rows(rec: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"line": "Opening balance (bank)", "count": None, "amount": rec["opening_balance"], "_style": "subtotal"}
    ]
    for ln in rec["lines"]:
        rows.append({"line": "+ " + ln["label"], "count": ln["count"], "amount": ln["amount"]})
    rows.append({"line": "= Expected closing balance", "count": None, "amount": rec["expected_closing"], "_style": "subtotal"})
    rows.append({"line": "Closing balance (bank)", "count": None, "amount": rec["closing_balance"], "_style": "subtotal"})
    diff = rec["difference"]
    rows.append(
        {
            "line": "Difference (closing - expected)",
            "count": None,
            "amount": diff,
            "_style": "total " + ("good" if diff == ZERO else "warn"),
        }
    )
    for e in rec.get("explanation") or []:
        rows.append({"line": "  explained: " + e["label"], "count": None, "amount": e["amount"], "_style": "warn"})
    return rows


def _reconciliation_section(data: dict[str, Any]) -> Section:
    tables = []
    for a in data["accounts"]:
        title = f"Account {a['account']}" + (f" ({a['name']})" if a["name"] else "") + (
            f" · {a['currency']}" if a["currency"] else ""
        )
        w = a["window"]
        note = f"Movements booked {w['from'].isoformat()} to {w['to'].isoformat()}: {a['transactions']:,} transactions."
        if a["bank"]["opening_balance"] is None:
            note += " No statement of the period carries balances: the difference cannot be computed."
        tables.append(Table(f"reconciliation_{a['account']}", title, _REC_COLUMNS, _rec_rows(a["reconciliation"]), note))
        if a["set_aside_by_reason"]:
            tables.append(
                Table(
                    f"set_aside_{a['account']}",
                    f"Set aside as not customer payments, by reason ({a['account']})",
                    [Column("reason", "Reason"), Column("count", "Transactions", "int"), Column("amount", "Amount", "money")],
                    [dict(r) for r in a["set_aside_by_reason"]],
                )
            )
    if len(data["accounts"]) > 1 or not data["accounts"]:
        for t in data["totals"]:
            tables.append(
                Table(
                    f"reconciliation_total_{t['currency']}",
                    f"All accounts · {t['currency'] or 'no currency'}",
                    _REC_COLUMNS,
                    _rec_rows(t),
                    None if t["difference"] is not None else "An account without statement balances: no total difference.",
                )
            )
    return Section(
        "reconciliation",
        "Reconciliation",
        intro=(
            "Each credit is split by what had happened to it by the cutoff; debits are listed as they are. "
            "A difference is explained by balance gaps between statements and statements whose lines recon "
            "does not hold in full."
        ),
        tables=tables,
        sheet="Reconciliation",
    )


def _statements_section(data: dict[str, Any]) -> Section:
    rows, gaps, warns = [], [], []
    for a in data["accounts"]:
        for s in a["bank"]["statements"]:
            rows.append(
                {
                    "account": a["account"],
                    "statement": s["statement"],
                    "opening_date": s["opening_date"],
                    "opening_balance": s["opening_balance"],
                    "closing_date": s["closing_date"],
                    "closing_balance": s["closing_balance"],
                    "lines": s["lines"],
                    "lines_amount": s["lines_amount"],
                    "missing": s["missing"],
                    "_style": "warn" if s["missing"] else "",
                }
            )
        for label in a["bank"]["statements_without_balances"]:
            warns.append({"account": a["account"], "statement": label, "warning": "no opening/closing balance: not in the chain"})
        for g in a["bank"]["gaps"]:
            gaps.append(
                {
                    "account": a["account"],
                    "statement": g["statement"],
                    "opening_date": g["opening_date"],
                    "opening_balance": g["opening_balance"],
                    "previous": g["after_statement"],
                    "previous_closing": g["after_closing_balance"],
                    "amount": g["amount"],
                    "where": ("before the period" if g["before_period"] else "in the period")
                    + (" · overlap" if g["overlap"] else ""),
                    "_style": "warn",
                }
            )
        for w in a["bank"]["warnings"]:
            warns.append({"account": a["account"], "statement": w["statement"], "warning": w["warning"]})
    tables = [
        Table(
            "statements",
            "Statements of the period",
            [
                Column("account", "Account"),
                Column("statement", "Statement"),
                Column("opening_date", "Opening date", "date"),
                Column("opening_balance", "Opening", "money"),
                Column("closing_date", "Closing date", "date"),
                Column("closing_balance", "Closing", "money"),
                Column("lines", "Lines", "int"),
                Column("lines_amount", "Lines total", "money"),
                Column("missing", "Not in recon", "money"),
            ],
            rows,
            "Not in recon: closing - opening - the statement's lines recon holds (empty where the statement "
            "repeated lines already imported from another statement).",
        ),
        Table(
            "gaps",
            "Balance gaps (opening balance differs from the previous closing balance)",
            [
                Column("account", "Account"),
                Column("statement", "Statement"),
                Column("opening_date", "Opening date", "date"),
                Column("opening_balance", "Opening", "money"),
                Column("previous", "Previous statement"),
                Column("previous_closing", "Previous closing", "money"),
                Column("amount", "Gap", "money"),
                Column("where", "Where"),
            ],
            gaps,
            None if gaps else "No gaps.",
        ),
        Table(
            "warnings",
            "Balance warnings",
            [Column("account", "Account"), Column("statement", "Statement"), Column("warning", "Warning")],
            warns,
            None if warns else "No warnings.",
        ),
    ]
    return Section("statements", "Bank statements", tables=tables, sheet="Statements")


def _automation_section(data: dict[str, Any]) -> Section:
    tables = [
        Table(
            "automation",
            "Customer receipts posted automatically",
            [
                Column("currency", "Currency"),
                Column("receipts", "Receipts", "int"),
                Column("receipts_amount", "Amount", "money"),
                Column("posted_automatically", "Automatic", "int"),
                Column("posted_automatically_amount", "Automatic amount", "money"),
                Column("posted_by_person", "By a person", "int"),
                Column("posted_by_person_amount", "By a person amount", "money"),
                Column("automation_rate_count", "Rate (count)", "pct"),
                Column("automation_rate_amount", "Rate (amount)", "pct"),
            ],
            [dict(a) for a in data["automation"]],
            "Receipts: credits not set aside as non-customer. By count a receipt is automatic when only "
            "automatic postings settled it; by amount the cash that automatic postings applied. Receipts "
            "decided after the cutoff (often those of the last day) count as not classified: "
            "--as-at DATE includes later work.",
        ),
        Table(
            "automation_by_day",
            "Per booking day",
            [
                Column("date", "Booking date", "date"),
                Column("receipts", "Receipts", "int"),
                Column("posted_automatically", "Automatic", "int"),
                Column("automation_rate_count", "Rate", "pct"),
            ],
            [dict(d) for d in data["automation_by_day"]],
        ),
    ]
    return Section("automation", "Automation", tables=tables, sheet="Automation")


def _book_section(data: dict[str, Any]) -> Section:
    tables = []
    for b in data["book"]:
        rows = [
            {"line": "Receivables open at the start", "amount": b["open_at_start"], "_style": "subtotal"},
            {"line": f"+ Invoiced ({b['invoices_issued']:,} invoices)", "amount": b["invoiced"]},
            {"line": "- Settled before recon (per the ERP at load)", "amount": -b["settled_outside_recon"]},
            {"line": "- Received (cash applied)", "amount": -b["received"]},
        ]
        for reason, v in b["adjusted"].items():
            rows.append({"line": f"- Adjusted: {reason}", "amount": -v})
        rows.append({"line": "+ Postings undone", "amount": b["reversed"]})
        rows.append({"line": "= Receivables open at the end", "amount": b["open_at_end"], "_style": "total"})
        if b["check_difference"] != ZERO:
            rows.append({"line": "Roll-forward does not tie by", "amount": b["check_difference"], "_style": "warn"})
        tables.append(
            Table(f"book_{b['currency']}", f"Receivables · {b['currency']}", [Column("line", "Line"), Column("amount", "Amount", "money")], rows)
        )
    return Section(
        "book",
        "Book side",
        intro="Receivables rolled forward from the start of the period to its end, from recon's postings.",
        tables=tables,
        sheet="Book side",
    )


def _queue_chart(q: dict[str, Any]) -> Chart | None:
    if not q["open"]:
        return None
    labels = list(dict.fromkeys(r["age"] for r in q["by_age"]))
    counts = [float(sum(r["count"] for r in q["by_age"] if r["age"] == lab)) for lab in labels]
    return Chart(
        "queue_by_age",
        "Queue at cutoff by age (items)",
        charts.bar_chart(labels, counts, value_format="{:.0f}", color=charts.AMBER),
    )


def _queue_section(data: dict[str, Any]) -> Section:
    q = data["queue"]
    ages = q["by_age"]
    return Section(
        "queue",
        "Queue at cutoff",
        intro="Transactions waiting for a person when the period was closed (from any period), by reason and age.",
        tables=[
            Table(
                "queue_by_reason",
                "By reason",
                [
                    Column("reason", "Reason"),
                    Column("currency", "Currency"),
                    Column("count", "Items", "int"),
                    Column("amount", "Amount", "money"),
                    Column("oldest_days", "Oldest (days)", "int"),
                ],
                [dict(r) for r in q["by_reason"]],
                None if q["by_reason"] else "The queue was empty.",
            ),
            Table(
                "queue_by_age",
                "By age",
                [Column("age", "Age"), Column("currency", "Currency"), Column("count", "Items", "int"), Column("amount", "Amount", "money")],
                [dict(r) for r in ages if r["count"]],
                None if q["open"] else "The queue was empty.",
            ),
        ],
        sheet="Queue",
    )


def _unapplied_section(data: dict[str, Any]) -> Section:
    u = data["unapplied_cash"]
    rows = [dict(r) for r in u["customers"]]
    for cur, total in u["totals"].items():
        rows.append({"customer_id": "Total", "name": "", "currency": cur or None, "payments": None, "amount": total, "_style": "total"})
    return Section(
        "unapplied",
        "Unapplied cash",
        intro="Customer money recon holds on account at the cutoff (overpayments, payments before their invoice).",
        tables=[
            Table(
                "unapplied_cash",
                "Per customer",
                [
                    Column("customer_id", "Customer"),
                    Column("name", "Name"),
                    Column("currency", "Currency"),
                    Column("payments", "Payments", "int"),
                    Column("amount", "Amount", "money"),
                ],
                rows,
                None if u["customers"] else "No unapplied cash.",
                limit=50,
            )
        ],
        sheet="Unapplied cash",
    )
