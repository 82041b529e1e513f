"""Sample data that shows every template at its fullest: for the preview endpoint and the screenshots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from trellis_common.events import (
    AgendaAction,
    AgendaActionKind,
    AgendaGap,
    ContactRole,
    InvitationRequested,
    MatchOption,
    PartnersMatched,
    PooledOpportunity,
    ReminderKind,
    ReviewAgenda,
    ReviewDue,
    ReviewKpi,
    ScoreComponent,
    SurveyTheme,
)
from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.digest import collect_digest

SAMPLE_NAME = "Maria Rossi"
SAMPLE_CLUSTER = "Danube Smart Manufacturing Cluster"
SAMPLE_MEMBER = "Alpine Composites"
_MATCHED_AT = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


def _option(
    rank: int, skill: str, partner: str, kind: str, title: str, fmt: str, mode: str, score: float, *, seat: bool
) -> MatchOption:
    """A proposal holding a seat (``seat``: with the link the member answers it by) or an alternative."""
    return MatchOption(
        rank=rank,
        skill_code=skill,
        partner_id=f"partner-{rank}",
        partner_name=partner,
        partner_type=kind,
        offer_id=f"offer-{title.lower().replace(' ', '-')}",
        offer_title=title,
        format=fmt,
        delivery=mode,
        score=score,
        explanation=[ScoreComponent(factor="gap_severity", weight=0.5, value=score, contribution=score / 2)],
        match_id=f"match-{rank}" if seat else None,
        reply_link=f"https://trellis.example.org/matchmaking/reply/sample-token-{rank}" if seat else None,
    )


SAMPLE_MATCHED = PartnersMatched(
    match_run_id="run-sample",
    assessment_id="assessment-sample",
    cluster_id="cluster-sample",
    member_id="member-sample",
    options=[
        _option(1, "digcomp:4.2", "Digital Innovation Hub North", "digital_innovation_hub",
                "Cyber security for SMEs", "training", "online", 0.86, seat=True),
        _option(2, "digcomp:5.2", "University of Applied Sciences Danube", "university",
                "Data-driven production masterclass", "masterclass", "on_site", 0.74, seat=True),
        _option(3, "greencomp:2.1", "Enterprise Europe Network", "enterprise_europe_network",
                "Circular economy advisory for manufacturers", "advisory", "hybrid", 0.61, seat=False),
    ],
    pooled=[
        PooledOpportunity(pool_id="pool-sample", skill_code="digcomp:4.2", partner_id="partner-1",
                          partner_name="Digital Innovation Hub North", offer_id="offer-cyber-security-for-smes",
                          offer_title="Cyber security for SMEs", member_count=4, seats=12),
    ],
    matched_at=_MATCHED_AT,
)  # fmt: skip

SAMPLE_REVIEW = ReviewDue(
    reminder_id="reminder-sample",
    strategy_id="strategy-sample",
    cluster_id="cluster-sample",
    strategy_title="Digital and green skills strategy 2026",
    due_at=datetime(2026, 3, 31, 7, 0, tzinfo=UTC),
    due_date=date(2026, 3, 31),
    kind=ReminderKind.UPCOMING,
    late=False,
    fired_at=datetime(2026, 3, 17, 7, 0, tzinfo=UTC),
    lead_days=14,
    recipients_role=ContactRole.CLUSTER_MANAGER,
    agenda=ReviewAgenda(
        new_matches=12,
        members_with_gaps=7,
        top_gaps=[AgendaGap(skill_code="digcomp:4.2", members=12), AgendaGap(skill_code="digcomp:5.2", members=5)],
        proposed_actions=[
            "12 members share a gap in Protecting personal data and privacy; pooled Cyber security for SMEs from "
            "Digital Innovation Hub North",
            "Alpine Composites could work with Enterprise Europe Network on Systems thinking",
        ],
        actions=[
            AgendaAction(kind=AgendaActionKind.POOLED_OFFER, skill_code="digcomp:4.2",
                         partner_name="Digital Innovation Hub North", offer_title="Cyber security for SMEs",
                         member_count=12),
            AgendaAction(kind=AgendaActionKind.MEMBER_PARTNER, skill_code="greencomp:2.1",
                         partner_name="Enterprise Europe Network", member_name=SAMPLE_MEMBER),
        ],
        kpis=[
            ReviewKpi(kpi_id="kpi-1", name="Share of SME members active internationally", unit="%", baseline=31,
                      target=42, target_date=date(2026, 12, 31), latest=36.5, progress=0.5, status="on_track"),
            ReviewKpi(kpi_id="kpi-2", name="CO₂ reduction of members", unit="t", baseline=0, target=1200,
                      target_date=date(2027, 6, 30), latest=None, progress=None, status="no_data"),
        ],
    ),
)  # fmt: skip

SAMPLE_OVERDUE = SAMPLE_REVIEW.model_copy(
    update={
        "kind": ReminderKind.OVERDUE,
        "fired_at": datetime(2026, 4, 14, 7, 0, tzinfo=UTC),
        "lead_days": None,
        "escalation": True,
        "recipients_role": ContactRole.BOARD_MEMBER,
        "overdue_since": date(2026, 3, 31),
        "missed_reviews": 1,
    }
)

SAMPLE_INVITATION = InvitationRequested(
    invitation_id="invitation-sample",
    campaign_id="campaign-sample",
    cluster_id="cluster-sample",
    member_id="member-sample",
    contact_id="contact-sample",
    survey_title="Digital skills check 2026",
    theme=SurveyTheme.DIGITAL,
    link="https://surveys.trellis.example/s/sample?sig=preview",
    expires_at=datetime(2026, 4, 15, 18, 0, tzinfo=UTC),
    reminder=0,
)


def _sample_digest() -> Any:
    later = SAMPLE_MATCHED.model_copy(
        update={
            "match_run_id": "run-sample-2",
            "matched_at": _MATCHED_AT + timedelta(days=2),
            "options": [
                SAMPLE_MATCHED.options[0].model_copy(update={"score": 0.9}),
                _option(
                    2,
                    "digcomp:3.4",
                    "Vocational School Linz",
                    "vocational_school",
                    "Programming basics for technicians",
                    "on_the_job_training",
                    "on_site",
                    0.58,
                    seat=True,
                ),
            ],
        }
    )
    end = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    return collect_digest([SAMPLE_MATCHED, later], end - timedelta(days=7), end)


def sample_context(template: EmailTemplate) -> dict[str, Any]:
    """Keyword arguments for ``TemplateRenderer.render`` that fill every section of ``template``."""
    if template is EmailTemplate.MATCHES:
        return {"matched": SAMPLE_MATCHED}
    if template is EmailTemplate.ANSWERS_RECEIVED:
        return {"matched": SAMPLE_MATCHED.model_copy(update={"options": [], "pooled": []})}
    if template is EmailTemplate.MATCHES_DIGEST:
        return {"digest": _sample_digest()}
    if template is EmailTemplate.REVIEW_REMINDER:
        return {"review": SAMPLE_REVIEW}
    if template is EmailTemplate.REVIEW_ESCALATION:
        return {"review": SAMPLE_OVERDUE}
    if template is EmailTemplate.SURVEY_REMINDER:
        return {"invitation": SAMPLE_INVITATION.model_copy(update={"reminder": 1})}
    return {"invitation": SAMPLE_INVITATION}
