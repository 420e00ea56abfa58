"""Renderers: a :class:`~reports.base.Report` as HTML, XLSX, CSV, JSON or a table for the terminal.

* **HTML**: one self-contained file (inline CSS and SVG, no scripts, no
  external resources) from the jinja2 templates in ``reports/templates/``,
  laid out for the screen and for print (A4, tables kept together, headers
  repeated across pages).
* **XLSX**: a sheet per section; money cells are numbers with a money format
  (the ``Decimal`` goes into the cell as is), dates are dates.
* **CSV**: the report's main table(s); several tables follow each other, each
  under a title row and its own header, separated by a blank row.
* **JSON**: ``Report.data`` with Decimals as strings (exact), dates in ISO.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports.base import NUMERIC_KINDS, Column, Report, Table, fmt_value

TEMPLATES = Path(__file__).with_name("templates")
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
FORMATS = ("table", "html", "xlsx", "csv", "json")
BINARY_FORMATS = ("xlsx",)


def jsonable(value: Any) -> Any:
    """Decimals as strings (exact), dates and datetimes ISO, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def render(report: Report, fmt: str, *, csv_tables: list[str] | None = None) -> str | bytes:
    """The report in ``fmt`` (``bytes`` for XLSX, ``str`` otherwise)."""
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report, csv_tables)
    if fmt == "xlsx":
        return render_xlsx(report)
    if fmt == "html":
        return render_html(report)
    if fmt == "table":
        return render_text(report)
    raise ValueError(f"unknown format {fmt!r}")


def render_json(report: Report) -> str:
    """``Report.data`` as JSON."""
    return json.dumps(jsonable(report.data), ensure_ascii=False, indent=2) + "\n"


def _tables(report: Report, keys: list[str] | None) -> list[Table]:
    tables = [t for s in report.sections for t in s.tables]
    if keys:
        tables = [t for k in keys for t in tables if t.key == k]
    return tables


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def render_csv(report: Report, keys: list[str] | None = None) -> str:
    """One table as plain CSV; several one after the other, each under its title."""
    tables = _tables(report, keys)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    single = len(tables) == 1
    for i, table in enumerate(tables):
        if not single:
            if i:
                writer.writerow([])
            writer.writerow([f"# {table.title}"])
        writer.writerow([c.key for c in table.columns])
        for row in table.rows:
            writer.writerow([_csv_cell(row.get(c.key)) for c in table.columns])
    return buf.getvalue()


# --- XLSX ----------------------------------------------------------------------------------------------


def render_xlsx(report: Report) -> bytes:
    """A workbook with a sheet per section; numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    title_font = Font(bold=True, size=14, color="1F2937")
    head_font = Font(bold=True, color="FFFFFF")
    head_fill = PatternFill("solid", fgColor="2F4A6D")
    table_font = Font(bold=True, size=11, color="2F4A6D")
    total_font = Font(bold=True)
    warn_fill = PatternFill("solid", fgColor="FFF4D6")
    good_fill = PatternFill("solid", fgColor="E3F4E8")
    top_border = Border(top=Side(style="thin", color="1F2937"))
    used: set[str] = set()
    for section in report.sections:
        name = _sheet_name(section.sheet or section.title, used)
        ws = wb.create_sheet(name)
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToHeight = 0
        ws.cell(row=1, column=1, value=f"{report.title} · {section.title}").font = title_font
        ws.cell(row=2, column=1, value=report.subtitle).font = Font(italic=True, color="6B7280")
        r = 4
        widths: dict[int, int] = {}
        if section.kpis:
            for kpi in section.kpis:
                ws.cell(row=r, column=1, value=kpi.label).font = total_font
                ws.cell(row=r, column=2, value=kpi.value)
                ws.cell(row=r, column=3, value=kpi.hint).font = Font(color="6B7280")
                widths[1] = max(widths.get(1, 0), len(kpi.label))
                r += 1
            r += 1
        for table in section.tables:
            ws.cell(row=r, column=1, value=table.title).font = table_font
            r += 1
            for j, col in enumerate(table.columns, start=1):
                cell = ws.cell(row=r, column=j, value=col.label)
                cell.font = head_font
                cell.fill = head_fill
                cell.alignment = Alignment(horizontal="right" if col.kind in NUMERIC_KINDS else "left", wrap_text=True)
                widths[j] = max(widths.get(j, 0), min(len(col.label), 18))
            if len(section.tables) == 1 and not section.kpis:
                ws.freeze_panes = ws.cell(row=r + 1, column=1)
            r += 1
            for row in table.rows:
                style = row.get("_style") or ""
                for j, col in enumerate(table.columns, start=1):
                    value = _xlsx_value(row.get(col.key), col)
                    cell = ws.cell(row=r, column=j, value=value)
                    if col.kind == "money":
                        cell.number_format = MONEY_FORMAT
                    elif col.kind == "pct":
                        cell.number_format = "0.00"
                    elif col.kind == "decimal":
                        cell.number_format = "0.0"
                    elif col.kind == "int":
                        cell.number_format = "#,##0"
                    elif col.kind == "date":
                        cell.number_format = "yyyy-mm-dd"
                    if "total" in style or "subtotal" in style:
                        cell.font = total_font
                    if "total" in style.split():
                        cell.border = top_border
                    if "warn" in style:
                        cell.fill = warn_fill
                    elif "good" in style:
                        cell.fill = good_fill
                    shown = len(fmt_value(row.get(col.key), col.kind))
                    widths[j] = max(widths.get(j, 0), min(shown, 70))
                r += 1
            if table.note:
                ws.cell(row=r, column=1, value=table.note).font = Font(italic=True, color="6B7280")
                r += 1
            r += 1
        for note in section.notes:
            ws.cell(row=r, column=1, value=note).font = Font(italic=True, color="6B7280")
            r += 1
        for j, w in widths.items():
            ws.column_dimensions[get_column_letter(j)].width = max(10, w + 2)
    if not wb.sheetnames:
        wb.create_sheet("Report")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_value(value: Any, col: Column) -> Any:
    if value is None:
        return None
    if col.kind in ("money", "pct", "decimal"):
        return Decimal(value)  # openpyxl writes a Decimal as a number cell
    if col.kind in ("int", "days"):
        return int(value)
    return value


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in '[]:*?/\\')[:31] or "Sheet"
    name, n = base, 2
    while name in used:
        suffix = f" {n}"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(name)
    return name


# --- HTML ----------------------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = fmt_value
    env.filters["svg"] = lambda s: Markup(s)  # charts are built from escaped parts in reports.charts
    env.globals["css_class"] = _css_class
    env.globals["numeric_kinds"] = NUMERIC_KINDS
    return env


def _css_class(value: Any, kind: str) -> str:
    classes = ["num"] if kind in NUMERIC_KINDS else []
    if kind == "money" and value is not None and Decimal(value) < 0:
        classes.append("neg")
    return " ".join(classes)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    template = _environment().get_template(report.template)
    return template.render(report=report, data=report.data)


# --- terminal ------------------------------------------------------------------------------------------


TERMINAL_ROWS = 40


def render_text(report: Report, width: int | None = None, max_rows: int = TERMINAL_ROWS) -> str:
    """Tables for people in a terminal (rich), without the charts; a long table shows its first
    ``max_rows`` rows (and its totals): the other formats carry every row."""
    from rich import box
    from rich.console import Console
    from rich.table import Table as RichTable

    if width is None:
        import shutil
        import sys

        # a terminal gets its own width; a pipe or file gets lines wide enough not to wrap tables
        width = shutil.get_terminal_size((200, 24)).columns if sys.stdout.isatty() else 200
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False)
    console.print(f"{report.title}", style="bold")
    console.print(report.subtitle)
    for section in report.sections:
        console.print()
        console.print(section.title.upper(), style="bold")
        for kpi in section.kpis:
            console.print(f"  {kpi.label}: {kpi.value}" + (f"  ({kpi.hint})" if kpi.hint else ""))
        for table in section.tables:
            t = RichTable(title=table.title, box=box.SIMPLE_HEAD, title_justify="left", show_lines=False)
            for col in table.columns:
                numeric = col.kind in NUMERIC_KINDS or col.kind == "date"
                t.add_column(col.label, justify="right" if col.kind in NUMERIC_KINDS else "left",
                             overflow="fold", no_wrap=numeric)
            shown = table.shown_rows(max_rows)
            for row in shown:
                style = row.get("_style") or ""
                t.add_row(
                    *[fmt_value(row.get(c.key), c.kind) for c in table.columns],
                    style="bold" if "total" in style else None,
                )
            if table.rows:
                console.print(t)
            else:
                console.print(f"  {table.title}: " + (table.note or "nothing to show"))
                continue
            if len(shown) < len(table.rows):
                console.print(
                    f"  ... {len(table.rows) - len(shown):,} more rows: every row is in --format csv, xlsx or html",
                    style="dim",
                )
            if table.note:
                console.print(f"  {table.note}", style="dim")
    return buf.getvalue()
