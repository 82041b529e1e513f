"""Event payloads shared by tests (numbers chosen so the expected results can be worked out by hand)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from trellis_common.events import MemberContext, ResponseCompleted, SkillAnswer, SurveyTheme


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
