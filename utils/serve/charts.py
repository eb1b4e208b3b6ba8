"""SVG line charts drawn on the server: one chart per metric, every run overlaid.

The conventions are the static comparison's (utils.reports.overlay): colour is the run (matplotlib's tab10, in
the same order), line style the split (train dashed, validation solid). Text is escaped here, the one place that
writes SVG. matplotlib is not imported: the server must start in a second.
"""
import math
from dataclasses import dataclass
from html import escape

# matplotlib's tab10, so a run has the colour it has in compare_*/ figures
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
SPLIT_DASHES = {"train": "6 4", "validation": ""}
WIDTH, HEIGHT = 560, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 16, 26, 36
TICKS = 5


@dataclass(frozen=True)
class Series:
    label: str  # the run's name in the legend
    split: str  # "train" or "validation"
    colour: str
    points: list  # [(epoch, value)], values finite


def colour_of(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def nice_ticks(low: float, high: float, count: int = TICKS) -> list:
    """About `count` round values spanning [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)
    first = math.floor(low / step) * step
    return [round(first + index * step, 10) for index in range(int(math.ceil((high - first) / step)) + 1)]


def tick_text(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def line_chart(title: str, series: list, x_label: str = "epoch") -> str:
    """One chart as an <svg> element; with no points, a frame that says so."""
    points = [point for line in series for point in line.points]
    head = (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>')
    if not points:
        return head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#777">no epochs yet</text></svg>'
    xs = nice_ticks(1, max(2, max(x for x, _ in points)))
    xs = [tick for tick in xs if tick == int(tick)]  # whole epochs only
    ys = nice_ticks(min(y for _, y in points), max(y for _, y in points))
    scale = _Scale(xs[0], xs[-1], ys[0], ys[-1])
    parts = [head, _axes(scale, xs, ys, x_label)]
    for line in series:
        parts.append(_polyline(scale, line))
    return "".join(parts) + "</svg>"


@dataclass(frozen=True)
class _Scale:
    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def x(self, value: float) -> float:
        span = (self.x_high - self.x_low) or 1.0
        return round(MARGIN_LEFT + (value - self.x_low) / span * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT), 2)

    def y(self, value: float) -> float:
        span = (self.y_high - self.y_low) or 1.0
        return round(HEIGHT - MARGIN_BOTTOM - (value - self.y_low) / span * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM), 2)


def _axes(scale: _Scale, xs: list, ys: list, x_label: str) -> str:
    bottom, left = HEIGHT - MARGIN_BOTTOM, MARGIN_LEFT
    parts = ['<g class="axes" font-size="10" fill="#444" stroke="none">']
    for tick in ys:
        y = scale.y(tick)
        parts.append(f'<line x1="{left}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" y2="{y}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 4}" y="{y + 3}" text-anchor="end">{tick_text(tick)}</text>')
    for tick in xs:
        x = scale.x(tick)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{bottom}" y2="{bottom + 4}" stroke="#444"/>'
                     f'<text x="{x}" y="{bottom + 15}" text-anchor="middle">{tick_text(tick)}</text>')
    parts.append(f'<line x1="{left}" x2="{WIDTH - MARGIN_RIGHT}" y1="{bottom}" y2="{bottom}" stroke="#444"/>'
                 f'<text x="{(left + WIDTH - MARGIN_RIGHT) / 2}" y="{HEIGHT - 4}" text-anchor="middle">'
                 f'{escape(x_label)}</text></g>')
    return "".join(parts)


def _polyline(scale: _Scale, line: Series) -> str:
    coordinates = " ".join(f"{scale.x(x)},{scale.y(y)}" for x, y in line.points)
    dash = SPLIT_DASHES.get(line.split, "")
    label = escape(f"{line.label} {line.split}".strip())
    marker = "".join(f'<circle cx="{scale.x(x)}" cy="{scale.y(y)}" r="2.2" fill="{line.colour}"/>'
                     for x, y in line.points) if len(line.points) <= 20 else ""
    return (f'<g class="series" data-label="{label}" data-points="{len(line.points)}"><title>{label}</title>'
            f'<polyline fill="none" stroke="{line.colour}" stroke-width="1.8" points="{coordinates}"'
            + (f' stroke-dasharray="{dash}"' if dash else "") + f"/>{marker}</g>")


def legend(runs: dict, splits=("train", "validation")) -> str:
    """The two legends as HTML: runs by colour ({label: colour}), splits by line style."""
    run_items = "".join(f'<li><svg width="28" height="10"><line x1="0" x2="28" y1="5" y2="5" stroke="{colour}" '
                        f'stroke-width="3"/></svg> {escape(label)}</li>' for label, colour in runs.items())
    split_items = "".join('<li><svg width="28" height="10"><line x1="0" x2="28" y1="5" y2="5" stroke="#000" '
                          'stroke-width="1.8"' + (f' stroke-dasharray="{SPLIT_DASHES[split]}"' if SPLIT_DASHES[split] else "")
                          + f'/></svg> {split}</li>' for split in splits)
    return (f'<div class="legend"><ul class="runs"><li><b>run</b></li>{run_items}</ul>'
            f'<ul class="splits"><li><b>split</b></li>{split_items}</ul></div>')
