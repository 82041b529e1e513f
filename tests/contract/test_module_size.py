"""No source module over 500 lines (tests and migrations aside): past that a module holds more than one thing, and a
reader cannot predict where a function lives. Split by sub-domain (a package) rather than by cramming."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "src",
    ROOT / "libs" / "common" / "src",
    *sorted((ROOT / "services").glob("*/src")),
    ROOT / "benchmarks",
]
LIMIT = 500


def oversized() -> dict[str, int]:
    found = {}
    for source_root in SOURCES:
        for path in sorted(source_root.rglob("*.py")):
            if "migrations" in path.relative_to(source_root).parts:
                continue
            lines = len(path.read_text("utf-8").splitlines())
            if lines > LIMIT:
                found[str(path.relative_to(ROOT))] = lines
    return found


def test_no_module_is_over_the_limit() -> None:
    assert oversized() == {}, f"modules over {LIMIT} lines: split them by sub-domain"
