"""The committed event JSON Schemas are what the models generate: a contract never changes by accident."""

from __future__ import annotations

import json
from pathlib import Path

from trellis_common.catalogue import CATALOGUE
from trellis_common.schemas import generated_files, stale_files, write

COMMITTED = Path(__file__).resolve().parents[2] / "contracts" / "events"


def test_committed_schemas_are_up_to_date() -> None:
    stale = stale_files(COMMITTED)
    assert not stale, f"run `scripts/generate`; stale: {stale}"


def test_staleness_is_detected(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale_files(tmp_path) == []
    target = tmp_path / next(iter(generated_files()))
    schema = json.loads(target.read_text())
    schema["required"] = [*schema.get("required", []), "invented_field"]
    target.write_text(json.dumps(schema))
    (tmp_path / "v1" / "retired.event.v1.schema.json").write_text("{}")
    assert stale_files(tmp_path) == sorted([str(target.relative_to(tmp_path)), "v1/retired.event.v1.schema.json"])


def test_every_event_type_has_a_schema_naming_its_topic_and_key() -> None:
    files = generated_files()
    assert len(files) == len(CATALOGUE)
    for spec in CATALOGUE:
        schema = json.loads(files[f"v{spec.major}/{spec.name}.schema.json"])
        assert schema["x-cloudevents-type"] == spec.type
        assert schema["x-kafka-key"] in schema["properties"]
