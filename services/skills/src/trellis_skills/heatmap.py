"""The cluster's skills heatmap as SVG (labelled, accessible) and PNG (the same grid without text).

Pure rendering, no I/O. The PNG is written with the standard library only (zlib); it carries no text
because that would need a font renderer, so its title and description travel in iTXt chunks and the SVG is
the picture to read. Every text that reaches the SVG is escaped, and characters XML 1.0 forbids are replaced.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from itertools import pairwise
from xml.sax.saxutils import escape, quoteattr

from trellis_skills.domain.imbalance import ImbalanceType


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
    columns: list[str]
    cells: dict[tuple[str, str], tuple[float, int]]  # (skill_code, column) → (mean gap, answers)

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


def _fmt(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def sorted_rows(rows: list[HeatmapRow]) -> list[HeatmapRow]:
    order = list(ImbalanceType)
    return sorted(rows, key=lambda r: (order.index(r.imbalance) if r.imbalance else len(order), r.skill_code))


def describe(heatmap: Heatmap) -> str:
    """The picture in words, for screen readers and for the PNG's description."""
    text = (
        f"{heatmap.subtitle}. Rows: {len(heatmap.rows)} skills; columns: {len(heatmap.columns)} "
        f"{heatmap.columns_name}. Darker cells mean larger gaps; grey (hatched) cells mean no answer."
    )
    largest = sorted(heatmap.cells.items(), key=lambda item: (-item[1][0], item[0]))[:3]
    if largest and largest[0][1][0] > 0:
        text += (
            " Largest gaps: "
            + "; ".join(f"{code} at {column} ({_fmt(value)})" for (code, column), (value, _) in largest if value > 0)
            + "."
        )
    kinds = [r.imbalance.value for r in heatmap.rows if r.imbalance]
    if kinds:
        counts = {k.value: kinds.count(k.value) for k in ImbalanceType if k.value in kinds}
        text += " Skills by type of imbalance: " + ", ".join(f"{k} {n}" for k, n in counts.items()) + "."
    return text


# Layout of the SVG (px)
CELL = 24
LABEL_CHARS = 46
COLUMN_CHARS = 22
CHAR_W = 6.6  # average advance of a 12 px sans-serif character
TAG_W = 110


def render_svg(heatmap: Heatmap) -> str:
    rows, columns = heatmap.rows, heatmap.columns
    maximum = heatmap.max_value
    label_w = round(min(LABEL_CHARS, max((len(r.skill_code) + 1 + len(r.label) for r in rows), default=10)) * CHAR_W)
    column_h = round(min(COLUMN_CHARS, max((len(c) for c in columns), default=4)) * CHAR_W * 0.77) + 16
    left = 12 + label_w + 8 + TAG_W
    top = 64 + column_h
    grid_w = max(1, len(columns)) * CELL
    overhang = round(min(COLUMN_CHARS, max((len(c) for c in columns), default=0)) * CHAR_W * 0.65)
    width = max(left + grid_w + overhang + 16, 560)
    height = top + max(1, len(rows)) * CELL + 80
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="heatmap-title heatmap-desc" '
        'font-family="DejaVu Sans, Arial, Helvetica, sans-serif" font-size="12">',
        f'<title id="heatmap-title">{_text(heatmap.title)}</title>',
        f'<desc id="heatmap-desc">{_text(describe(heatmap))}</desc>',
        '<defs><pattern id="no-answer" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{_hex(_EMPTY)}"/><path d="M0,6 L6,0" stroke="#b0b0b0"/></pattern></defs>',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{_text(heatmap.title)}</text>',
        f'<text x="12" y="44" fill="#333333">{_text(heatmap.subtitle)}</text>',
        f'<text x="{left - TAG_W}" y="{top - 8}" font-weight="bold">imbalance</text>',
    ]
    for j, name in enumerate(columns):
        x = left + j * CELL + CELL / 2 + 4
        out.append(
            f'<g><title>{_text(name)}</title><text x="{x}" y="{top - 6}" transform="rotate(-50 {x} {top - 6})">'
            f"{_text(_short(name, COLUMN_CHARS))}</text></g>"
        )
    if not columns:
        out.append(f'<text x="{left + 4}" y="{top - 8}" fill="#555555">no member answers yet</text>')
    for i, row in enumerate(rows):
        y = top + i * CELL
        full = f"{row.skill_code} {row.label}"
        out.append(
            f'<g><title>{_text(full)}</title><text x="{12 + label_w}" y="{y + CELL / 2 + 4}" text-anchor="end">'
            f"{_text(_short(full, LABEL_CHARS))}</text></g>"
        )
        if row.imbalance is not None:
            out.append(
                f'<text x="{left - TAG_W}" y="{y + CELL / 2 + 4}" fill="{_hex(IMBALANCE_COLOURS[row.imbalance])}" '
                f'font-weight="bold">{row.imbalance.value}</text>'
            )
        for j, name in enumerate(columns):
            x = left + j * CELL
            cell = heatmap.cells.get((row.skill_code, name))
            if cell is None:
                tip = f"{row.skill_code} · {name}: no answer"
                out.append(
                    f'<rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" fill="url(#no-answer)">'
                    f"<title>{_text(tip)}</title></rect>"
                )
                continue
            value, answers = cell
            rgb = colour(value, maximum)
            tip = f"{row.skill_code} · {name}: mean gap {_fmt(value)} over {answers} answer(s)"
            out.append(
                f'<g><title>{_text(tip)}</title><rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" '
                f'fill="{_hex(rgb)}"/><text x="{x + (CELL - 1) / 2}" y="{y + CELL / 2 + 3}" font-size="9" '
                f'text-anchor="middle" fill="{"#ffffff" if _dark(rgb) else "#000000"}">{_fmt(value)}</text></g>'
            )
    legend_y = top + max(1, len(rows)) * CELL + 30
    steps = 10
    out.append(f'<text x="12" y="{legend_y + 12}">gap</text>')
    for k in range(steps + 1):
        value = maximum * k / steps
        out.append(
            f'<rect x="{48 + k * 20}" y="{legend_y}" width="20" height="16" fill="{_hex(colour(value, maximum))}"/>'
        )
    out.append(f'<text x="48" y="{legend_y + 32}">0</text>')
    out.append(f'<text x="{48 + (steps + 1) * 20}" y="{legend_y + 32}" text-anchor="end">{_fmt(maximum)}</text>')
    out.append(
        f'<rect x="{48 + (steps + 1) * 20 + 24}" y="{legend_y}" width="16" height="16" fill="url(#no-answer)"/>'
        f'<text x="{48 + (steps + 1) * 20 + 46}" y="{legend_y + 12}">no answer</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# Layout of the PNG (px): a marker column with the imbalance colour, then the grid, then the scale.
PX_CELL = 14
PX_MARGIN = 8


def render_png(heatmap: Heatmap) -> bytes:
    rows, columns = heatmap.rows, heatmap.columns
    maximum = heatmap.max_value
    grid_x = PX_MARGIN + 10
    width = max(grid_x + max(1, len(columns)) * PX_CELL + PX_MARGIN, 11 * 12 + 2 * PX_MARGIN)
    legend_y = PX_MARGIN + max(1, len(rows)) * PX_CELL + PX_MARGIN
    height = legend_y + 12 + PX_MARGIN
    pixels = [bytearray(bytes(_GRID) * width) for _ in range(height)]

    def fill(x0: int, y0: int, w: int, h: int, rgb: tuple[int, int, int]) -> None:
        chunk = bytes(rgb) * w
        for y in range(y0, y0 + h):
            pixels[y][x0 * 3 : (x0 + w) * 3] = chunk

    for i, row in enumerate(rows):
        y = PX_MARGIN + i * PX_CELL
        if row.imbalance is not None:
            fill(PX_MARGIN, y, 6, PX_CELL - 1, IMBALANCE_COLOURS[row.imbalance])
        for j, name in enumerate(columns):
            cell = heatmap.cells.get((row.skill_code, name))
            fill(
                grid_x + j * PX_CELL, y, PX_CELL - 1, PX_CELL - 1, _EMPTY if cell is None else colour(cell[0], maximum)
            )
    for k in range(11):
        fill(PX_MARGIN + k * 12, legend_y, 12, 12, colour(maximum * k / 10, maximum))
    raw = b"".join(b"\x00" + bytes(line) for line in pixels)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            _itxt("Title", heatmap.title),
            _itxt("Description", describe(heatmap)),
            _chunk(b"IDAT", zlib.compress(raw, 9)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _itxt(keyword: str, text: str) -> bytes:
    # keyword, NUL, compression flag and method (none), empty language tag and translated keyword, UTF-8 text
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))
