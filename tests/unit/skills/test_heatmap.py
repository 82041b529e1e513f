"""The heatmap pictures: well-formed, escaped, accessible SVG; valid PNG."""

from __future__ import annotations

import itertools
import struct
import zlib
from xml.etree import ElementTree

from trellis_skills.domain.imbalance import ImbalanceType
from trellis_skills.heatmap import Heatmap, HeatmapRow, colour, describe, render_png, render_svg, sorted_rows

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "m-1\x00\x1b]<img src=x onerror=alert(1)>&amp;"


def heatmap(columns: list[str] | None = None) -> Heatmap:
    columns = columns if columns is not None else ["m-1", HOSTILE]
    rows = [
        HeatmapRow("digcomp:2.4", "Collaborating through digital technologies", ImbalanceType.BALANCED),
        HeatmapRow("digcomp:3.4", "Programming", ImbalanceType.SHORTAGE),
        HeatmapRow("intl:trade-fairs", "Trade fair and trade mission participation", ImbalanceType.OBSOLESCENCE),
    ]
    cells = {("digcomp:3.4", "m-1"): (6.5, 1), ("digcomp:2.4", "m-1"): (0.0, 1)}
    if len(columns) > 1:
        cells[("digcomp:3.4", columns[1])] = (2.0, 1)
    return Heatmap(
        "Skills heatmap of cluster <c&1>",
        "Mean gap per skill and member",
        "member",
        "members",
        sorted_rows(rows),
        columns,
        cells,
    )


def test_svg_is_well_formed_escaped_and_accessible() -> None:
    svg = render_svg(heatmap())
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "heatmap-title heatmap-desc"
    assert root.find(f"{SVG}title").text == "Skills heatmap of cluster <c&1>"  # type: ignore[union-attr]
    assert "<img" not in svg and "\x00" not in svg and "\x1b" not in svg
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "m-1\ufffd\ufffd]<img src=x onerror=alert(1)>&amp;" in titles
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.index("shortage") < texts.index("obsolescence") < texts.index("balanced"), "rows by type"
    assert "digcomp:3.4 · m-1: mean gap 6.5 over 1 answer(s)" in titles
    assert "intl:trade-fairs · m-1: no answer" in titles


def test_description_names_the_largest_gaps_and_the_types() -> None:
    text = describe(heatmap(["m-1"]))
    assert "Rows: 3 skills; columns: 1 members." in text
    assert "Largest gaps: digcomp:3.4 at m-1 (6.5)." in text
    assert "Skills by type of imbalance: shortage 1, obsolescence 1, balanced 1." in text


def test_an_empty_grid_still_renders() -> None:
    root = ElementTree.fromstring(render_svg(heatmap([])))
    assert "no member answers yet" in [t.text for t in root.iter(f"{SVG}text")]
    assert render_png(heatmap([])).startswith(b"\x89PNG")


def test_colour_scale_runs_from_pale_to_dark() -> None:
    assert colour(0, 10) == (255, 247, 236)
    assert colour(10, 10) == (153, 0, 0)
    assert colour(5, 0) == (255, 247, 236), "no gaps at all: everything pale"
    reds = [colour(v, 10) for v in range(11)]
    assert all(sum(a) >= sum(b) for a, b in itertools.pairwise(reds)), "darker as the gap grows"


def test_png_is_valid() -> None:
    data = render_png(heatmap())
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks = 8, {}
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.setdefault(kind, []).append(body)
        at += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    assert (depth, colour_type) == (8, 2)
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    assert len(raw) == height * (1 + 3 * width)
    assert [c.split(b"\x00")[0] for c in chunks[b"iTXt"]] == [b"Title", b"Description"]
    assert list(chunks)[-1] == b"IEND"
