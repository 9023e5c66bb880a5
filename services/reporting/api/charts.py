"""Server-side SVG charts for the printable report: plain strings, no scripts, no external assets (pure).

Axes tick at round numbers (steps of 1, 2, 2.5 or 5 x 10^k; whole numbers for counts), percentages are
written one way everywhere (`pct`), a bar at 0 still shows as a thin mark, and the target's label sits in
the legend under the chart, where no bar label can run into it.
"""

from __future__ import annotations

import math
from html import escape

PRIORITY_COLOURS = {"P1": "#b3261e", "P2": "#e8710a", "P3": "#f2c12e", "P4": "#4c8bf5", "P5": "#9aa0a6"}
INK, GRID, GOOD, BAD, MUTED = "#202124", "#dadce0", "#188038", "#b3261e", "#5f6368"
W, H, PAD_L, PAD_B, PAD_T = 640, 240, 64, 44, 18
LEGEND = 16  # the legend row under the x labels
MIN_BAR = 2.0  # px: a bar at 0 is a visible mark, not nothing


def pct(value: float | None) -> str:
    """A percentage as the report writes it: two decimals, cut rather than rounded (99.996 % never reads as
    100 %), and a whole 100 % as `100 %`."""
    if value is None:
        return "-"
    if value >= 100:
        return "100 %"
    return f"{math.floor(value * 100 + 1e-9) / 100:.2f} %"


def nice_step(span: float, *, integer: bool, most: int = 5) -> float:
    """The smallest round step (1, 2, 2.5 or 5 x 10^k) covering `span` in at most `most` steps; for counts a
    whole number of at least 1 (never half an incident)."""
    raw = max(span, 1e-9) / most
    k = math.floor(math.log10(raw))
    for exponent in (k, k + 1):
        for base in (1, 2, 2.5, 5):
            step = base * 10**exponent
            if integer and (step < 1 or step != int(step)):
                continue
            if step * most >= span - 1e-9:
                return step
    return 10.0 ** (k + 2)


def ticks(low: float, high: float, *, integer: bool = False) -> list[float]:
    """Round tick values from `low` up to the first at or above `high`."""
    step = nice_step(high - low, integer=integer)
    count = max(1, math.ceil((high - low) / step - 1e-9))
    return [round(low + i * step, 10) for i in range(count + 1)]


def _svg(body: str, title: str, height: int = H + LEGEND) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _y(value: float, low: float, high: float) -> float:
    return H - PAD_B - (H - PAD_B - PAD_T) * ((value - low) / (high - low) if high > low else 0)


def _axis(marks: list[float], unit: str) -> str:
    """Horizontal grid lines at each tick, labelled on the left."""
    low, high = marks[0], marks[-1]
    return "".join(
        f'<line x1="{PAD_L}" y1="{(y := _y(v, low, high)):.1f}" x2="{W - 8}" y2="{y:.1f}" stroke="{GRID}"/>'
        f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{v:g}{unit}</text>'
        for v in marks
    )


def _xlabel(x: float, text: str, slot: float) -> str:
    """A category label under its bar, on two lines when it would not fit the slot (CI names are long)."""
    fits = max(4, int(slot / 6.2))
    words, lines = text.split(), [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + 1 + len(word) > fits and len(lines) < 2:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 13}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" fill="{INK}">{spans}</text>'


def _legend(items: list[tuple[str, str]]) -> str:
    """Swatches and words in one row under the chart: (svg of the 10 x 10 swatch at 0,0, label)."""
    parts, x, y = [], PAD_L, H + LEGEND - 14
    for swatch, label in items:
        parts.append(f'<g transform="translate({x},{y})">{swatch}</g>'
                     f'<text x="{x + 14}" y="{y + 9}" fill="{INK}">{escape(label)}</text>')  # fmt: skip
        x += 24 + 7 * len(label)
    return "".join(parts)


def stacked_bars(groups: list[tuple[str, dict[str, int]]], title: str) -> str:
    """One bar per group (a week), stacked by priority; a whole-number axis."""
    marks = ticks(0, max([sum(v.values()) for _, v in groups] + [1]), integer=True)
    slot = (W - PAD_L - 8) / max(1, len(groups))
    parts = [_axis(marks, "")]
    for i, (label, values) in enumerate(groups):
        x, base = PAD_L + i * slot + slot * 0.2, 0
        for prio, colour in PRIORITY_COLOURS.items():
            if n := values.get(prio, 0):
                y0, y1 = _y(base, 0, marks[-1]), _y(base + n, 0, marks[-1])
                parts.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{slot * 0.6:.1f}" height="{y0 - y1:.1f}" '
                    f'fill="{colour}"><title>{escape(label)} {prio}: {n}</title></rect>'
                )
                base += n
        parts.append(_xlabel(x + slot * 0.3, label, slot))
    legend = _legend([(f'<rect width="10" height="10" fill="{c}"/>', p) for p, c in PRIORITY_COLOURS.items()])
    return _svg("".join(parts) + legend, title)


def bars_against_target(items: list[tuple[str, float | None]], target: float, title: str, *, floor: float = 0) -> str:
    """Percent bars (e.g. SLA compliance per priority) with the target drawn across; green at or above it."""
    marks = ticks(floor, 100)
    slot = (W - PAD_L - 8) / max(1, len(items))
    parts = [_axis(marks, " %")]
    for i, (label, value) in enumerate(items):
        x, mid = PAD_L + i * slot + slot * 0.2, PAD_L + i * slot + slot * 0.5
        if value is not None:
            height = max(MIN_BAR, H - PAD_B - _y(max(value, floor), floor, 100))
            y = H - PAD_B - height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{height:.1f}" '
                f'fill="{GOOD if value >= target else BAD}"><title>{escape(label)}: {pct(value)}</title></rect>'
                f'<text x="{mid:.1f}" y="{y - 4:.1f}" text-anchor="middle" fill="{INK}">{pct(value)}</text>'
            )
        else:
            parts.append(f'<text x="{mid:.1f}" y="{H - PAD_B - 4}" text-anchor="middle" fill="{MUTED}">n/a</text>')
        parts.append(_xlabel(mid, label, slot))
    ty = _y(min(max(target, floor), 100), floor, 100)
    parts.append(f'<line x1="{PAD_L}" y1="{ty:.1f}" x2="{W - 8}" y2="{ty:.1f}" stroke="{INK}" stroke-dasharray="6 4"/>')
    dashed = f'<line x1="0" y1="5" x2="10" y2="5" stroke="{INK}" stroke-dasharray="3 2"/>'
    legend = _legend([(dashed, f"target {pct(target)}"), (f'<rect width="10" height="10" fill="{GOOD}"/>', "met"),
                      (f'<rect width="10" height="10" fill="{BAD}"/>', "missed")])  # fmt: skip
    return _svg("".join(parts) + legend, title)


def line(points: list[tuple[str, float | None]], title: str, unit: str = "") -> str:
    """A trend line (e.g. MTTR over the last periods); gaps where a period had no value."""
    marks = ticks(0, max([v for _, v in points if v is not None] + [1.0]))
    slot = (W - PAD_L - 8) / max(1, len(points))
    parts, path = [_axis(marks, unit)], []
    for i, (label, value) in enumerate(points):
        x = PAD_L + i * slot + slot / 2
        parts.append(_xlabel(x, label, slot))
        if value is None:
            parts.append(f'<text x="{x:.1f}" y="{H - PAD_B - 4}" text-anchor="middle" fill="{MUTED}">none</text>')
            continue
        y = _y(value, 0, marks[-1])
        path.append(f"{'M' if not path else 'L'}{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{INK}"><title>{escape(label)}: {value:g}{unit}</title>'
            f'</circle><text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" fill="{INK}">{value:g}{unit}</text>'
        )
    if path:
        parts.insert(1, f'<path d="{" ".join(path)}" fill="none" stroke="{INK}" stroke-width="2"/>')
    return _svg("".join(parts), title, H)
