"""A strategy's KPI progress as an SVG bar chart (no I/O, no drawing library).

One row per KPI: a bar from 0% to 100% of the way from baseline to target, filled to the progress made (an
arrow past the end when beyond the target, an empty bar when it moved away), a dashed mark where a straight line
from baseline to target would be, and the status in words, so colour is never the only cue. The ``<title>`` and
``<desc>`` describe the whole chart for screen readers; every text from users is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from trellis_strategy.domain.kpi import KpiStatus

WIDTH = 720
_LABEL_W = 250
_BAR_X = _LABEL_W + 10
_BAR_W = 300
_ROW_H = 46
_TOP = 56
_STATUS_X = _BAR_X + _BAR_W + 16
_MAX_LABEL = 34

# Colour-blind-safe pairs (Okabe–Ito) with the status also written out.
_COLOURS = {
    KpiStatus.ACHIEVED: "#009E73",
    KpiStatus.ON_TRACK: "#0072B2",
    KpiStatus.BEHIND: "#E69F00",
    KpiStatus.MISSED: "#D55E00",
    KpiStatus.NO_DATA: "#999999",
}
_WORDS = {
    KpiStatus.ACHIEVED: "achieved",
    KpiStatus.ON_TRACK: "on track",
    KpiStatus.BEHIND: "behind",
    KpiStatus.MISSED: "missed",
    KpiStatus.NO_DATA: "no data",
}


@dataclass(frozen=True)
class KpiBar:
    name: str
    unit: str
    baseline: float
    target: float
    latest: float | None
    progress: float | None
    expected: float | None
    status: KpiStatus


def kpi_chart(title: str, bars: Sequence[KpiBar], *, chart_id: str = "kpi", cluster_name: str | None = None) -> str:
    """The chart as an SVG document; ``chart_id`` keeps element ids unique when several charts share a page.

    ``cluster_name`` (when known) follows the strategy's title, so a chart passed on says whose strategy it is.
    """
    title = f"{title} · {cluster_name}" if cluster_name else title
    height = _TOP + max(1, len(bars)) * _ROW_H + 24
    ids = {"title": f"{chart_id}-title", "desc": f"{chart_id}-desc"}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{ids["title"]} {ids["desc"]}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="13">',
        f'<title id="{ids["title"]}">{escape(f"KPI progress: {title}")}</title>',
        f'<desc id="{ids["desc"]}">{escape(describe(bars))}</desc>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="16" y="28" font-size="16" font-weight="600" fill="#1a1a1a">{escape(_clip(title, 70))}</text>',
        f'<text x="{_BAR_X}" y="{_TOP - 8}" fill="#555555" font-size="11">0%</text>',
        f'<text x="{_BAR_X + _BAR_W}" y="{_TOP - 8}" fill="#555555" font-size="11" '
        'text-anchor="end">100% (target)</text>',
    ]
    if not bars:
        parts.append(f'<text x="16" y="{_TOP + 24}" fill="#555555">No KPIs yet.</text>')
    for index, bar in enumerate(bars):
        parts.extend(_row(bar, _TOP + index * _ROW_H))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def describe(bars: Sequence[KpiBar]) -> str:
    """One sentence per KPI: what a screen reader says instead of showing the bars."""
    if not bars:
        return "The strategy has no KPIs yet."
    sentences = []
    for bar in bars:
        if bar.progress is None:
            sentences.append(f"{bar.name}: no measurement yet (target {_num(bar.target)} {bar.unit}).")
        else:
            assert bar.latest is not None
            sentences.append(
                f"{bar.name}: {_num(bar.latest)} {bar.unit}, {bar.progress:.0%} of the way from "
                f"{_num(bar.baseline)} to {_num(bar.target)}, {_WORDS[bar.status]}."
            )
    return " ".join(sentences)


def _row(bar: KpiBar, y: int) -> list[str]:
    colour = _COLOURS[bar.status]
    mid = y + 16
    label = f"{_clip(bar.name, _MAX_LABEL)} ({_clip(bar.unit, 10)})"
    out = [
        f"<g><title>{escape(describe([bar]))}</title>",
        f'<text x="16" y="{mid + 5}" fill="#1a1a1a">{escape(label)}</text>',
        f'<rect x="{_BAR_X}" y="{y + 6}" width="{_BAR_W}" height="20" rx="3" fill="#eeeeee" stroke="#cccccc"/>',
    ]
    if bar.progress is not None and bar.progress > 0:
        filled = round(_BAR_W * min(bar.progress, 1.0), 1)
        out.append(f'<rect x="{_BAR_X}" y="{y + 6}" width="{filled}" height="20" rx="3" fill={quoteattr(colour)}/>')
        if bar.progress > 1:  # beyond the target: an arrow head past the end
            tip = _BAR_X + _BAR_W
            out.append(f'<path d="M{tip} {y + 6} l8 10 l-8 10 z" fill={quoteattr(colour)}/>')
    if bar.expected is not None:
        x = round(_BAR_X + _BAR_W * bar.expected, 1)
        out.append(
            f'<line x1="{x}" y1="{y + 2}" x2="{x}" y2="{y + 30}" stroke="#1a1a1a" stroke-width="1.5" '
            'stroke-dasharray="3 2"/>'
        )
    figure = "–" if bar.progress is None else f"{bar.progress:.0%}"
    out.append(
        f'<text x="{_STATUS_X}" y="{mid + 5}" fill="#1a1a1a">{escape(figure)} · '
        f'<tspan fill={quoteattr(colour)} font-weight="600">{escape(_WORDS[bar.status])}</tspan></text>'
    )
    out.append("</g>")
    return out


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _num(value: float) -> str:
    return f"{value:g}"
