"""The report formats (XLSX read back with openpyxl, HTML, CSV, JSON) and the `recon report` commands."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

import cli.report
from reports.data import parse_period
from reports.month_end import month_end
from reports.render import MONEY_FORMAT, render

OCT = parse_period("2026-10")


def _find_row(ws: Any, label: str) -> tuple[Any, ...]:
    for row in ws.iter_rows(values_only=True):
        if row and isinstance(row[0], str) and row[0].startswith(label):
            return row
    raise AssertionError(f"no row {label!r} in sheet {ws.title}")


def test_xlsx_has_a_sheet_per_section_and_numbers_as_numbers(engine: Engine, october: dict[str, int]) -> None:
    content = render(month_end(engine, OCT), "xlsx")
    assert isinstance(content, bytes)
    wb = load_workbook(io.BytesIO(content))
    assert wb.sheetnames == [
        "Summary", "Reconciliation", "Statements", "Automation", "Book side", "Queue", "Unapplied cash", "Aging",
    ]
    ws = wb["Reconciliation"]
    opening = _find_row(ws, "Opening balance")
    auto = _find_row(ws, "+ Customer receipts posted automatically")
    closing = _find_row(ws, "Closing balance")
    diff = _find_row(ws, "Difference")
    assert auto[1] == 3 and isinstance(auto[1], int)
    for row, expected in ((opening, "5000.00"), (auto, "1600.00"), (closing, "8110.00"), (diff, "0.00")):
        value = row[2]
        assert isinstance(value, (int, float)) and not isinstance(value, bool), row
        assert Decimal(str(value)).quantize(Decimal("0.01")) == Decimal(expected)
    # the money format on the amount cells
    for cells in ws.iter_rows():
        if cells[0].value and str(cells[0].value).startswith("+ Customer receipts posted automatically"):
            assert cells[2].number_format == MONEY_FORMAT
    book = wb["Book side"]
    assert Decimal(str(_find_row(book, "= Receivables open at the end")[1])) == Decimal("450")


def test_html_is_self_contained_with_charts_and_print_css(engine: Engine, october: dict[str, int]) -> None:
    html = render(month_end(engine, OCT), "html")
    assert isinstance(html, str)
    assert html.count("<svg") >= 3  # automation per day, queue by age, aging buckets
    assert "@media print" in html and "@page" in html
    assert "<script" not in html
    # nothing fetched from elsewhere: the only URL is the SVG namespace
    assert set(re.findall(r"(?:src|href)=\"([^\"]+)\"", html)) == set()
    assert set(re.findall(r"https?://[^\s\"']+", html)) == {"http://www.w3.org/2000/svg"}
    assert "8,110.00" in html and "Month-end reconciliation 2026-10" in html


def test_json_keeps_money_exact(engine: Engine, october: dict[str, int]) -> None:
    data = json.loads(render(month_end(engine, OCT), "json"))
    rec = data["accounts"][0]["reconciliation"]
    assert rec["difference"] == "0.00" and rec["closing_balance"] == "8110.00"
    assert data["automation"][0]["automation_rate_amount"] == "47.90"


def test_csv_sections(engine: Engine, october: dict[str, int]) -> None:
    text = render(month_end(engine, OCT), "csv")
    assert isinstance(text, str)
    rows = list(csv.reader(io.StringIO(text)))
    titles = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert titles[0] == "# Account DE00OCT · EUR"
    i = rows.index(["line", "count", "amount"])
    assert rows[i + 1] == ["Opening balance (bank)", "", "5000.00"]
    assert ["Difference (closing - expected)", "", "0.00"] in rows


# --- the commands ------------------------------------------------------------------------------------


def test_contract_month_end_formats(cli_run: Any, october: dict[str, int], tmp_path: Path) -> None:
    out = cli_run("report", "month-end", "--period", "2026-10", "--format", "json").output
    assert json.loads(out)["accounts"][0]["reconciliation"]["difference"] == "0.00"
    html = tmp_path / "oct.html"
    cli_run("report", "month-end", "--period", "2026-10", "--format", "html", "--output", html)
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    xlsx = tmp_path / "oct.xlsx"
    cli_run("report", "month-end", "--period", "2026-10", "--format", "xlsx", "--output", xlsx)
    assert "Reconciliation" in load_workbook(xlsx).sheetnames
    csv_text = cli_run("report", "month-end", "--period", "2026-10", "--format", "csv").output
    assert "Opening balance (bank),,5000.00" in csv_text
    # the format follows the output's extension when --format is not given
    implied = tmp_path / "implied.json"
    cli_run("report", "month-end", "--period", "2026-10", "--output", implied)
    assert json.loads(implied.read_text())["period"] == "2026-10"
    table = cli_run("report", "month-end", "--period", "2026-10", "--account", "DE00OCT").output
    assert "Difference (closing - expected)" in table and "8,110.00" in table


def test_xlsx_never_goes_to_a_terminal(cli_run: Any, october: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    piped = cli_run("report", "month-end", "--period", "2026-10", "--format", "xlsx")
    assert piped.stdout_bytes.startswith(b"PK")  # redirected to a file: the workbook's bytes
    monkeypatch.setattr(cli.report, "stdout_is_terminal", lambda: True)
    refused = cli_run("report", "month-end", "--period", "2026-10", "--format", "xlsx", expect=2)
    assert "binary format: give --output FILE" in refused.output
    assert "Traceback" not in refused.output


def test_contract_aging(cli_run: Any, october: dict[str, int]) -> None:
    out = cli_run("report", "aging", "--as-of", "2026-12-15", "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["customer_id"] for r in rows] == ["C3", "C2", "C1", "C4"]
    for r in rows:
        buckets = sum(Decimal(r[k]) for k in ("current", "d1_30", "d31_60", "d61_90", "over_90"))
        assert buckets == Decimal(r["total"])
    assert sum(Decimal(r["total"]) for r in rows) == Decimal("580.00")
    data = json.loads(cli_run("report", "aging", "--as-of", "2026-12-15", "--format", "json").output)
    assert data["totals"][0]["over_90"] == "200.00"
    assert "Over 90" in cli_run("report", "aging", "--as-of", "2026-12-15").output


def test_statement_reminders_behaviour_commands(cli_run: Any, october: dict[str, int], tmp_path: Path) -> None:
    out = cli_run("report", "statement", "--customer", "C2", "--period", "2026-10", "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["text"] == "Balance brought forward" and rows[0]["balance"] == "800.00"
    assert rows[-1]["text"] == "Balance carried forward" and rows[-1]["balance"] == "100.00"
    page = tmp_path / "c2.html"
    cli_run("report", "statement", "--customer", "C2", "--period", "2026-10", "--output", page)
    assert "Statement of account" in page.read_text(encoding="utf-8")
    rem = json.loads(cli_run("report", "reminders", "--as-of", "2026-11-18", "--days", "7", "--format", "json").output)
    assert [r["invoice_id"] for r in rem["reminders"]] == ["I4", "I9"]
    rem_csv = cli_run("report", "reminders", "--as-of", "2026-11-18", "--format", "csv").output
    assert list(csv.DictReader(io.StringIO(rem_csv)))[0]["email"] == "compta@beta.example"
    beh = json.loads(cli_run("report", "behaviour", "--as-of", "2026-12-15", "--weeks", "4", "--format", "json").output)
    assert beh["dso"][0]["dso"] == "23.8"
    assert "OVER LIMIT" in cli_run("report", "behaviour", "--as-of", "2026-12-15").output


def test_bad_requests_get_one_line(cli_run: Any, october: dict[str, int]) -> None:
    bad = cli_run("report", "month-end", "--period", "2026-13", expect=2)
    assert "expected a month as YYYY-MM" in bad.output
    unknown = cli_run("report", "statement", "--customer", "NOPE", "--period", "2026-10", expect=1)
    assert unknown.output.strip() == "recon: error: no customer 'NOPE' (load it with `recon load customers FILE`)"
    acc = cli_run("report", "month-end", "--period", "2026-10", "--account", "XX", expect=1)
    assert "no bank account XX" in acc.output
    date_ = cli_run("report", "aging", "--as-of", "31.10.2026", expect=2)
    assert "expected a date as YYYY-MM-DD" in date_.output


@pytest.mark.parametrize(
    "args",
    [
        ("month-end", "--period", "2026-10"),
        ("aging", "--as-of", "2026-10-31"),
        ("reminders", "--as-of", "2026-10-31"),
        ("behaviour", "--as-of", "2026-10-31"),
    ],
)
def test_reports_on_an_empty_database(cli_run: Any, args: tuple[str, ...], tmp_path: Path) -> None:
    for fmt in ("table", "json", "csv", "html"):
        out = cli_run("report", *args, "--format", fmt).output
        assert out.strip(), fmt
        assert "Traceback" not in out
    if args[0] in ("month-end", "aging", "behaviour"):
        cli_run("report", *args, "--output", tmp_path / "empty.xlsx")
        assert load_workbook(tmp_path / "empty.xlsx").sheetnames
