"""Server-made SVG charts: the same markup goes into the page and into a PDF.

Pure functions returning ``Markup``. No script, no external URLs, no ``style`` attributes (the app's
CSP is ``style-src 'self'``): everything is drawn with SVG presentation attributes (fill=, font-size=),
and the font family is set explicitly so PDF renderers don't fall back to a serif.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from markupsafe import Markup, escape

FONT_FAMILY = "DejaVu Sans, Arial, Helvetica, sans-serif"
INK = "#1d2433"
MUTED = "#5b6475"
BAR = "#2456a6"
TRACK = "#eef1f6"
MAX_LABEL = 34  # characters shown beside a bar; the full label is in the description


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


def bar_chart(
    title: str,
    data: Sequence[tuple[str, float]],
    *,
    description: str | None = None,
    chart_id: str | None = None,
    width: int = 640,
    label_width: int = 240,
    bar_height: int = 20,
    gap: int = 8,
    colour: str = BAR,
    unit: str = "",
) -> Markup:
    """A horizontal bar chart: one labelled bar per (label, value), the value written after the bar.

    The title and a text description listing every value are exposed to assistive technology
    (``role="img"`` with ``aria-labelledby`` pointing at ``<title>`` and ``<desc>``).
    """
    base = chart_id or "chart-" + hashlib.sha1(title.encode()).hexdigest()[:10]
    title_id, desc_id = f"{base}-title", f"{base}-desc"
    values = [max(float(v), 0.0) for _, v in data]
    top = max(values, default=0.0)
    value_room = 64
    track = max(width - label_width - value_room, 40)
    head = 34  # room for the title line
    height = head + max(len(data), 1) * (bar_height + gap) + gap
    summary = description or (
        "; ".join(f"{label}: {_fmt(v)}{unit}" for (label, _), v in zip(data, values, strict=True)) or "No data."
    )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{title_id} {desc_id}" '
        f'font-family="{FONT_FAMILY}" font-size="13" fill="{INK}">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(summary)}</desc>',
        f'<text x="0" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if not data:
        parts.append(f'<text x="0" y="{head + bar_height - 4}" fill="{MUTED}">No data.</text>')
    for n, ((label, _), value) in enumerate(zip(data, values, strict=True)):
        y = head + n * (bar_height + gap)
        text_y = y + bar_height / 2 + 4.5
        length = track * value / top if top else 0.0
        parts.append(
            f'<text x="{label_width - 8}" y="{text_y:g}" text-anchor="end">{escape(_short(label))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{track}" height="{bar_height}" fill="{TRACK}"/>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="{colour}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{text_y:g}">{escape(_fmt(value) + unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
