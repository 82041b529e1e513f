"""The skill taxonomy (DigComp 2.2, GreenComp, workforce green skills, internationalisation capabilities) as
versioned data.

The structure (codes, frameworks, areas, levels, sources) is here; the labels, in every language, are shared data of
``trellis_common.skill_labels`` so every service names skills the same way. ``label`` is the English one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from trellis_common.skill_labels import skill_label


@dataclass(frozen=True)
class SkillEntry:
    code: str
    framework: str
    area: str
    label: str
    esco_uri: str | None = None
    # The framework's proficiency levels (DigComp 2.2: 1-8); None where the framework defines none.
    levels: tuple[int, int] | None = None
    # Where the skill comes from: the entry's own source (each workforce green skill cites a standard or EU act),
    # else its framework's.
    source: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    version: str
    entries: dict[str, SkillEntry]

    def get(self, code: str) -> SkillEntry | None:
        return self.entries.get(code)

    def unknown(self, codes: list[str]) -> list[str]:
        return [c for c in codes if c not in self.entries]

    def search(self, query: str | None = None, framework: str | None = None) -> list[SkillEntry]:
        needle = (query or "").casefold()
        return [
            e
            for e in self.entries.values()
            if (framework is None or e.framework == framework)
            and (not needle or needle in e.label.casefold() or needle in e.code or needle in e.area.casefold())
        ]


@cache
def load_taxonomy() -> Taxonomy:
    raw = json.loads(resources.files("trellis_skills").joinpath("data/taxonomy.json").read_text("utf-8"))
    entries = {
        e["code"]: SkillEntry(
            e["code"],
            e["framework"],
            e["area"],
            skill_label(e["code"]),
            e.get("esco_uri"),
            (int(e["levels"][0]), int(e["levels"][1])) if e.get("levels") else None,
            e.get("source") or raw["sources"].get(e["framework"]),
        )
        for e in raw["entries"]
    }
    return Taxonomy(raw["version"], entries)
