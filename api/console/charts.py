"""Charts as inline SVG drawn on the server: geometry here, markup in the templates (so every label is escaped
by Jinja like any other text). No chart library, no script: they print, and work with scripts off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wallet.console.month_series import DayFigure


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: int
    title: str
    css: str = "bar"


@dataclass(frozen=True)
class Mark:
    x1: float
    x2: float
    y: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    ticks: tuple[tuple[float, str], ...]  # (y, label)
    top: int


def _nice_top(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def day_chart(figures: Sequence[DayFigure], *, meals_word: str, ceiling_word: str,
              width: int = 720, height: int = 220) -> Chart:
    """Columns of net meals per day, with a mark at each day's ceiling."""
    left, bottom, top_pad = 40, 24, 10
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = _nice_top(max([f.meals for f in figures] + [f.ceiling for f in figures] + [1]))
    step = plot_w / max(len(figures), 1)
    bars, marks = [], []
    for i, f in enumerate(figures):
        x = left + i * step + step * 0.15
        w = step * 0.7
        h = plot_h * max(f.meals, 0) / top
        title = f"{f.day.isoformat()}: {meals_word} {f.meals}, {ceiling_word} {f.ceiling}"
        bars.append(Bar(round(x, 1), round(top_pad + plot_h - h, 1), round(w, 1), round(h, 1), str(f.day.day),
                        f.meals, title, "bar over" if f.ceiling and f.meals > f.ceiling else "bar"))
        if f.ceiling:
            y = top_pad + plot_h - plot_h * f.ceiling / top
            marks.append(Mark(round(x - step * 0.1, 1), round(x + w + step * 0.1, 1), round(y, 1), title))
    ticks = tuple((round(top_pad + plot_h - plot_h * v / top, 1), str(v)) for v in (0, top // 2, top))
    return Chart(width, height, tuple(bars), tuple(marks), ticks, top)


def reason_chart(counts: dict[str, int], labels: dict[str, str], *, width: int = 720) -> Chart:
    """Horizontal bars, one per refusal reason."""
    row, left = 26, 220
    items = sorted(((c, n) for c, n in counts.items() if n), key=lambda kv: -kv[1])
    top = _nice_top(max([n for _, n in items] + [1]))
    bars = []
    for i, (code, n) in enumerate(items):
        w = (width - left - 60) * n / top
        bars.append(Bar(left, i * row + 4, round(max(w, 1), 1), row - 8, labels.get(code, code), n,
                        f"{labels.get(code, code)}: {n}"))
    return Chart(width, max(len(items), 1) * row + 8, tuple(bars), (), (), top)
