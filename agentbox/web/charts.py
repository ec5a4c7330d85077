"""Charts drawn on the server as SVG: no JavaScript, no charting library, nothing fetched.

Each series has its own fill pattern as well as its own colour (solid, hatched, dotted, ...), the
legend repeats the patterns with each series' total, every bar segment has a `<title>` with its
exact value, and the page shows the same numbers in a table: readable without colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 32
PATTERNS = 6  # series beyond this share the last pattern (callers fold the rest into "other")


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked layer: a name and a value per day (same order as the chart's days)."""

    name: str
    values: Sequence[float]

    @property
    def total(self) -> float:
        return sum(self.values)


def _nice_max(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def pattern_defs() -> Markup:
    """The fill patterns `p0`..`p5`, once per page; their colours come from the stylesheet (`.s0`..`.s5`)."""
    shapes = [
        '<rect width="6" height="6"/>',
        '<rect width="6" height="6" class="bg"/><path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2"/>',
        '<rect width="6" height="6" class="bg"/><circle cx="3" cy="3" r="1.4"/>',
        '<rect width="6" height="6" class="bg"/><path d="M0,3 h6"/>',
        '<rect width="6" height="6" class="bg"/><path d="M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2"/>',
        '<rect width="6" height="6" class="bg"/><path d="M3,0 v6"/>',
    ]
    patterns = "".join(
        f'<pattern id="p{i}" class="s{i}" width="6" height="6" patternUnits="userSpaceOnUse">{shape}</pattern>'
        for i, shape in enumerate(shapes)
    )
    return Markup(f'<svg class="defs" width="0" height="0" aria-hidden="true"><defs>{patterns}</defs></svg>')


def stacked_bars(days: Sequence[str], series: Sequence[Series], *, label: str, fmt: Callable[[float], str]) -> Markup:
    """A stacked bar chart, one bar per day; `fmt` formats values (axis, titles, legend)."""
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_max(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.72, 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}"'
        f"><title>{escape(label)}</title>"
    ]
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for index, layer in enumerate(series):
            value = layer.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            title = f"{day} · {layer.name}: {fmt(value)}"
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="url(#p{min(index, PATTERNS - 1)})"><title>{escape(title)}</title></rect>'
            )
        if i % 5 == 0 or i == len(days) - 1:
            last = i == len(days) - 1  # the last label ends at its bar: centred, it would run off the chart
            parts.append(
                f'<text class="axis" x="{x + (bar if last else bar / 2):.1f}" y="{HEIGHT - 8}"'
                f' text-anchor="{"end" if last else "middle"}">{escape(day[5:])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(series: Sequence[Series], fmt: Callable[[float], str]) -> Markup:
    """The chart's key: a swatch with the series' pattern, its name and its total."""
    items = []
    for index, layer in enumerate(series):
        swatch = (
            f'<svg class="swatch" viewBox="0 0 14 14" aria-hidden="true">'
            f'<rect width="14" height="14" fill="url(#p{min(index, PATTERNS - 1)})" class="edge"/></svg>'
        )
        items.append(f"<li>{swatch} {escape(layer.name)} <b>{escape(fmt(layer.total))}</b></li>")
    return Markup(f'<ul class="legend">{"".join(items)}</ul>')


def meter(value: float, limit: float | None, *, label: str) -> Markup:
    """A horizontal bar: value against a limit (none: an empty track), with the numbers in words beside it."""
    share = min(value / limit, 1.0) if limit else 0.0
    state = "over" if limit and value >= limit else "warn" if share >= 0.8 else "ok"
    return Markup(
        f'<svg class="meter {state}" viewBox="0 0 200 10" preserveAspectRatio="none" role="img" aria-label="{escape(label)}">'
        f'<rect class="track" width="200" height="10" rx="3"/>'
        f'<rect class="fill" width="{200 * share:.1f}" height="10" rx="3"/></svg>'
    )
