"""Compatibility gate: each event's JSON Schema against the committed baseline of its major version.

Within a major version an event may only gain optional fields. ``python -m trellis_common.compat`` compares
``contracts/events/vN`` with ``contracts/baseline/vN`` and exits 1 listing every breaking change: a field
removed or renamed, a type narrowed (including tighter bounds and lengths), an enum value removed, an
optional field made required, a new required field, or an event type removed. A breaking change needs a new
major version (a new ``.vN+1`` topic) and a new baseline folder.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Schema = dict[str, Any]

# Bounds where a larger new value narrows (lower bounds) or a smaller one does (upper bounds).
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True)
class Breaking:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class _Side:
    """One schema document, resolving its local ``$ref``s."""

    def __init__(self, root: Schema) -> None:
        self.root = root

    def resolve(self, node: Schema, seen: int = 0) -> Schema:
        ref = node.get("$ref")
        if not isinstance(ref, str) or seen > 32:
            return node
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        target: Any = self.root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return self.resolve(merged, seen + 1)

    def branches(self, node: Schema) -> list[Schema]:
        """The alternatives a value may match (``anyOf``/``oneOf``), or the schema itself."""
        node = self.resolve(node)
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                return [b for sub in node[keyword] for b in self.branches(sub)]
        return [node]

    def types(self, node: Schema) -> set[str]:
        found: set[str] = set()
        for branch in self.branches(node):
            declared = branch.get("type")
            if declared is None:
                if "const" in branch:
                    declared = _json_type(branch["const"])
                elif "enum" in branch:
                    declared = sorted({_json_type(v) for v in branch["enum"]})
                else:
                    return {"any"}
            found.update([declared] if isinstance(declared, str) else declared)
        return found

    def enum(self, node: Schema) -> list[Any] | None:
        """The allowed values, or None when the schema does not restrict them to a list."""
        values: list[Any] = []
        for branch in self.branches(node):
            if "const" in branch:
                values.append(branch["const"])
            elif "enum" in branch:
                values.extend(branch["enum"])
            elif branch.get("type") == "null":
                values.append(None)
            else:
                return None
        return values


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _single(side: _Side, node: Schema) -> Schema | None:
    """The one non-null alternative of a (possibly nullable) schema, to compare its inside."""
    real = [b for b in side.branches(node) if b.get("type") != "null"]
    return real[0] if len(real) == 1 else None


def compare(old: Schema, new: Schema) -> list[Breaking]:
    """Every breaking change from ``old`` (the baseline) to ``new``; empty when ``new`` is compatible."""
    return compare_nodes(_Side(old), old, _Side(new), new)


def _compare(
    old_side: _Side, old: Schema, new_side: _Side, new: Schema, path: str, out: list[Breaking], depth: int
) -> None:
    if depth > 32:  # recursive models: deep enough to have compared every distinct level
        return
    old_types, new_types = old_side.types(old), new_side.types(new)
    if "integer" in new_types or "number" in new_types:
        new_types = new_types | ({"integer"} if "number" in new_types else set())
    if "any" not in new_types:
        lost = sorted(old_types - new_types)
        if lost:
            out.append(Breaking(path, f"type narrowed: no longer accepts {', '.join(lost)}"))
    old_enum, new_enum = old_side.enum(old), new_side.enum(new)
    if new_enum is not None:
        if old_enum is None:
            if old_types != {"null"}:
                out.append(Breaking(path, f"type narrowed: restricted to {new_enum}"))
        else:
            removed = [v for v in old_enum if v not in new_enum]
            if removed:
                out.append(Breaking(path, f"enum value(s) removed: {removed}"))
    o, n = _single(old_side, old), _single(new_side, new)
    if o is None or n is None:
        return
    for keyword in (*_LOWER, *_UPPER):
        if keyword not in n:
            continue
        if keyword not in o:
            out.append(Breaking(path, f"type narrowed: {keyword} {n[keyword]} added"))
        elif (n[keyword] > o[keyword]) if keyword in _LOWER else (n[keyword] < o[keyword]):
            out.append(Breaking(path, f"type narrowed: {keyword} {o[keyword]} -> {n[keyword]}"))
    if "pattern" in n and n.get("pattern") != o.get("pattern"):
        out.append(Breaking(path, f"type narrowed: pattern {n['pattern']!r}"))
    if "properties" in o or "properties" in n:
        _compare_object(old_side, o, new_side, n, path, out, depth)
    if isinstance(o.get("items"), dict) and isinstance(n.get("items"), dict):
        _compare(old_side, o["items"], new_side, n["items"], f"{path}[]", out, depth + 1)
    if isinstance(o.get("additionalProperties"), dict) and isinstance(n.get("additionalProperties"), dict):
        _compare(
            old_side, o["additionalProperties"], new_side, n["additionalProperties"], f"{path}{{}}", out, depth + 1
        )


def _compare_object(
    old_side: _Side, o: Schema, new_side: _Side, n: Schema, path: str, out: list[Breaking], depth: int
) -> None:
    old_props: dict[str, Schema] = o.get("properties", {})
    new_props: dict[str, Schema] = n.get("properties", {})
    old_required, new_required = set(o.get("required", ())), set(n.get("required", ()))
    added = [name for name in new_props if name not in old_props]
    for name, schema in old_props.items():
        where = f"{path}.{name}"
        if name not in new_props:
            renamed = [a for a in added if compare_nodes(old_side, schema, new_side, new_props[a]) == []]
            hint = f" (renamed to {renamed[0]}?)" if renamed else ""
            out.append(Breaking(where, f"field removed{hint}"))
            continue
        if name in new_required and name not in old_required:
            out.append(Breaking(where, "optional field made required"))
        _compare(old_side, schema, new_side, new_props[name], where, out, depth + 1)
    for name in added:
        if name in new_required:
            out.append(Breaking(f"{path}.{name}", "new required field"))


def compare_nodes(old_side: _Side, old: Schema, new_side: _Side, new: Schema) -> list[Breaking]:
    problems: list[Breaking] = []
    _compare(old_side, old, new_side, new, "$", problems, depth=0)
    return problems


def check_folders(current: Path, baseline: Path) -> dict[str, list[Breaking]]:
    """Schema file name → its breaking changes, for every file of the baseline (a missing one is removed)."""
    report: dict[str, list[Breaking]] = {}
    for base_file in sorted(baseline.rglob("*.schema.json")):
        name = str(base_file.relative_to(baseline))
        now = current / name
        if not now.exists():
            report[name] = [Breaking("$", "event type removed")]
            continue
        report[name] = compare(json.loads(base_file.read_text("utf-8")), json.loads(now.read_text("utf-8")))
    return report


def main(argv: list[str]) -> int:
    current = Path(argv[0]) if argv else Path("contracts/events")
    baseline = Path(argv[1]) if len(argv) > 1 else Path("contracts/baseline")
    if not baseline.exists():
        print(f"no baseline at {baseline}", file=sys.stderr)
        return 1
    report = check_folders(current, baseline)
    broken = {name: problems for name, problems in report.items() if problems}
    for name, problems in broken.items():
        for problem in problems:
            print(f"BREAKING {name} {problem}")
    print(f"checked {len(report)} event schema(s) against {baseline}: {len(broken)} with breaking changes")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
