"""What a strategy review should talk about: actions proposed from partner matches (pure, no I/O).

Each action has a key that says which question it answers, so the agenda holds one open line per question
and a later match refreshes the line instead of adding a near-copy: one line per pooled need (same skill,
same offer; the member count grows as members join the pool) and one line per member (its current best
partner). Texts stay short and carry no personal data: member ids, skill codes and organisation names only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from trellis_common.events import PartnersMatched

MAX_ACTION_LENGTH = 500
_MAX_FIELD_LENGTH = 80


class ActionKind(StrEnum):
    # Listed first on an agenda: one group offer for many members ("economies of scale").
    POOLED_OFFER = "pooled_offer"
    MEMBER_PARTNER = "member_partner"


@dataclass(frozen=True)
class ProposedAction:
    kind: ActionKind
    key: str
    text: str


def proposed_actions(matched: PartnersMatched) -> list[ProposedAction]:
    """The actions a match run suggests: every pooled opportunity, and the member's top-ranked option."""
    actions: list[ProposedAction] = []
    for pool in matched.pooled:
        actions.append(
            ProposedAction(
                ActionKind.POOLED_OFFER,
                f"pool:{pool.skill_code}:{pool.offer_id}",
                f"{pool.member_count} members share a {_field(pool.skill_code)} gap; "
                f"pooled {_field(pool.offer_title)} from {_field(pool.partner_name)}",
            )
        )
    if matched.options:
        top = min(matched.options, key=lambda option: option.rank)
        actions.append(
            ProposedAction(
                ActionKind.MEMBER_PARTNER,
                f"member:{matched.member_id}",
                f"Member {_field(matched.member_id)} could work with {_field(top.partner_name)} "
                f"on {_field(top.skill_code)}",
            )
        )
    return _distinct(actions)


def _distinct(actions: list[ProposedAction]) -> list[ProposedAction]:
    """First action per key and per text (one event never proposes the same line twice)."""
    keys: set[str] = set()
    texts: set[str] = set()
    out: list[ProposedAction] = []
    for action in actions:
        text = action.text[:MAX_ACTION_LENGTH]
        if action.key in keys or text in texts:
            continue
        keys.add(action.key)
        texts.add(text)
        out.append(ProposedAction(action.kind, action.key, text))
    return out


def _field(value: str) -> str:
    """One line, no control characters (the text ends up in emails), at most a few words long."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in value)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= _MAX_FIELD_LENGTH else cleaned[: _MAX_FIELD_LENGTH - 1].rstrip() + "…"
