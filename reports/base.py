"""What every report hands to the renderers: sections of headline figures, charts and tables.

A report module computes its figures into ``Report.data`` (plain dicts and
lists of ``Decimal``, ``int``, ``date`` and ``str``: the JSON output and what
tests assert on) and lays them out as :class:`Section` s of :class:`Table` s
for people (HTML, XLSX, CSV, the terminal).  Renderers know nothing about
reconciliation; reports know nothing about file formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Column kinds the renderers format: text, money (Decimal), int, pct (Decimal 0..100), decimal (a
# Decimal such as an average number of days, one place), date, days.
KINDS = ("text", "money", "int", "pct", "decimal", "date", "days")
NUMERIC_KINDS = ("money", "int", "pct", "decimal", "days")


@dataclass(slots=True)
class Column:
    """A column of a table: ``key`` into each row dict, a ``label`` for people, and its ``kind``."""

    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(slots=True)
class Table:
    """Rows under columns.  A row may carry ``_style``: ``total``, ``subtotal``, ``warn`` or ``good``."""

    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str | None = None
    limit: int | None = None  # HTML and the terminal show this many rows (and the totals); XLSX, CSV, JSON all

    def shown_rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The rows a page shows: the first ``limit`` (the table's own when smaller), then the totals."""
        cap = min(x for x in (limit, self.limit) if x is not None) if (limit or self.limit) else None
        if cap is None or len(self.rows) <= cap:
            return self.rows
        totals = [r for r in self.rows[cap:] if "total" in (r.get("_style") or "")]
        return self.rows[:cap] + totals


@dataclass(slots=True)
class Kpi:
    """A headline figure: ``value`` already formatted for people; ``tone`` good, warn, bad or neutral."""

    label: str
    value: str
    hint: str = ""
    tone: str = "neutral"


@dataclass(slots=True)
class Chart:
    """An inline SVG chart (see :mod:`reports.charts`)."""

    key: str
    title: str
    svg: str
    note: str | None = None
    wide: bool = False  # spans two columns of the chart grid


@dataclass(slots=True)
class Section:
    """A part of a report: a heading, an introduction, headline figures, charts and tables.

    In XLSX every section is a sheet (``sheet`` names it, at most 31 characters).
    """

    key: str
    title: str
    intro: str | None = None
    kpis: list[Kpi] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sheet: str | None = None


@dataclass(slots=True)
class Report:
    """A finished report: ``data`` for machines, ``sections`` for people."""

    kind: str
    title: str
    subtitle: str
    data: dict[str, Any]
    sections: list[Section]
    generated_at: datetime
    notes: list[str] = field(default_factory=list)
    template: str = "report.html.j2"


def fmt_money(value: Decimal | None) -> str:
    """``1234567.5`` -> ``1,234,567.50`` (empty for None)."""
    if value is None:
        return ""
    return f"{value:,.2f}"


def fmt_pct(value: Decimal | None) -> str:
    """A percentage with one decimal (``87.5 %``), empty for None."""
    if value is None:
        return ""
    return f"{value:.1f} %"


def fmt_value(value: Any, kind: str) -> str:
    """A cell as text for people (terminal, HTML)."""
    if value is None:
        return ""
    if kind == "money":
        return fmt_money(Decimal(value))
    if kind == "pct":
        return fmt_pct(Decimal(value))
    if kind == "int":
        return f"{int(value):,}"
    if kind == "decimal":
        return f"{Decimal(value):.1f}"
    if kind == "days":
        return f"{value}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def pct(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` as a percentage with two decimals (None when ``whole`` is 0); exact Decimal."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))
