"""Generates the committed JSON Schema of every event's data from the catalogue.

``python -m trellis_common.schemas`` rewrites ``contracts/events/``; a test fails when the committed files
differ from what the models generate, so a contract never changes by accident.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from trellis_common.catalogue import CATALOGUE, EventSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_for(spec: EventSpec) -> dict[str, Any]:
    schema = spec.model.model_json_schema()
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://trellis.eu/contracts/events/v{spec.major}/{spec.name}.schema.json",
        "x-cloudevents-type": spec.type,
        "x-kafka-topic": spec.name,
        "x-kafka-key": spec.key_field,
        "description": spec.summary,
        **{k: v for k, v in schema.items() if k != "description"},
    }


def generated_files() -> dict[str, str]:
    """Relative path → file text, deterministic (sorted keys, trailing newline)."""
    return {
        f"v{spec.major}/{spec.name}.schema.json": json.dumps(
            schema_for(spec), indent=2, sort_keys=True, ensure_ascii=False
        )
        + "\n"
        for spec in CATALOGUE
    }


def stale_files(folder: Path) -> list[str]:
    """Files that are missing, differ, or are no longer generated."""
    expected = generated_files()
    present = {str(p.relative_to(folder)) for p in folder.rglob("*.schema.json")} if folder.exists() else set()
    stale = [
        name
        for name, text in expected.items()
        if not (folder / name).exists() or (folder / name).read_text("utf-8") != text
    ]
    stale.extend(sorted(present - expected.keys()))
    return sorted(stale)


def write(folder: Path) -> list[str]:
    changed = stale_files(folder)
    for path in folder.rglob("*.schema.json"):
        path.unlink()
    for name, text in generated_files().items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    return changed


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("contracts/events")
    for name in write(out):
        print(f"updated {out / name}")
