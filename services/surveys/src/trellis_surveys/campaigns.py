"""Campaigns: a template launched to members, one invitation per contact (and per reminder, ``workers``): the
signed answer link and the invitation event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trellis_common.events import InvitationRequested, SurveyTheme
from trellis_surveys.domain.links import INVITATION_PURPOSE, LinkSigner
from trellis_surveys.domain.templates import SurveyTemplate, survey_title
from trellis_surveys.settings import SurveysSettings


def signer(settings: SurveysSettings) -> LinkSigner:
    return LinkSigner(settings.survey_link_secret.get_secret_value(), INVITATION_PURPOSE)


def answer_link(settings: SurveysSettings, invitation_id: str, expires_at: datetime) -> str:
    return f"{settings.public_base_url}/answer/{signer(settings).sign(invitation_id, expires_at)}"


def invitation_event(
    settings: SurveysSettings,
    campaign: dict[str, Any],
    invitation: dict[str, Any],
    reminder: int,
    template: SurveyTemplate | None = None,
) -> InvitationRequested:
    """The email request; with the campaign's ``template`` the title is in the contact's language."""
    title = campaign["title"] if template is None else survey_title(campaign["title"], template, invitation["language"])
    return InvitationRequested(
        invitation_id=invitation["id"],
        campaign_id=campaign["id"],
        cluster_id=campaign["cluster_id"],
        member_id=invitation["member_id"],
        contact_id=invitation["contact_id"],
        survey_title=title,
        theme=SurveyTheme(campaign["theme"]),
        link=answer_link(settings, invitation["id"], campaign["closes_at"]),
        expires_at=campaign["closes_at"],
        reminder=reminder,
    )
