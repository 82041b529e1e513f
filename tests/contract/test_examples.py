"""Golden example events: one per catalogue type, each a valid structured CloudEvent showing every field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trellis.cli import app
from trellis.integrator import check_event, check_text
from trellis_common.catalogue import CATALOGUE, EventSpec
from trellis_common.schemas import schema_for

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples"


def test_there_is_exactly_one_example_per_event_type() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.json")) == sorted(spec.name for spec in CATALOGUE)


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_example_is_valid_and_complete(spec: EventSpec) -> None:
    body = json.loads((EXAMPLES / f"{spec.name}.json").read_text("utf-8"))
    checked = check_event(body, spec.name)
    assert checked.errors == ()
    assert checked.spec == spec
    assert body["dataschema"] == schema_for(spec)["$id"]
    assert body["subject"] == body["data"][spec.key_field]
    # Every field is shown (defaults included) and nothing the model would drop as unknown.
    assert spec.model.model_validate(body["data"]).model_dump(mode="json") == body["data"]


def test_validate_command_accepts_all_examples_as_json_lines(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(json.loads(p.read_text())) for p in sorted(EXAMPLES.glob("*.json"))))
    result = CliRunner().invoke(app, ["validate", str(lines)])
    assert result.exit_code == 0, result.output
    assert f"{len(CATALOGUE)} valid, 0 invalid" in result.output


def test_validate_command_names_what_is_wrong_per_event(tmp_path: Path) -> None:
    good = json.loads((EXAMPLES / "skills.supply.reported.v1.json").read_text())
    bad_data = json.loads(json.dumps(good))
    bad_data["data"]["figures"][0]["headcount"] = -3
    del bad_data["data"]["scope"]
    unknown = {**good, "type": "eu.trellis.skills.supply.invented.v1"}
    no_id = {k: v for k, v in good.items() if k != "specversion"}
    events = tmp_path / "events.json"
    events.write_text(json.dumps([good, bad_data, unknown, no_id]))
    result = CliRunner().invoke(app, ["validate", str(events)])
    assert result.exit_code == 1
    assert "event 1: ok eu.trellis.skills.supply.reported.v1" in result.output
    assert "event 2: data.scope: Field required" in result.output
    assert "event 2: data.figures.0.headcount: Input should be greater than or equal to 0" in result.output
    assert "event 3: type: unknown event type 'eu.trellis.skills.supply.invented.v1'" in result.output
    assert "event 4: not a CloudEvent: missing attribute(s) specversion" in result.output
    assert "1 valid, 3 invalid" in result.output


def test_json_lines_errors_name_the_line() -> None:
    checked = check_text('{"specversion": "1.0"\n\n[1]\n')
    assert [c.position for c in checked] == ["line 1", "line 3"]
    assert checked[0].errors[0].startswith("not valid JSON")
    assert checked[1].errors == ("a structured CloudEvent must be a JSON object",)
