"""Static inline SVG charts for the HTML report: horizontal (stacked) bars and a step chart.

Every label is escaped here; callers pass plain text. No script, no external resource.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from archiver.neutral import for_terminal

WIDTH = 760
LABEL_WIDTH = 210
BAR_HEIGHT = 22
ROW = 30
LABEL_CHARS = 30
PLOT = (56, 24, 56, 56)  # left, top, right, bottom margins of the step chart
PLOT_HEIGHT = 300
X_LABELS = 8


@dataclass(frozen=True)
class Part:
    """One coloured segment of a bar: a name for the legend, a count, a CSS colour."""

    name: str
    value: int
    colour: str


@dataclass(frozen=True)
class Bar:
    """One labelled bar of a bar chart, its parts stacked left to right."""

    label: str
    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        """The sum of the parts: the bar's length."""
        return sum(part.value for part in self.parts)


@dataclass(frozen=True)
class Series:
    """One line of a step chart: a value per day, in a CSS colour, dashed or solid."""

    name: str
    colour: str
    values: tuple[int, ...]
    dashed: bool = False


def _e(text: object) -> str:
    return escape(for_terminal(str(text)), quote=True)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _svg(title: str, height: int, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" class="chart"><title>{_e(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _legend(items: Sequence[tuple[str, str]], y: int) -> list[str]:
    out, x = [], LABEL_WIDTH
    for name, colour in items:
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{_e(colour)}"/>')
        out.append(f'<text x="{x + 17}" y="{y + 11}" class="legend">{_e(name)}</text>')
        x += 30 + 8 * len(name)
    return out


def bar_chart(title: str, bars: Sequence[Bar]) -> str:
    """One row per bar, its parts stacked left to right, the total at the end of the bar."""
    scale = (WIDTH - LABEL_WIDTH - 60) / max([bar.total for bar in bars] + [1])
    body: list[str] = []
    for row, bar in enumerate(bars):
        y = 8 + row * ROW
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" class="label">'
            f"<title>{_e(bar.label)}</title>{_e(_short(bar.label))}</text>"
        )
        x = float(LABEL_WIDTH)
        for part in bar.parts:
            width = part.value * scale
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{_e(part.colour)}"><title>{_e(bar.label)}: {part.value} '
                f"{_e(part.name)}</title></rect>"
            )
            x += width
        body.append(f'<text x="{x + 6:.1f}" y="{y + 16}" class="value">{bar.total}</text>')
    height = 8 + len(bars) * ROW
    if any(len(bar.parts) > 1 for bar in bars):
        names = {part.name: part.colour for bar in bars for part in bar.parts}
        body += _legend(list(names.items()), height + 2)
        height += 22
    return _svg(title, height, body)


def _ticks(top: int) -> list[int]:
    step = max(1, math.ceil(top / 5))
    return list(range(0, top + step, step))


def _x_positions(days: Sequence[str]) -> list[float]:
    left, _, right, _ = PLOT
    ordinals = [date.fromisoformat(day).toordinal() for day in days]
    span = ordinals[-1] - ordinals[0]
    usable = WIDTH - left - right
    if span == 0:
        return [left + usable / 2] * len(days)
    return [left + usable * (ordinal - ordinals[0]) / span for ordinal in ordinals]


def _axes(
    days: Sequence[str], xs: Sequence[float], ticks: Sequence[int], y_of: _YScale
) -> list[str]:
    left, top, right, bottom = PLOT
    body = []
    for tick in ticks:
        y = y_of(tick)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" class="grid"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>'
        )
    every = max(1, math.ceil(len(days) / X_LABELS))
    base = PLOT_HEIGHT - bottom
    for index in range(0, len(days), every):
        body.append(
            f'<text x="{xs[index]:.1f}" y="{base + 18}" text-anchor="middle" class="tick">'
            f"{_e(days[index])}</text>"
        )
    body.append(f'<line x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}" class="axis"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" class="axis"/>')
    return body


class _YScale:
    def __init__(self, top_value: int) -> None:
        self.top_value = max(top_value, 1)

    def __call__(self, value: float) -> float:
        _, top, _, bottom = PLOT
        return PLOT_HEIGHT - bottom - (PLOT_HEIGHT - top - bottom) * value / self.top_value


def _step_path(series: Series, xs: Sequence[float], y_of: _YScale) -> list[str]:
    points = list(zip(xs, (y_of(value) for value in series.values), strict=True))
    path = f"M{points[0][0]:.1f} {points[0][1]:.1f}" + "".join(
        f" H{x:.1f} V{y:.1f}" for x, y in points[1:]
    )
    dash = ' stroke-dasharray="6 4"' if series.dashed else ""
    out = [f'<path d="{path}" fill="none" stroke="{_e(series.colour)}" stroke-width="2.5"{dash}/>']
    for (x, y), value in zip(points, series.values, strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_e(series.colour)}">'
            f"<title>{_e(series.name)}: {value}</title></circle>"
        )
    return out


def step_chart(title: str, days: Sequence[str], series: Sequence[Series]) -> str:
    """Values per day as step lines (a value holds until the next day that has data)."""
    ticks = _ticks(max((max(s.values) for s in series), default=0))
    y_of = _YScale(ticks[-1])
    xs = _x_positions(days)
    body = _axes(days, xs, ticks, y_of)
    for one in series:
        body += _step_path(one, xs, y_of)
    body += _legend([(s.name, s.colour) for s in series], PLOT_HEIGHT - 22)
    return _svg(title, PLOT_HEIGHT, body)
