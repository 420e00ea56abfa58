"""The customer statement of account (对账单): what we invoiced, what we received, what is still open.

For one customer and one month: the balance brought forward, every invoice
issued, payment received and adjustment granted in the month, in date order
with a running balance, the balance carried forward, and the items still
open at the end of the month, ready to send to the customer to confirm.

The statement is as recon's books stand when it is made (an undone posting is
not shown; a payment posted late appears on the day the customer paid), and
every line carries the customer's own date:

* an invoice on its issue date (debit);
* what the ERP had already settled when recon loaded the invoice, as one
  credit "settled before" on the issue date;
* a payment on its booking date: the cash applied to this customer's
  invoices plus what recon holds on the customer's account from it (credit);
* an adjustment (discount, bank charges, write-off) on the payment's date.

A positive balance is owed by the customer; a negative one is in its favour.
Balances run per currency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from ledger.models import Allocation, BankTransaction, Customer, Invoice, UnappliedCash
from reports.base import Column, Kpi, Report, Section, Table, fmt_money
from reports.data import ZERO, Period, ReportError, cents_of, money, snapshot, zone
from rules import Rules, load_rules

ADJUSTMENT_LABELS = {"discount": "Early-payment discount", "bank-charges": "Bank charges", "write-off": "Written off"}


def statement_of_account(
    engine: Engine,
    customer_id: str,
    period: Period,
    *,
    rules: Rules | None = None,
    now: datetime | None = None,
) -> Report:
    """The statement of account of ``customer_id`` for ``period``."""
    rules = rules or load_rules()
    tz = zone(rules.get("reports.timezone"))
    now = now or datetime.now(UTC)
    with snapshot(engine) as conn:
        cust = conn.execute(
            select(Customer.customer_id, Customer.name, Customer.email, Customer.phone).where(
                Customer.customer_id == customer_id
            )
        ).first()
        if cust is None:
            raise ReportError(f"no customer {customer_id!r} (load it with `recon load customers FILE`)")
        invoices = conn.execute(
            select(
                Invoice.invoice_id, Invoice.issue_date, Invoice.due_date, Invoice.currency,
                cents_of(Invoice.amount), cents_of(Invoice.open_amount),
            ).where(Invoice.customer_id == customer_id, Invoice.status != "cancelled")
        ).all()
        allocs = conn.execute(
            select(
                Allocation.invoice_id, Allocation.transaction_id, cents_of(Allocation.amount),
                cents_of(Allocation.adjustment_amount), Allocation.adjustment_reason,
                BankTransaction.booking_date, BankTransaction.bank_reference, Invoice.currency,
            )
            .join(Invoice, Invoice.invoice_id == Allocation.invoice_id)
            .join(BankTransaction, BankTransaction.id == Allocation.transaction_id)
            .where(Invoice.customer_id == customer_id, Allocation.status == "posted", Invoice.status != "cancelled")
        ).all()
        unapplied = conn.execute(
            select(
                UnappliedCash.transaction_id, func.sum(cents_of(UnappliedCash.amount)),
                BankTransaction.booking_date, BankTransaction.bank_reference,
                func.coalesce(UnappliedCash.currency, BankTransaction.currency),
            )
            .join(BankTransaction, BankTransaction.id == UnappliedCash.transaction_id)
            .where(UnappliedCash.customer_id == customer_id, UnappliedCash.status == "open")
            .group_by(
                UnappliedCash.transaction_id, BankTransaction.booking_date, BankTransaction.bank_reference,
                func.coalesce(UnappliedCash.currency, BankTransaction.currency),
            )
        ).all()

    entries = _entries(invoices, allocs, unapplied)
    by_currency: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in entries:
        by_currency[e["currency"]].append(e)
    accounts = []
    for cur in sorted(by_currency):
        accounts.append(_account(cur, by_currency[cur], invoices, allocs, unapplied, period))
    data: dict[str, Any] = {
        "report": "statement",
        "customer": {"customer_id": cust[0], "name": cust[1], "email": cust[2], "phone": cust[3]},
        "period": period.label,
        "from": period.start,
        "to": period.end,
        "generated_at": now,
        "currencies": accounts,
    }
    company = str(rules.get("reports.company_name", "") or "")
    note = str(rules.get("reports.statement_note", "") or "")
    data["company_name"] = company or None
    data["note"] = note or None
    return Report(
        kind="statement",
        title=f"Statement of account · {cust[1]}",
        subtitle=f"Customer {cust[0]} · {period.start.isoformat()} to {period.end.isoformat()} · "
        f"made {now.astimezone(tz):%Y-%m-%d}",
        data=data,
        sections=_sections(data),
        generated_at=now,
        template="statement.html.j2",
    )


def _entries(invoices: list[Any], allocs: list[Any], unapplied: list[Any]) -> list[dict[str, Any]]:
    """Every dated line of the customer's account, in date order (invoices before payments on a day)."""
    posted_by_invoice: dict[str, int] = defaultdict(int)
    for a in allocs:
        posted_by_invoice[a[0]] += int(a[2]) + int(a[3])
    out: list[dict[str, Any]] = []
    for inv_id, issue, due, cur, amount_c, open_c in invoices:
        out.append(
            {"date": issue, "order": 0, "kind": "invoice", "text": "Invoice", "reference": inv_id, "due_date": due,
             "currency": cur, "debit_c": int(amount_c), "credit_c": 0}
        )
        before = int(amount_c) - int(open_c) - posted_by_invoice[inv_id]
        if before:
            out.append(
                {"date": issue, "order": 1, "kind": "settled-before", "text": "Settled before (per our records)",
                 "reference": inv_id, "due_date": None, "currency": cur, "debit_c": 0, "credit_c": before}
            )
    payments: dict[tuple[int, str], dict[str, Any]] = {}
    for inv_id, tid, cash_c, adj_c, reason, booked, ref, cur in allocs:
        key = (int(tid), cur)
        p = payments.setdefault(
            key,
            {"date": booked, "order": 2, "kind": "payment", "text": "Payment received", "reference": ref or f"#{tid}",
             "due_date": None, "currency": cur, "debit_c": 0, "credit_c": 0, "invoices": []},
        )
        p["credit_c"] += int(cash_c)
        if int(cash_c):
            p["invoices"].append(inv_id)
        if int(adj_c):
            out.append(
                {"date": booked, "order": 3, "kind": reason or "adjustment",
                 "text": ADJUSTMENT_LABELS.get(reason or "", "Adjustment"), "reference": inv_id, "due_date": None,
                 "currency": cur, "debit_c": 0, "credit_c": int(adj_c)}
            )
    for tid, amount_c, booked, ref, cur in unapplied:
        key = (int(tid), cur)
        p = payments.setdefault(
            key,
            {"date": booked, "order": 2, "kind": "payment", "text": "Payment received", "reference": ref or f"#{tid}",
             "due_date": None, "currency": cur, "debit_c": 0, "credit_c": 0, "invoices": []},
        )
        p["credit_c"] += int(amount_c)
        p["on_account_c"] = p.get("on_account_c", 0) + int(amount_c)
    for p in payments.values():
        applied = ", ".join(sorted(p.pop("invoices")))
        on_account = p.pop("on_account_c", 0)
        parts = []
        if applied:
            parts.append(f"for {applied}")
        if on_account:
            parts.append(f"{fmt_money(money(on_account))} on account")
        p["text"] = "Payment received" + (f" ({'; '.join(parts)})" if parts else "")
        out.append(p)
    out.sort(key=lambda e: (e["date"], e["order"], str(e["reference"])))
    return out


def _account(
    cur: str, entries: list[dict[str, Any]], invoices: list[Any], allocs: list[Any], unapplied: list[Any], period: Period
) -> dict[str, Any]:
    opening = sum(e["debit_c"] - e["credit_c"] for e in entries if e["date"] < period.start)
    balance = opening
    lines = []
    for e in entries:
        if not period.start <= e["date"] <= period.end:
            continue
        balance += e["debit_c"] - e["credit_c"]
        lines.append(
            {
                "date": e["date"],
                "text": e["text"],
                "reference": e["reference"],
                "due_date": e["due_date"],
                "debit": money(e["debit_c"]) if e["debit_c"] else None,
                "credit": money(e["credit_c"]) if e["credit_c"] else None,
                "balance": money(balance),
            }
        )
    # the open items behind the closing balance: invoices issued by the end, less what payments
    # booked by the end closed of them
    closed: dict[str, int] = defaultdict(int)
    for inv_id, _tid, cash_c, adj_c, _reason, booked, _ref, a_cur in allocs:
        if a_cur == cur and booked <= period.end:
            closed[inv_id] += int(cash_c) + int(adj_c)
    posted_now: dict[str, int] = defaultdict(int)
    for a in allocs:
        posted_now[a[0]] += int(a[2]) + int(a[3])
    open_items = []
    for inv_id, issue, due, i_cur, amount_c, open_c in sorted(invoices, key=lambda r: (r[2], r[0])):
        if i_cur != cur or issue > period.end:
            continue
        before = int(amount_c) - int(open_c) - posted_now[inv_id]
        left = int(amount_c) - before - closed[inv_id]
        if left:
            open_items.append(
                {
                    "invoice_id": inv_id,
                    "issue_date": issue,
                    "due_date": due,
                    "amount": money(amount_c),
                    "open": money(left),
                    "days_past_due": max(0, (period.end - due).days),
                }
            )
    on_account = sum(int(u[1]) for u in unapplied if u[4] == cur and u[2] <= period.end)
    return {
        "currency": cur,
        "opening_balance": money(opening),
        "lines": lines,
        "invoiced": money(sum(e["debit_c"] for e in entries if period.start <= e["date"] <= period.end)),
        "received": money(
            sum(e["credit_c"] for e in entries if period.start <= e["date"] <= period.end and e["kind"] == "payment")
        ),
        "adjusted": money(
            sum(
                e["credit_c"]
                for e in entries
                if period.start <= e["date"] <= period.end and e["kind"] not in ("payment", "invoice")
            )
        ),
        "closing_balance": money(balance),
        "open_items": open_items,
        "open_items_total": sum((i["open"] for i in open_items), ZERO),
        "on_account": money(on_account),
    }


def _sections(data: dict[str, Any]) -> list[Section]:
    out = []
    for acc in data["currencies"]:
        cur = acc["currency"]
        rows: list[dict[str, Any]] = [
            {"date": data["from"], "text": "Balance brought forward", "reference": "", "balance": acc["opening_balance"],
             "_style": "subtotal"}
        ]
        rows.extend(dict(r) for r in acc["lines"])
        rows.append(
            {"date": data["to"], "text": "Balance carried forward", "reference": "", "balance": acc["closing_balance"],
             "_style": "total"}
        )
        tone = "warn" if acc["closing_balance"] > ZERO else "good"
        out.append(
            Section(
                f"statement_{cur}",
                f"Account in {cur}",
                kpis=[
                    Kpi("Balance brought forward", f"{fmt_money(acc['opening_balance'])} {cur}"),
                    Kpi("Invoiced", f"{fmt_money(acc['invoiced'])} {cur}"),
                    Kpi("Received", f"{fmt_money(acc['received'])} {cur}"),
                    Kpi("Balance carried forward", f"{fmt_money(acc['closing_balance'])} {cur}",
                        "owed to us" if acc["closing_balance"] > ZERO else "in your favour" if acc["closing_balance"] < ZERO else "settled",
                        tone),
                ],
                tables=[
                    Table(
                        f"statement_lines_{cur}",
                        "Statement",
                        [
                            Column("date", "Date", "date"),
                            Column("text", "Description"),
                            Column("reference", "Reference"),
                            Column("due_date", "Due", "date"),
                            Column("debit", "Debit", "money"),
                            Column("credit", "Credit", "money"),
                            Column("balance", "Balance", "money"),
                        ],
                        rows,
                    ),
                    Table(
                        f"open_items_{cur}",
                        f"Open items at {data['to'].isoformat()}",
                        [
                            Column("invoice_id", "Invoice"),
                            Column("issue_date", "Issued", "date"),
                            Column("due_date", "Due", "date"),
                            Column("amount", "Amount", "money"),
                            Column("open", "Open", "money"),
                            Column("days_past_due", "Days past due", "int"),
                        ],
                        [dict(i) for i in acc["open_items"]]
                        + (
                            [{"invoice_id": "Paid on account (not yet applied)", "open": -acc["on_account"], "_style": "subtotal"}]
                            if acc["on_account"]
                            else []
                        )
                        + [{"invoice_id": "Total", "open": acc["open_items_total"] - acc["on_account"], "_style": "total"}],
                        None if acc["open_items"] else "Nothing open.",
                    ),
                ],
                sheet=f"Statement {cur}",
            )
        )
    if not out:
        out.append(Section("statement", "Statement", notes=["No invoices or payments on record for this customer."]))
    return out
