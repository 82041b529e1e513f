"""The heatmap pictures: well-formed, escaped, accessible SVG; valid PNG."""

from __future__ import annotations

import dataclasses
import io
import itertools
import struct
import zlib
from xml.etree import ElementTree

from matplotlib.text import Text
from PIL import Image

from trellis_skills.domain.imbalance import ImbalanceType
from trellis_skills.heatmap import (
    Heatmap,
    HeatmapRow,
    colour,
    describe,
    heatmap_figure,
    render_png,
    render_svg,
    sorted_rows,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "m-1\x00\x1b]<img src=x onerror=alert(1)>&amp;"


def heatmap(columns: list[str] | None = None, **changes: object) -> Heatmap:
    columns = columns if columns is not None else ["m-1", HOSTILE]
    rows = [
        HeatmapRow("digcomp:2.4", "Collaborating through digital technologies", ImbalanceType.BALANCED),
        HeatmapRow("digcomp:3.4", "Programming", ImbalanceType.SHORTAGE),
        HeatmapRow("intl:trade-fairs", "Trade fair and trade mission participation", ImbalanceType.OBSOLESCENCE),
    ]
    cells = {("digcomp:3.4", "m-1"): (6.5, 1), ("digcomp:2.4", "m-1"): (0.0, 1)}
    if len(columns) > 1:
        cells[("digcomp:3.4", columns[1])] = (2.0, 1)
    made = Heatmap(
        "Skills heatmap: Danube <Smart> & Co",
        "Mean gap per skill and member",
        "member",
        "members",
        sorted_rows(rows),
        columns,
        cells,
        column_labels={"m-1": "Alpine Composites"},
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_svg_is_well_formed_escaped_and_accessible() -> None:
    svg = render_svg(heatmap())
    root = ElementTree.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "heatmap-title heatmap-desc"
    assert root.find(f"{SVG}title").text == "Skills heatmap: Danube <Smart> & Co"  # type: ignore[union-attr]
    assert "<img" not in svg and "\x00" not in svg and "\x1b" not in svg
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert "m-1\ufffd\ufffd]<img src=x onerror=alert(1)>&amp;" in titles
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.index("shortage") < texts.index("obsolescence") < texts.index("balanced"), "rows by type"
    assert "Programming · Alpine Composites: mean gap 6.5 over 1 answer(s)" in titles
    assert "Trade fair and trade mission participation · Alpine Composites: no answer" in titles


def test_people_read_names_and_labels_never_ids_or_codes() -> None:
    svg = render_svg(heatmap(["m-1"]))
    assert "Alpine Composites" in svg and "Programming" in svg
    assert "m-1" not in svg and "digcomp:" not in svg and "intl:" not in svg


def test_description_names_the_largest_gaps_and_the_types() -> None:
    text = describe(heatmap(["m-1"]))
    assert "Rows: 3 skills; columns: 1 members." in text
    assert "Largest gaps: Programming at Alpine Composites (6.5)." in text
    assert "Skills by type of imbalance: shortage 1, obsolescence 1, balanced 1." in text


def test_description_names_no_skill_a_framework_filter_left_out() -> None:
    filtered = heatmap(["m-1"], rows=[HeatmapRow("digcomp:2.4", "Collaborating", ImbalanceType.BALANCED)])
    assert "Largest gaps" not in describe(filtered) and "digcomp" not in describe(filtered)


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


def _chunks(data: bytes) -> dict[bytes, list[bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at = 8
    chunks: dict[bytes, list[bytes]] = {}
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.setdefault(kind, []).append(body)
        at += 12 + length
    assert list(chunks)[-1] == b"IEND"
    return chunks


def test_png_is_valid_and_carries_its_title_and_description() -> None:
    chunks = _chunks(render_png(heatmap()))
    width, height = struct.unpack(">II", chunks[b"IHDR"][0][:8])
    assert (width, height) == render_svg_size(heatmap())
    texts = {c.split(b"\x00")[0]: c for c in chunks.get(b"tEXt", []) + chunks.get(b"iTXt", [])}
    assert {b"Title", b"Description"} <= set(texts)
    assert b"Danube <Smart> & Co" in texts[b"Title"]


def render_svg_size(map_: Heatmap) -> tuple[int, int]:
    root = ElementTree.fromstring(render_svg(map_))
    return int(root.get("width") or 0), int(root.get("height") or 0)


def test_png_draws_the_names_and_labels() -> None:
    figure = heatmap_figure(heatmap())
    drawn = {t.get_text() for t in figure.findobj(Text)}
    assert {"Skills heatmap: Danube <Smart> & Co", "Alpine Composites", "Programming", "shortage"} <= drawn
    assert not any("digcomp:" in t or t == "m-1" for t in drawn)


def test_png_text_is_ink_on_the_picture() -> None:
    """The labels leave pixels: the same map with blank labels has less ink where the labels go."""

    def ink(map_: Heatmap) -> int:
        image = Image.open(io.BytesIO(render_png(map_))).convert("L")
        return sum(1 for value in image.get_flattened_data() if isinstance(value, int) and value < 128)

    labelled = heatmap()
    blank = dataclasses.replace(
        labelled,
        title="",
        rows=[dataclasses.replace(r, label="") for r in labelled.rows],
        column_labels={c: "" for c in labelled.columns},
    )
    assert ink(labelled) > ink(blank) + 500


def test_a_dollar_sign_in_a_name_is_not_tex() -> None:
    assert render_png(heatmap(["m-1"], column_labels={"m-1": "Cash $ and $ Carry"}))[:4] == b"\x89PNG"
