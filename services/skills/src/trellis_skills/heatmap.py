"""The cluster's skills heatmap as SVG (labelled, accessible) and PNG (the same picture, drawn by matplotlib).

Pure rendering, no I/O. People read names: the title is the cluster's name, the columns are member
organisations' names (or areas), the rows are skill labels; codes and ids stay in the data. Both pictures share
one layout (``_Layout``): the SVG is written by hand, the PNG is drawn with matplotlib's Agg backend and its
bundled DejaVu fonts, so it needs no system fonts, and carries the title and description as metadata too. Every
text that reaches the SVG is escaped, and characters XML 1.0 forbids are replaced.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from trellis_skills.domain.imbalance import ImbalanceType
from trellis_skills.heatmap_words import WORDS


@dataclass(frozen=True)
class HeatmapRow:
    skill_code: str
    label: str
    imbalance: ImbalanceType | None


@dataclass(frozen=True)
class Heatmap:
    title: str
    subtitle: str
    column_heading: str  # "member", "region", ...
    columns_name: str  # the same in the plural: "members", "size classes", ...
    rows: list[HeatmapRow]
    columns: list[str]  # keys: member ids or area names
    cells: dict[tuple[str, str], tuple[float, int]]  # (skill_code, column) → (mean gap, answers)
    column_labels: dict[str, str] = field(default_factory=dict)  # column → what people read (a member's name)
    words: Mapping[str, str] = field(default_factory=lambda: WORDS["en"])  # the picture's language

    def column_label(self, column: str) -> str:
        return self.column_labels.get(column, column)

    @property
    def max_value(self) -> float:
        return max((value for value, _ in self.cells.values()), default=0.0)


# Sequential scale, pale (no gap) to dark red (the largest gap on the map).
_STOPS = ((0.0, (255, 247, 236)), (0.5, (252, 141, 89)), (1.0, (153, 0, 0)))
_EMPTY = (238, 238, 238)
_GRID = (255, 255, 255)
IMBALANCE_COLOURS: dict[ImbalanceType, tuple[int, int, int]] = {
    ImbalanceType.SHORTAGE: (179, 0, 0),
    ImbalanceType.GAP: (191, 84, 0),
    ImbalanceType.SURPLUS: (33, 102, 172),
    ImbalanceType.OBSOLESCENCE: (106, 81, 163),
    ImbalanceType.BALANCED: (35, 120, 60),
}
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def colour(value: float, maximum: float) -> tuple[int, int, int]:
    share = 0.0 if maximum <= 0 else min(1.0, max(0.0, value / maximum))
    for (low, c_low), (high, c_high) in pairwise(_STOPS):
        if share <= high:
            t = (share - low) / (high - low)
            r, g, b = (round(a + (z - a) * t) for a, z in zip(c_low, c_high, strict=True))
            return (r, g, b)
    return _STOPS[-1][1]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _dark(rgb: tuple[int, int, int]) -> bool:
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _text(text: str) -> str:
    return escape(_clean(text))


def _attr(text: str) -> str:
    return quoteattr(_clean(text))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(heatmap: Heatmap, value: float) -> str:
    number = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return number.replace(".", heatmap.words["decimal_mark"])


def sorted_rows(rows: list[HeatmapRow]) -> list[HeatmapRow]:
    order = list(ImbalanceType)
    return sorted(rows, key=lambda r: (order.index(r.imbalance) if r.imbalance else len(order), r.label, r.skill_code))


def describe(heatmap: Heatmap) -> str:
    """The picture in words, for screen readers and for the PNG's description."""
    say = heatmap.words
    text = say["describe"].format(
        subtitle=heatmap.subtitle, rows=len(heatmap.rows), columns=len(heatmap.columns), plural=heatmap.columns_name
    )
    labels = {row.skill_code: row.label for row in heatmap.rows}
    shown = [item for item in heatmap.cells.items() if item[0][0] in labels]  # rows a framework filter kept
    largest = sorted(shown, key=lambda item: (-item[1][0], item[0]))[:3]
    if largest and largest[0][1][0] > 0:
        items = "; ".join(
            say["largest_item"].format(
                skill=labels[code], column=heatmap.column_label(column), value=_fmt(heatmap, value)
            )
            for (code, column), (value, _) in largest
            if value > 0
        )
        text += say["largest"].format(items=items)
    kinds = [r.imbalance for r in heatmap.rows if r.imbalance]
    if kinds:
        counts = ", ".join(f"{imbalance_word(heatmap, k)} {kinds.count(k)}" for k in ImbalanceType if k in kinds)
        text += say["kinds"].format(items=counts)
    return text


def imbalance_word(heatmap: Heatmap, kind: ImbalanceType) -> str:
    return heatmap.words[f"imbalance.{kind.value}"]


# Layout (px), shared by the SVG and the PNG
CELL = 24
LABEL_CHARS = 72  # the longest DigComp label, whole: the PNG has no tooltips
COLUMN_CHARS = 30
CHAR_W = 6.6  # average advance of a 12 px sans-serif character
TAG_W = 124  # the imbalance column: its bold heading, e.g. "Ungleichgewicht", must clear the grid


@dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    label_w: int  # the skill labels end here (right-aligned), 12 px from the left edge
    left: int  # the grid starts here
    top: int
    legend_y: int


def _layout(heatmap: Heatmap) -> _Layout:
    rows, columns = heatmap.rows, [heatmap.column_label(c) for c in heatmap.columns]
    label_w = round(min(LABEL_CHARS, max((len(r.label) for r in rows), default=10)) * CHAR_W)
    column_h = round(min(COLUMN_CHARS, max((len(c) for c in columns), default=4)) * CHAR_W * 0.77) + 16
    left = 12 + label_w + 8 + TAG_W
    top = 64 + column_h
    grid_w = max(1, len(columns)) * CELL
    overhang = round(min(COLUMN_CHARS, max((len(c) for c in columns), default=0)) * CHAR_W * 0.65)
    # Wide enough for the title (16 px bold) and the subtitle as well as the grid: neither may be cut off.
    heading_w = max(len(heatmap.title) * CHAR_W * 16 / 12 * 1.08, len(heatmap.subtitle) * CHAR_W) + 24
    width = round(max(left + grid_w + overhang + 16, heading_w, 560))
    height = top + max(1, len(rows)) * CELL + 80
    return _Layout(width, height, label_w, left, top, top + max(1, len(rows)) * CELL + 30)


def render_svg(heatmap: Heatmap) -> str:
    rows, columns, say = heatmap.rows, heatmap.columns, heatmap.words
    maximum = heatmap.max_value
    box = _layout(heatmap)
    width, height, left, top = box.width, box.height, box.left, box.top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="heatmap-title heatmap-desc" '
        # Shown in a page narrower than the map (a phone), it scales down instead of running off the side.
        'style="max-width:100%;height:auto" font-family="DejaVu Sans, Arial, Helvetica, sans-serif" font-size="12">',
        f'<title id="heatmap-title">{_text(heatmap.title)}</title>',
        f'<desc id="heatmap-desc">{_text(describe(heatmap))}</desc>',
        '<defs><pattern id="no-answer" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{_hex(_EMPTY)}"/><path d="M0,6 L6,0" stroke="#b0b0b0"/></pattern></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{_text(heatmap.title)}</text>',
        f'<text x="12" y="44" fill="#333333">{_text(heatmap.subtitle)}</text>',
        f'<text x="{left - TAG_W}" y="{top - 8}" font-weight="bold">{_text(say["imbalance"])}</text>',
    ]
    for j, column in enumerate(columns):
        name = heatmap.column_label(column)
        x = left + j * CELL + CELL / 2 + 4
        out.append(
            f'<g><title>{_text(name)}</title><text x="{x}" y="{top - 6}" transform="rotate(-50 {x} {top - 6})">'
            f"{_text(_short(name, COLUMN_CHARS))}</text></g>"
        )
    if not columns:
        out.append(f'<text x="{left + 4}" y="{top - 8}" fill="#555555">{_text(say["no_columns"])}</text>')
    for i, row in enumerate(rows):
        y = top + i * CELL
        out.append(
            f'<g><title>{_text(row.label)}</title><text x="{12 + box.label_w}" y="{y + CELL / 2 + 4}" '
            f'text-anchor="end">{_text(_short(row.label, LABEL_CHARS))}</text></g>'
        )
        if row.imbalance is not None:
            out.append(
                f'<text x="{left - TAG_W}" y="{y + CELL / 2 + 4}" fill="{_hex(IMBALANCE_COLOURS[row.imbalance])}" '
                f'font-weight="bold">{_text(imbalance_word(heatmap, row.imbalance))}</text>'
            )
        for j, column in enumerate(columns):
            x = left + j * CELL
            name = heatmap.column_label(column)
            cell = heatmap.cells.get((row.skill_code, column))
            if cell is None:
                tip = say["tip_empty"].format(skill=row.label, column=name)
                out.append(
                    f'<rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" fill="url(#no-answer)">'
                    f"<title>{_text(tip)}</title></rect>"
                )
                continue
            value, answers = cell
            rgb = colour(value, maximum)
            tip = say["tip"].format(skill=row.label, column=name, value=_fmt(heatmap, value), answers=answers)
            out.append(
                f'<g><title>{_text(tip)}</title><rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" '
                f'fill="{_hex(rgb)}"/><text x="{x + (CELL - 1) / 2}" y="{y + CELL / 2 + 3}" font-size="9" '
                f'text-anchor="middle" fill="{"#ffffff" if _dark(rgb) else "#000000"}">'
                f"{_fmt(heatmap, value)}</text></g>"
            )
    legend_y = box.legend_y
    steps = 10
    out.append(f'<text x="12" y="{legend_y + 12}">{_text(say["legend_gap"])}</text>')
    for k in range(steps + 1):
        value = maximum * k / steps
        out.append(
            f'<rect x="{48 + k * 20}" y="{legend_y}" width="20" height="16" fill="{_hex(colour(value, maximum))}"/>'
        )
    out.append(f'<text x="48" y="{legend_y + 32}">0</text>')
    top_value = _fmt(heatmap, maximum)
    out.append(f'<text x="{48 + (steps + 1) * 20}" y="{legend_y + 32}" text-anchor="end">{top_value}</text>')
    out.append(
        f'<rect x="{48 + (steps + 1) * 20 + 24}" y="{legend_y}" width="16" height="16" fill="url(#no-answer)"/>'
        f'<text x="{48 + (steps + 1) * 20 + 46}" y="{legend_y + 12}">{_text(say["no_answer"])}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# The PNG: the SVG's layout drawn with matplotlib, one pixel of layout per pixel of image at 100 dpi.
_DPI = 100
_PT = 72 / _DPI  # a font size in px, in points


def heatmap_figure(heatmap: Heatmap) -> Any:
    """The picture as a matplotlib ``Figure`` (Agg canvas); tests read its text artists."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows, columns, say = heatmap.rows, heatmap.columns, heatmap.words
    maximum = heatmap.max_value
    box = _layout(heatmap)
    left, top = box.left, box.top
    figure = Figure(figsize=(box.width / _DPI, box.height / _DPI), dpi=_DPI, facecolor="#ffffff")
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, box.width)
    ax.set_ylim(box.height, 0)  # y grows downwards, as in the SVG
    ax.set_axis_off()
    font = {"family": "DejaVu Sans", "fontsize": 12 * _PT}

    def text(x: float, y: float, value: str, **style: Any) -> None:
        # parse_math off: a "$" in a member's name is a dollar sign, not TeX.
        ax.text(x, y, value, va="baseline", parse_math=False, **{**font, **style})

    def rect(x: float, y: float, w: float, h: float, rgb: tuple[int, int, int] | None, **style: Any) -> None:
        colour_ = _hex(rgb) if rgb is not None else "none"
        ax.add_patch(Rectangle((x, y), w, h, facecolor=colour_, linewidth=0, **style))

    def no_answer(x: float, y: float, w: float, h: float) -> None:
        rect(x, y, w, h, _EMPTY)
        rect(x, y, w, h, None, hatch="////", edgecolor="#b0b0b0")

    text(12, 24, _clean(heatmap.title), fontsize=16 * _PT, fontweight="bold")
    text(12, 44, _clean(heatmap.subtitle), color="#333333")
    text(left - TAG_W, top - 8, say["imbalance"], fontweight="bold")
    for j, column in enumerate(columns):
        x = left + j * CELL + CELL / 2 + 4
        label = _clean(_short(heatmap.column_label(column), COLUMN_CHARS))
        text(x, top - 6, label, rotation=50, rotation_mode="anchor", ha="left")
    if not columns:
        text(left + 4, top - 8, say["no_columns"], color="#555555")
    for i, row in enumerate(rows):
        y = top + i * CELL
        text(12 + box.label_w, y + CELL / 2 + 4, _clean(_short(row.label, LABEL_CHARS)), ha="right")
        if row.imbalance is not None:
            tag = _hex(IMBALANCE_COLOURS[row.imbalance])
            text(left - TAG_W, y + CELL / 2 + 4, imbalance_word(heatmap, row.imbalance), color=tag, fontweight="bold")
        for j, column in enumerate(columns):
            x = left + j * CELL
            cell = heatmap.cells.get((row.skill_code, column))
            if cell is None:
                no_answer(x, y, CELL - 1, CELL - 1)
                continue
            rgb = colour(cell[0], maximum)
            rect(x, y, CELL - 1, CELL - 1, rgb)
            ink = "#ffffff" if _dark(rgb) else "#000000"
            text(x + (CELL - 1) / 2, y + CELL / 2 + 3, _fmt(heatmap, cell[0]), fontsize=9 * _PT, ha="center", color=ink)
    legend_y, steps = box.legend_y, 10
    text(12, legend_y + 12, say["legend_gap"])
    for k in range(steps + 1):
        rect(48 + k * 20, legend_y, 20, 16, colour(maximum * k / steps, maximum))
    text(48, legend_y + 32, "0")
    text(48 + (steps + 1) * 20, legend_y + 32, _fmt(heatmap, maximum), ha="right")
    no_answer(48 + (steps + 1) * 20 + 24, legend_y, 16, 16)
    text(48 + (steps + 1) * 20 + 46, legend_y + 12, say["no_answer"])
    return figure


def render_png(heatmap: Heatmap) -> bytes:
    figure = heatmap_figure(heatmap)
    buffer = io.BytesIO()
    metadata = {"Title": _clean(heatmap.title), "Description": _clean(describe(heatmap)), "Software": None}
    figure.savefig(buffer, format="png", dpi=_DPI, metadata=metadata)
    return buffer.getvalue()
