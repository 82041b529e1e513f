"""The compatibility gate: breaking fixture pairs fail, compatible ones pass, and the current schemas pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trellis_common.compat import check_folders, compare, main
from trellis_common.schemas import write

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "compat"
BREAKING = sorted((FIXTURES / "breaking").glob("*.json"))
COMPATIBLE = sorted((FIXTURES / "compatible").glob("*.json"))


def test_there_are_fixtures_of_both_kinds() -> None:
    assert len(BREAKING) >= 10
    assert len(COMPATIBLE) >= 5


@pytest.mark.parametrize("fixture", BREAKING, ids=lambda p: p.stem)
def test_breaking_change_is_reported(fixture: Path) -> None:
    case = json.loads(fixture.read_text("utf-8"))
    assert [str(problem) for problem in compare(case["old"], case["new"])] == case["expect"]


@pytest.mark.parametrize("fixture", COMPATIBLE, ids=lambda p: p.stem)
def test_compatible_change_passes(fixture: Path) -> None:
    case = json.loads(fixture.read_text("utf-8"))
    assert compare(case["old"], case["new"]) == []


def test_current_schemas_are_compatible_with_the_v1_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(ROOT / "contracts" / "events"), str(ROOT / "contracts" / "baseline")]) == 0
    report = check_folders(ROOT / "contracts" / "events", ROOT / "contracts" / "baseline")
    assert len(report) == len(list((ROOT / "contracts" / "events").rglob("*.schema.json")))
    assert "0 with breaking changes" in capsys.readouterr().out


def test_gate_fails_on_a_real_schema_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current = tmp_path / "events"
    write(current)
    target = current / "v1" / "skills.supply.reported.v1.schema.json"
    schema = json.loads(target.read_text("utf-8"))
    del schema["properties"]["as_of"]
    target.write_text(json.dumps(schema))
    (current / "v1" / "strategy.review.due.v1.schema.json").unlink()
    assert main([str(current), str(ROOT / "contracts" / "baseline")]) == 1
    out = capsys.readouterr().out
    assert "BREAKING v1/skills.supply.reported.v1.schema.json $.as_of: field removed" in out
    assert "BREAKING v1/strategy.review.due.v1.schema.json $: event type removed" in out
