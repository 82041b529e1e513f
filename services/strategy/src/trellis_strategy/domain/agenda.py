"""What a strategy review should talk about: actions proposed from partner matches, and the gaps and matches
that arrived since the last review (pure, no I/O).

Each action has a key that says which question it answers, so the agenda holds one open line per question
and a later match refreshes the line instead of adding a near-copy: one line per pooled need (same skill,
same offer; the member count grows as members join the pool) and one line per member (its current best
partner). Texts stay short and carry no personal data: member ids, skill codes and organisation names only.
An action belongs to the strategy whose theme its skill is in (a DigComp skill to the digital skills plan,
GreenComp to the green action plan, …) when the cluster has one, else to the overall strategy.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from trellis_common.events import PartnersMatched
from trellis_strategy.domain.strategy import FRAMEWORK_OF_TYPE, StrategyType, follows, framework_of

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
    skill_code: str = ""  # which strategy's agenda it belongs on (domain.strategy.strategy_type_for_skill)


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
                pool.skill_code,
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
                top.skill_code,
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
        out.append(ProposedAction(action.kind, action.key, text, action.skill_code))
    return out


@dataclass(frozen=True)
class Activity:
    """One member's news since the last review: a match run (partners proposed) or a gap assessment."""

    member_id: str
    skill_codes: tuple[str, ...]


@dataclass(frozen=True)
class AgendaFacts:
    new_matches: int
    members_with_gaps: int
    top_gaps: list[tuple[str, int]]  # (skill code, members with a new gap in it), most members first


def summarise(
    strategy_type: StrategyType, match_runs: Iterable[Activity], assessments: Iterable[Activity], top: int = 5
) -> AgendaFacts:
    """What arrived since the last review that this strategy follows (the overall strategy follows all).

    ``members_with_gaps`` counts distinct members with a new gap assessment or a new match run (a run exists
    because the member had gaps); ``top_gaps`` ranks skills by the members newly assessed with a gap in them.
    """
    runs = [run for run in match_runs if follows(strategy_type, run.skill_codes)]
    framework = FRAMEWORK_OF_TYPE.get(strategy_type)
    members: set[str] = {run.member_id for run in runs if run.skill_codes}
    per_skill: dict[str, set[str]] = {}
    for assessment in assessments:
        for code in assessment.skill_codes:
            if framework is None or framework_of(code) == framework:
                members.add(assessment.member_id)
                per_skill.setdefault(code, set()).add(assessment.member_id)  # a re-assessed member counts once
    counts = Counter({code: len(who) for code, who in per_skill.items()})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return AgendaFacts(len(runs), len(members), ranked)


def _field(value: str) -> str:
    """One line, no control characters (the text ends up in emails), at most a few words long."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in value)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= _MAX_FIELD_LENGTH else cleaned[: _MAX_FIELD_LENGTH - 1].rstrip() + "…"
