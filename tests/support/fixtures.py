"""Event payloads shared by tests (numbers chosen so the expected results can be worked out by hand)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from trellis_common.bus import OutgoingMessage
from trellis_common.catalogue import spec_for_model
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import (
    GapsAssessed,
    MemberChanged,
    MemberContext,
    ResponseCompleted,
    SkillAnswer,
    SurveyTheme,
)


def completed_response(
    member_id: str = "m-1", cluster_id: str = "c-1", skills: list[SkillAnswer] | None = None
) -> ResponseCompleted:
    return ResponseCompleted(
        response_id=str(uuid.uuid4()),
        cluster_id=cluster_id,
        member_id=member_id,
        template_id="digital-skills",
        template_version=1,
        theme=SurveyTheme.DIGITAL,
        completed_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        member_context=MemberContext(country="AT", region="AT13", size_class="small", sector="C25"),
        skills=skills
        if skills is not None
        else [
            # level gap 3, headcount gap 3 → priority 5 × (3 + 0.5 × 3) = 22.5
            SkillAnswer(
                skill_code="digcomp:5.2",
                current_level=2,
                required_level=5,
                headcount_having=1,
                headcount_needed=4,
                importance=5,
            ),
            # level gap 1, headcount gap 0 → priority 3 × (1 + 0) = 3
            SkillAnswer(
                skill_code="digcomp:4.2",
                current_level=3,
                required_level=4,
                headcount_having=2,
                headcount_needed=2,
                importance=3,
            ),
            # no gap: supply meets demand → not reported
            SkillAnswer(
                skill_code="digcomp:1.1",
                current_level=5,
                required_level=5,
                headcount_having=3,
                headcount_needed=3,
                importance=2,
            ),
        ],
    )


def introduction(data: ResponseCompleted | GapsAssessed) -> MemberChanged:
    """The member an event is about, as surveys published it when the member was registered: skills and
    matchmaking act only for members they know (responses and gaps of others wait for them)."""
    return MemberChanged(
        cluster_id=data.cluster_id,
        member_id=data.member_id,
        name=f"Member {data.member_id}",
        context=data.member_context,
        changed_at=datetime(2026, 1, 5, tzinfo=UTC),
    )


def introduction_message(data: ResponseCompleted | GapsAssessed, topic_prefix: str = "") -> OutgoingMessage:
    """``introduction(data)`` as the record surveys' relay puts on surveys.member.changed."""
    changed = introduction(data)
    spec = spec_for_model(MemberChanged)
    headers, value = to_binary(
        CloudEvent(
            source="/tests/surveys", type=spec.type, subject=changed.member_id, data=changed.model_dump(mode="json")
        )
    )
    return OutgoingMessage(spec.topic(topic_prefix), changed.member_id, value, headers)
