"""What a strategy review should talk about: actions proposed from partner matches, and the gaps and matches
that arrived since the last review (pure, no I/O).

Each action has a key that says which question it answers, so the agenda holds one open line per question
and a later match refreshes the line instead of adding a near-copy: one line per pooled need (same skill,
same offer; the member count grows as members join the pool) and one line per member (its current best
partner). Texts stay short and carry no personal data, and no ids or codes either: organisations' names and
skill labels. An action keeps its facts (member id, skill code, partner, offer, count) beside its text, so the
agenda says it again with the names known when it is read (a member named later, or deleted since, reads
right). An action belongs to the strategy whose theme its skill is in (a DigComp skill to the digital skills
plan, GreenComp and workforce green skills to the green action plan, …) when the cluster has one, else to the
overall strategy.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from trellis_common.events import PartnersMatched
from trellis_common.skill_labels import skill_label
from trellis_strategy.domain.strategy import FRAMEWORKS_OF_TYPE, StrategyType, follows, framework_of

MAX_ACTION_LENGTH = 500
_MAX_FIELD_LENGTH = 80
# What an agenda says for a member whose name is not known (not projected yet, or the member was deleted).
UNNAMED_MEMBER = "A member organisation"


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
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the text says, to say it again (action_text)


def action_text(kind: ActionKind, facts: Mapping[str, Any], member_name: str | None = None) -> str:
    """The action in words, with the skill's label and the member's name (or a neutral wording)."""
    skill = _field(skill_label(str(facts.get("skill_code", ""))))
    partner = _field(str(facts.get("partner_name", "")))
    if kind is ActionKind.POOLED_OFFER:
        offer = _field(str(facts.get("offer_title", "")))
        return f"{facts.get('member_count', 0)} members share a gap in {skill}; pooled {offer} from {partner}"
    member = _field(member_name) if member_name else UNNAMED_MEMBER
    return f"{member} could work with {partner} on {skill}"


def proposed_actions(matched: PartnersMatched, member_name: str | None = None) -> list[ProposedAction]:
    """The actions a match run suggests: every pooled opportunity, and the member's top-ranked option."""
    actions: list[ProposedAction] = []
    for pool in matched.pooled:
        facts: dict[str, Any] = {
            "skill_code": pool.skill_code,
            "offer_title": pool.offer_title,
            "partner_name": pool.partner_name,
            "member_count": pool.member_count,
        }
        actions.append(
            ProposedAction(
                ActionKind.POOLED_OFFER,
                f"pool:{pool.skill_code}:{pool.offer_id}",
                action_text(ActionKind.POOLED_OFFER, facts),
                pool.skill_code,
                facts,
            )
        )
    if matched.options:
        top = min(matched.options, key=lambda option: option.rank)
        facts = {"member_id": matched.member_id, "skill_code": top.skill_code, "partner_name": top.partner_name}
        actions.append(
            ProposedAction(
                ActionKind.MEMBER_PARTNER,
                f"member:{matched.member_id}",
                action_text(ActionKind.MEMBER_PARTNER, facts, member_name),
                top.skill_code,
                facts,
            )
        )
    return _distinct(actions)


def say_again(kind: str, text: str, facts: Mapping[str, Any] | None, member_name: Callable[[str], str | None]) -> str:
    """A stored action's text with today's names; an action stored without facts keeps its text."""
    if not facts:
        return text
    name = member_name(str(facts["member_id"])) if "member_id" in facts else None
    return action_text(ActionKind(kind), facts, name)[:MAX_ACTION_LENGTH]


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
        out.append(ProposedAction(action.kind, action.key, text, action.skill_code, action.facts))
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
    frameworks = FRAMEWORKS_OF_TYPE.get(strategy_type)
    members: set[str] = {run.member_id for run in runs if run.skill_codes}
    per_skill: dict[str, set[str]] = {}
    for assessment in assessments:
        for code in assessment.skill_codes:
            if frameworks is None or framework_of(code) in frameworks:
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
