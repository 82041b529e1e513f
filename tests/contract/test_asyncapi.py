"""The committed AsyncAPI document is what the catalogue generates and covers every topic of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from trellis_common import asyncapi
from trellis_common.catalogue import CATALOGUE
from trellis_common.envelope import SPEC_VERSION

COMMITTED = Path(__file__).resolve().parents[2] / "contracts" / "asyncapi.json"


def _committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COMMITTED.read_text("utf-8"))
    return loaded


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve (missing {part!r})"
        node = node[part]
    return node


def test_committed_document_is_up_to_date() -> None:
    assert not asyncapi.is_stale(COMMITTED), "run `scripts/generate`"


def test_staleness_is_detected(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.json"
    assert asyncapi.write(target)
    assert not asyncapi.is_stale(target)
    target.write_text(target.read_text().replace('"partitions": 3', '"partitions": 4', 1))
    assert asyncapi.is_stale(target)


def test_every_catalogue_topic_and_its_dlq_is_a_channel() -> None:
    doc = _committed()
    addresses = {channel["address"]: channel for channel in doc["channels"].values()}
    assert len(doc["channels"]) == 2 * len(CATALOGUE)
    for spec in CATALOGUE:
        channel = addresses[spec.topic()]
        kafka = channel["bindings"]["kafka"]
        assert kafka["topic"] == spec.topic()
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.topic_config()["cleanup.policy"]]
        assert spec.dlq_topic() in addresses
        message = _resolve(doc, next(iter(channel["messages"].values()))["$ref"])
        assert message["name"] == spec.type
        assert message["headers"]["properties"]["ce_type"]["const"] == spec.type
        assert message["headers"]["properties"]["ce_specversion"]["const"] == SPEC_VERSION
        assert spec.key_field in message["payload"]["properties"]
        assert set(message["payload"]["required"]) == {
            name for name, field in spec.model.model_fields.items() if field.is_required()
        }


def test_every_reference_resolves_inside_the_document() -> None:
    doc = _committed()
    refs = _refs(doc)
    assert len(refs) > 3 * len(CATALOGUE)
    for ref in refs:
        _resolve(doc, ref)


def test_document_has_the_asyncapi_3_shape() -> None:
    doc = _committed()
    assert doc["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= doc["info"].keys()
    for operation in doc["operations"].values():
        assert operation["action"] in ("send", "receive")
        assert _resolve(doc, operation["channel"]["$ref"])["messages"]


OFFICIAL = Path(__file__).resolve().parents[2] / "contracts" / "vendor" / "asyncapi" / "3.0.0.json"


def _official() -> Draft7Validator:
    root: dict[str, Any] = json.loads(OFFICIAL.read_text("utf-8"))
    assert root["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    # The bundled schema carries its parts as sub-schemas with their own $id: crawl them into the registry.
    registry = Registry().with_resource(root["$id"], Resource.from_contents(root, default_specification=DRAFT7))
    return Draft7Validator(root, registry=registry.crawl())


def _errors(validator: Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def test_document_validates_against_the_official_asyncapi_3_schema() -> None:
    assert _errors(_official(), _committed()) == []


def test_official_schema_rejects_broken_documents() -> None:
    validator = _official()
    good = _committed()
    no_info = {k: v for k, v in good.items() if k != "info"}
    assert _errors(validator, no_info)
    v2_style = json.loads(json.dumps(good))
    next(iter(v2_style["operations"].values()))["action"] = "publish"
    assert _errors(validator, v2_style)
    bad_binding = json.loads(json.dumps(good))
    next(iter(bad_binding["channels"].values()))["bindings"]["kafka"]["partitions"] = 0
    assert _errors(validator, bad_binding)
    bad_header = json.loads(json.dumps(good))
    next(iter(bad_header["components"]["messages"].values()))["headers"]["type"] = 42
    assert _errors(validator, bad_header)
