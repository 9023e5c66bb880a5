"""Server-side SVG charts for the printable report: plain strings, no scripts, no external assets (pure)."""

from __future__ import annotations

from html import escape

PRIORITY_COLOURS = {"P1": "#b3261e", "P2": "#e8710a", "P3": "#f2c12e", "P4": "#4c8bf5", "P5": "#9aa0a6"}
INK, GRID, GOOD, BAD = "#202124", "#dadce0", "#188038", "#b3261e"
W, H, PAD_L, PAD_B, PAD_T = 640, 240, 64, 36, 16


def _svg(body: str, title: str, height: int = H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _axis(top: float, label: str) -> str:
    """Horizontal grid lines at 0, 25, 50, 75, 100 % of `top`, labelled."""
    lines = []
    for k in range(5):
        y = H - PAD_B - (H - PAD_B - PAD_T) * k / 4
        value = top * k / 4
        text = f"{value:.0f}" if top >= 4 or value == int(value) else f"{value:.1f}"
        lines.append(
            f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - 8}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{text}{label}</text>'
        )
    return "".join(lines)


def _y(value: float, top: float) -> float:
    return H - PAD_B - (H - PAD_B - PAD_T) * (value / top if top else 0)


def stacked_bars(groups: list[tuple[str, dict[str, int]]], title: str) -> str:
    """One bar per group (a week), stacked by priority."""
    top = max([sum(v.values()) for _, v in groups] + [1])
    slot = (W - PAD_L - 8) / max(1, len(groups))
    parts = [_axis(top, "")]
    for i, (label, values) in enumerate(groups):
        x, base = PAD_L + i * slot + slot * 0.2, 0
        for prio, colour in PRIORITY_COLOURS.items():
            n = values.get(prio, 0)
            if n:
                y0, y1 = _y(base, top), _y(base + n, top)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{slot * 0.6:.1f}" height="{y0 - y1:.1f}" '
                    f'fill="{colour}"><title>{escape(label)} {prio}: {n}</title></rect>'
                )
                base += n
        parts.append(
            f'<text x="{x + slot * 0.3:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" fill="{INK}">'
            f"{escape(label)}</text>"
        )
    legend = "".join(
        f'<rect x="{PAD_L + k * 70}" y="{H - 12}" width="10" height="10" fill="{c}"/>'
        f'<text x="{PAD_L + k * 70 + 14}" y="{H - 3}" fill="{INK}">{p}</text>'
        for k, (p, c) in enumerate(PRIORITY_COLOURS.items())
    )
    return _svg("".join(parts) + legend, title, H + 12)


def bars_against_target(items: list[tuple[str, float | None]], target: float, title: str, *, floor: float = 0) -> str:
    """Percent bars (e.g. SLA compliance per priority) with the target drawn across; green at or above it."""
    span = 100.0 - floor
    slot = (W - PAD_L - 8) / max(1, len(items))
    parts = [_axis_pct(floor)]
    for i, (label, value) in enumerate(items):
        x = PAD_L + i * slot + slot * 0.2
        if value is not None:
            y = _y(max(0.0, value - floor), span)
            colour = GOOD if value >= target else BAD
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{H - PAD_B - y:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {value} %</title></rect>'
                f'<text x="{x + slot * 0.3:.1f}" y="{y - 4:.1f}" text-anchor="middle" fill="{INK}">{value:g}</text>'
            )
        else:
            parts.append(
                f'<text x="{x + slot * 0.3:.1f}" y="{H - PAD_B - 4}" text-anchor="middle" fill="{GRID}">n/a</text>'
            )
        parts.append(
            f'<text x="{x + slot * 0.3:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" fill="{INK}">'
            f"{escape(label)}</text>"
        )
    ty = _y(target - floor, span)
    parts.append(
        f'<line x1="{PAD_L}" y1="{ty:.1f}" x2="{W - 8}" y2="{ty:.1f}" stroke="{INK}" stroke-dasharray="6 4"/>'
        f'<text x="{W - 10}" y="{ty - 4:.1f}" text-anchor="end" fill="{INK}">target {target:g} %</text>'
    )
    return _svg("".join(parts), title)


def _axis_pct(floor: float) -> str:
    lines = []
    for k in range(5):
        value = floor + (100 - floor) * k / 4
        y = _y(value - floor, 100 - floor)
        lines.append(
            f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - 8}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}">{value:g} %</text>'
        )
    return "".join(lines)


def line(points: list[tuple[str, float | None]], title: str, unit: str = "") -> str:
    """A trend line (e.g. MTTR over the last periods); gaps where a period had no value."""
    values = [v for _, v in points if v is not None]
    top = max([*values, 1.0]) * 1.15
    slot = (W - PAD_L - 8) / max(1, len(points))
    parts, path = [_axis(top, unit)], []
    for i, (label, value) in enumerate(points):
        x = PAD_L + i * slot + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{H - PAD_B + 16}" text-anchor="middle" fill="{INK}">{escape(label)}</text>')
        if value is None:
            continue
        y = _y(value, top)
        path.append(f"{'M' if not path else 'L'}{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{INK}">'
            f"<title>{escape(label)}: {value:g}{unit}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" fill="{INK}">{value:g}</text>'
        )
    if path:
        parts.insert(1, f'<path d="{" ".join(path)}" fill="none" stroke="{INK}" stroke-width="2"/>')
    return _svg("".join(parts), title)
