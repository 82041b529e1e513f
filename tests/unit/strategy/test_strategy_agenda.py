"""Actions proposed from a match run, and the service's settings checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from trellis_common.events import MatchOption, PartnersMatched, PooledOpportunity
from trellis_strategy.domain.agenda import (
    MAX_ACTION_LENGTH,
    UNNAMED_MEMBER,
    ActionKind,
    proposed_actions,
    say_again,
)
from trellis_strategy.settings import StrategySettings


def option(rank: int, partner: str = "Digital Innovation Hub Flanders", skill: str = "digcomp:5.2") -> MatchOption:
    return MatchOption(
        rank=rank,
        skill_code=skill,
        partner_id=f"p-{rank}",
        partner_name=partner,
        partner_type="dih",
        offer_id=f"o-{rank}",
        offer_title="Data literacy bootcamp",
        format="training",
        delivery="online",
        score=1.0 / rank,
        explanation=[],
    )


def pool(
    members: int = 3,
    skill: str = "digcomp:1.3",
    title: str = "Data bootcamp",
    offer: str = "o-9",
    partner: str = "KU Leuven",
) -> PooledOpportunity:
    return PooledOpportunity(
        pool_id=f"pool-{offer}",
        skill_code=skill,
        partner_id="p-9",
        partner_name=partner,
        offer_id=offer,
        offer_title=title,
        member_count=members,
        seats=10,
    )


def matched(options: list[MatchOption], pooled: list[PooledOpportunity]) -> PartnersMatched:
    return PartnersMatched(
        match_run_id="run-1",
        assessment_id="a-1",
        cluster_id="c-1",
        member_id="m-42",
        options=options,
        pooled=pooled,
        matched_at=datetime(2025, 1, 31, tzinfo=UTC),
    )


def test_pooled_opportunities_and_the_top_option_become_actions() -> None:
    actions = proposed_actions(matched([option(2, "Second best"), option(1)], [pool()]), "Huber Präzision GmbH")
    assert [(a.kind, a.key, a.text) for a in actions] == [
        (
            ActionKind.POOLED_OFFER,
            "pool:digcomp:1.3:o-9",
            "3 members share a gap in Managing data, information and digital content; "
            "pooled Data bootcamp from KU Leuven",
        ),
        (
            ActionKind.MEMBER_PARTNER,
            "member:m-42",
            "Huber Präzision GmbH could work with Digital Innovation Hub Flanders on "
            "Identifying needs and technological responses",
        ),
    ]
    assert actions[1].facts == {
        "member_id": "m-42",
        "skill_code": "digcomp:5.2",
        "partner_name": "Digital Innovation Hub Flanders",
    }


def test_a_member_whose_name_is_unknown_reads_as_a_member_organisation() -> None:
    (action,) = proposed_actions(matched([option(1)], []))
    assert action.text.startswith(f"{UNNAMED_MEMBER} could work with") and "m-42" not in action.text


def test_an_action_is_said_again_with_the_names_known_when_read() -> None:
    (action,) = proposed_actions(matched([option(1)], []))
    names = {"m-42": "Alpine Composites"}
    again = say_again(action.kind.value, action.text, action.facts, names.get)
    assert again.startswith("Alpine Composites could work with Digital Innovation Hub Flanders")
    no_names: dict[str, str] = {}  # the member was deleted since
    gone = say_again(action.kind.value, action.text, action.facts, no_names.get)
    assert gone.startswith(UNNAMED_MEMBER)
    assert say_again("member_partner", "An old line", None, names.get) == "An old line", "stored without facts"


def test_no_options_no_member_action() -> None:
    assert proposed_actions(matched([], [])) == []


def test_texts_are_one_short_line() -> None:
    hostile = "Evil\r\nBcc: everyone@example.org\x00" + "x" * 300
    actions = proposed_actions(matched([option(1, partner=hostile)], [pool(title=hostile, partner=hostile)]))
    for action in actions:
        assert "\n" not in action.text and "\r" not in action.text and "\x00" not in action.text
        assert len(action.text) <= MAX_ACTION_LENGTH
        assert "…" in action.text


def test_one_event_never_proposes_the_same_line_twice() -> None:
    same = [pool(offer="o-1"), pool(offer="o-1"), pool(offer="o-2")]  # o-2 reads the same as o-1
    actions = proposed_actions(matched([], same))
    assert len(actions) == 1


def test_settings_refuse_a_bad_default_cadence_or_zone() -> None:
    with pytest.raises(ValidationError, match="too frequent"):
        StrategySettings(default_cadence="FREQ=HOURLY")
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        StrategySettings(default_timezone="Europe/Atlantis")
    assert StrategySettings(late_after="900").late_after == timedelta(minutes=15)
    assert StrategySettings(late_after="PT2H").late_after == timedelta(hours=2)
    settings = StrategySettings(default_cadence="freq=monthly;interval=4")
    assert settings.default_cadence == "RRULE:FREQ=MONTHLY;INTERVAL=4"


def test_actions_carry_the_skill_that_routes_them() -> None:
    actions = proposed_actions(matched([option(1, skill="greencomp:2.1")], [pool(skill="intl:export")]))
    assert [a.skill_code for a in actions] == ["intl:export", "greencomp:2.1"]


def test_settings_for_reminders() -> None:
    defaults = StrategySettings()
    assert (defaults.default_lead_days, defaults.default_escalate_after_days) == ([14, 1], 14)
    assert defaults.reminder_policy().lead_days == (14, 1)
    custom = StrategySettings(default_lead_days="30, 7", default_escalate_after_days="", calendar_reviews=6)
    assert (custom.default_lead_days, custom.default_escalate_after_days) == ([30, 7], None)
    assert StrategySettings(default_lead_days="").reminder_policy().lead_days == ()
    with pytest.raises(ValidationError, match=r"each lead time must be 1\.\.366 days"):
        StrategySettings(default_lead_days="0")
    with pytest.raises(ValidationError, match="must not repeat"):
        StrategySettings(default_lead_days=[7, 7])
    with pytest.raises(ValidationError, match="calendar_reviews"):
        StrategySettings(calendar_reviews=0)
