"""More server-made SVG charts (columns over time, a heatmap), in the style of ``program.charts``.

Pure functions returning ``Markup``: no script, no external URLs, no ``style`` attributes (the CSP is
``style-src 'self'``), an explicit font family (so PDF renderers don't fall back to a serif), and a
``<title>``/``<desc>`` pair that tells assistive technology every value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from program.charts import BAR, FONT_FAMILY, INK, MUTED, TRACK, _fmt

SECOND = "#7aa0d8"
HEAT_LOW = (238, 241, 246)  # TRACK
HEAT_HIGH = (36, 86, 166)  # BAR


def _ids(title: str, chart_id: str | None) -> tuple[str, str]:
    base = chart_id or "chart-" + hashlib.sha1(title.encode()).hexdigest()[:10]
    return f"{base}-title", f"{base}-desc"


def _open(width: int, height: int, title: str, summary: str, title_id: str, desc_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{title_id} {desc_id}" '
        f'font-family="{FONT_FAMILY}" font-size="12" fill="{INK}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(summary)}</desc>',
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]


def column_chart(
    title: str,
    data: Sequence[tuple[str, float]],
    *,
    second: Sequence[float] | None = None,
    legend: tuple[str, str] = ("", ""),
    chart_id: str | None = None,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Vertical columns, one per (label, value), oldest left; an optional second series drawn inside each
    column (e.g. "of which the debrief is submitted")."""
    title_id, desc_id = _ids(title, chart_id)
    values = [max(float(v), 0.0) for _, v in data]
    inner = [max(float(v), 0.0) for v in second] if second is not None else None
    top = max(values + (inner or []), default=0.0)
    head, foot, left = 48 if inner is not None else 34, 34, 8
    plot_h = height - head - foot
    slot = (width - left) / max(len(data), 1)
    bar_w = max(slot * 0.7, 4)
    if inner is not None:
        summary = "; ".join(
            f"{label}: {legend[0]} {_fmt(v)}, {legend[1]} {_fmt(s)}"
            for (label, _), v, s in zip(data, values, inner, strict=True)
        )
    else:
        summary = "; ".join(f"{label}: {_fmt(v)}" for (label, _), v in zip(data, values, strict=True))
    parts = _open(width, height, title, summary or "No data.", title_id, desc_id)
    if inner is not None:
        parts.append(
            f'<rect x="0" y="28" width="10" height="10" fill="{BAR}"/><text x="14" y="37">{escape(legend[0])}</text>'
            f'<rect x="140" y="28" width="10" height="10" fill="{SECOND}"/>'
            f'<text x="154" y="37">{escape(legend[1])}</text>'
        )
    base_y = head + plot_h
    parts.append(f'<line x1="{left}" y1="{base_y}" x2="{width}" y2="{base_y}" stroke="{MUTED}" stroke-width="1"/>')
    for n, ((label, _), value) in enumerate(zip(data, values, strict=True)):
        x = left + n * slot + (slot - bar_w) / 2
        h = plot_h * value / top if top else 0.0
        parts.append(f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}"/>')
        if inner is not None:
            h2 = plot_h * inner[n] / top if top else 0.0
            parts.append(
                f'<rect x="{x + bar_w * 0.2:.1f}" y="{base_y - h2:.1f}" width="{bar_w * 0.6:.1f}" '
                f'height="{h2:.1f}" fill="{SECOND}"/>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{base_y - h - 4:.1f}" text-anchor="middle">{escape(_fmt(value))}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{base_y + 16}" text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _heat(value: float, top: float) -> str:
    if not value or not top:
        return "#ffffff"
    share = 0.15 + 0.85 * value / top
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    title: str,
    *,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Mapping[tuple[str, str], float],
    chart_id: str | None = None,
    width: int = 640,
    label_width: int = 120,
    cell_h: int = 30,
) -> Markup:
    """A grid of ``rows`` × ``columns``; darker means more. Each cell shows its number; empty cells are white
    with a dash, so a gap in coverage is plain to see."""
    title_id, desc_id = _ids(title, chart_id)
    top = max(values.values(), default=0)
    head = 52
    cell_w = (width - label_width) / max(len(columns), 1)
    height = head + cell_h * max(len(rows), 1) + 8
    summary = "; ".join(f"{r} / {c}: {_fmt(values.get((r, c), 0))}" for r in rows for c in columns) or "No data."
    parts = _open(width, height, title, summary, title_id, desc_id)
    for n, column in enumerate(columns):
        x = label_width + n * cell_w + cell_w / 2
        parts.append(f'<text x="{x:.1f}" y="{head - 8}" text-anchor="middle" fill="{MUTED}">{escape(column)}</text>')
    for m, row in enumerate(rows):
        y = head + m * cell_h
        parts.append(f'<text x="{label_width - 8}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end">{escape(row)}</text>')
        for n, column in enumerate(columns):
            value = values.get((row, column), 0)
            x = label_width + n * cell_w
            fill = _heat(value, top)
            ink = "#ffffff" if value and value / top > 0.55 else INK
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" fill="{fill}" '
                f'stroke="{TRACK}"/>'
                f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + cell_h / 2 + 3:.1f}" text-anchor="middle" '
                f'fill="{ink if value else MUTED}">{escape(_fmt(value)) if value else "–"}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
