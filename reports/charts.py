"""Small inline SVG charts for the HTML reports: no JavaScript, no external files, sharp when printed.

Chart values are for drawing only (floats are fine here: no money is
computed from them; the tables beside each chart carry the exact figures).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

BLUE = "#2f6db5"
GREEN = "#2e8b57"
AMBER = "#d9a21b"
ORANGE = "#e07b24"
RED = "#c0392b"
GREY = "#8a94a6"
INK = "#1f2937"
GRID = "#e5e7eb"


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        top = m * 10**exp
        if top >= value:
            return float(top)
    return float(10 ** (exp + 1))  # pragma: no cover


def _short(value: float) -> str:
    """Axis labels: 1.5k, 2M."""
    a = abs(value)
    if a >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if a >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    width: int = 460,
    height: int = 250,
    value_format: str = "{:,.0f}",
    y_max: float | None = None,
    color: str = BLUE,
    colors: Sequence[str] | None = None,
    tooltips: Sequence[str] | None = None,
    x_label: str | None = None,
    axis_suffix: str = "",
) -> str:
    """A vertical bar chart as an ``<svg>`` string (escaped; safe to embed)."""
    left, right, top, bottom = 52, 12, 18, 34 + (14 if x_label else 0)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(values), 1)
    top_value = y_max if y_max is not None else _nice_max(max(values, default=0.0))
    slot = plot_w / n
    bar_w = max(2.0, min(56.0, slot * 0.68))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" class="chart" preserveAspectRatio="xMidYMid meet">'
    ]
    ticks = 4
    for i in range(ticks + 1):
        v = top_value * i / ticks
        y = top + plot_h - plot_h * i / ticks
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        label = (f"{v:.0f}" if y_max == 100.0 else _short(v)) + axis_suffix
        if y_max == 100.0:
            label += "%"
        parts.append(
            f'<text x="{left - 6}" y="{y + 3.5:.1f}" text-anchor="end" font-size="11" fill="{GREY}">{escape(label)}</text>'
        )
    show_values = n <= 12
    label_every = max(1, math.ceil(n / (width / 34)))
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        h = 0.0 if top_value == 0 else plot_h * max(0.0, min(value, top_value)) / top_value
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h - h
        fill = colors[i % len(colors)] if colors else color
        tip = f"<title>{escape(tooltips[i])}</title>" if tooltips else f"<title>{escape(str(label))}: {escape(value_format.format(value))}</title>"
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" rx="2" fill="{fill}">{tip}</rect>')
        if show_values:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">{escape(value_format.format(value))}</text>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14:.1f}" text-anchor="middle" font-size="11" '
                f'fill="{INK}">{escape(str(label))}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{GREY}" stroke-width="1"/>'
    )
    if x_label:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" font-size="11" fill="{GREY}">'
            f"{escape(x_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
