"""Template rendering in English and German, with English as the fallback."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_common.events import (
    InvitationRequested,
    MatchOption,
    PartnersMatched,
    PooledOpportunity,
    ReminderKind,
    ReviewAgenda,
    ReviewDue,
    ScoreComponent,
    SurveyTheme,
)
from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.rendering import (
    SUPPORTED_LANGUAGES,
    RenderedEmail,
    TemplateRenderer,
    choose_language,
    is_web_link,
)
from trellis_notifications.samples import sample_context

RENDERER = TemplateRenderer()
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def option(rank: int, partner: str, title: str, skill: str, fmt: str, delivery: str, score: float) -> MatchOption:
    return MatchOption(
        rank=rank,
        skill_code=skill,
        partner_id=f"p{rank}",
        partner_name=partner,
        partner_type="university",
        offer_id=f"o{rank}",
        offer_title=title,
        format=fmt,
        delivery=delivery,
        score=score,
        explanation=[ScoreComponent(factor="gap_severity", weight=0.5, value=score, contribution=score / 2)],
    )


MATCHED = PartnersMatched(
    match_run_id="run-1",
    assessment_id="assessment-1",
    cluster_id="cluster-1",
    member_id="member-1",
    options=[
        option(2, "Hamburg University of Applied Sciences", "Data literacy bootcamp", "digcomp:1.2", "masterclass",
               "online", 0.71),
        option(1, "Digital Innovation Hub North", "Cyber security for SMEs", "digcomp:4.2", "training", "on_site",
               0.864),
    ],
    pooled=[
        PooledOpportunity(pool_id="pool-1", skill_code="digcomp:4.2", partner_id="p1",
                          partner_name="Digital Innovation Hub North", offer_id="o1",
                          offer_title="Cyber security for SMEs", member_count=4, seats=12),
    ],
    matched_at=NOW,
)  # fmt: skip

REVIEW = ReviewDue(
    reminder_id="reminder-1",
    strategy_id="strategy-1",
    cluster_id="cluster-1",
    strategy_title="Aviation skills 2030",
    due_at=datetime(2026, 3, 31, 8, 0, tzinfo=UTC),
    due_date=date(2026, 3, 31),
    kind=ReminderKind.UPCOMING,
    late=False,
    fired_at=NOW,
    agenda=ReviewAgenda(new_matches=7, members_with_gaps=3, proposed_actions=["Pool the cyber security training"]),
)

INVITATION = InvitationRequested(
    invitation_id="invitation-1",
    campaign_id="campaign-1",
    cluster_id="cluster-1",
    member_id="member-1",
    contact_id="contact-1",
    survey_title="Digital skills check 2026",
    theme=SurveyTheme.DIGITAL,
    link="https://surveys.trellis.example/s/abc123?sig=xyz",
    expires_at=datetime(2026, 4, 15, 18, 0, tzinfo=UTC),
    reminder=0,
)


def visible(markup: str) -> str:
    """The words a reader sees in an HTML part (no-break spaces read as spaces)."""
    words = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", " ", markup, flags=re.S)))
    return re.sub(r"\s+", " ", words).replace(" ,", ",").replace(" .", ".").replace(" :", ":").replace(" )", ")")


def plain(text: str) -> str:
    """A plain-text part as a reader sees it: no-break spaces read as spaces."""
    return text.replace("\xa0", " ")


def render(template: EmailTemplate, language: str, **context: Any) -> RenderedEmail:
    mail = RENDERER.render(template, language, recipient_name="Anna Schmidt", **context)
    return RenderedEmail(subject=mail.subject, text=plain(mail.text), html=plain(mail.html).replace("&nbsp;", " "))


def test_matches_in_english_lists_every_option_and_pool() -> None:
    mail = render(EmailTemplate.MATCHES, "en", matched=MATCHED)
    assert mail.subject == "2 collaboration partner proposals for your skill gaps"
    for body in (mail.text, mail.html):
        assert "Hello Anna Schmidt," in body
        for expected in (
            "Cyber security for SMEs",
            "Digital Innovation Hub North",
            "Protecting personal data and privacy",
            "training",
            "on site",
            "86%",
            "Data literacy bootcamp",
            "Hamburg University of Applied Sciences",
            "Evaluating data, information and digital content",
            "masterclass",
            "online",
            "71%",
            "Pooled opportunities",
            "4 members, 12 seats",
        ):
            assert expected in body, expected
        assert "digcomp:" not in body, "skills read as labels, never as codes"
    # ranked order, whatever order the event lists them in
    assert mail.text.index("1. Cyber security for SMEs") < mail.text.index("2. Data literacy bootcamp")
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in mail.html


def test_matches_in_german() -> None:
    mail = render(EmailTemplate.MATCHES, "de", matched=MATCHED)
    assert mail.subject == "2 Vorschläge für Kooperationspartner zu Ihren Kompetenzlücken"
    for body in (mail.text, mail.html):
        assert "Guten Tag Anna Schmidt," in body
        for expected in (
            "Schulung",
            "vor Ort",
            "86 %",
            "Gebündelte Angebote",
            "4 Mitglieder, 12 Plätze",
            "Schützen personenbezogener Daten und der Privatsphäre",
        ):
            assert expected in body, expected
        assert "digcomp:" not in body
    assert '<html lang="de">' in mail.html


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_cluster_sends_the_email_under_its_name(language: str) -> None:
    mail = render(
        EmailTemplate.MATCHES, language, matched=MATCHED, cluster_name="Danube Mechatronics", member_name="Huber GmbH"
    )
    for body in (mail.text, visible(mail.html)):
        assert "Danube Mechatronics" in body and "Huber GmbH" in body
        assert "Trellis" not in body
    assert '<td class="brand"' in mail.html and ">Danube Mechatronics</td>" in mail.html


@pytest.mark.parametrize(("language", "brand"), [("en", "Your cluster"), ("de", "Ihr Cluster")])
def test_a_cluster_whose_name_is_not_known_yet_is_worded_neutrally(language: str, brand: str) -> None:
    mail = render(EmailTemplate.MATCHES, language, matched=MATCHED)
    assert f">{brand}</td>" in mail.html
    assert "Trellis" not in mail.text and "Trellis" not in visible(mail.html)


def test_matches_without_pooled_opportunities_leaves_the_section_out() -> None:
    mail = render(EmailTemplate.MATCHES, "en", matched=MATCHED.model_copy(update={"pooled": []}))
    assert "Pooled" not in mail.text and "Pooled" not in mail.html


@pytest.mark.parametrize(
    ("kind", "late", "language", "subject", "phrases"),
    [
        (ReminderKind.UPCOMING, False, "en", "Strategy review on 31 March 2026: Aviation skills 2030",
         ["is due on 31 March 2026"]),
        (ReminderKind.DUE, False, "en", "Strategy review due today: Aviation skills 2030", ["due today"]),
        (ReminderKind.OVERDUE, True, "en", "Overdue strategy review: Aviation skills 2030",
         ["is overdue", "This reminder is late"]),
        (ReminderKind.UPCOMING, False, "de", "Strategieüberprüfung am 31. März 2026: Aviation skills 2030",
         ["ist am 31. März 2026 fällig"]),
        (ReminderKind.DUE, False, "de", "Strategieüberprüfung heute fällig: Aviation skills 2030", ["heute"]),
        (ReminderKind.OVERDUE, True, "de", "Überfällige Strategieüberprüfung: Aviation skills 2030",
         ["überfällig", "Diese Erinnerung kommt verspätet"]),
    ],
)  # fmt: skip
def test_review_reminder(kind: ReminderKind, late: bool, language: str, subject: str, phrases: list[str]) -> None:
    review = REVIEW.model_copy(update={"kind": kind, "late": late})
    mail = render(EmailTemplate.REVIEW_REMINDER, language, review=review)
    assert mail.subject == subject
    for body in (mail.text, visible(mail.html)):
        assert "Aviation skills 2030" in body
        assert "7" in body and "3" in body
        assert "Pool the cyber security training" in body
        for phrase in phrases:
            assert phrase in body, phrase
    if not late:
        assert "late" not in mail.text and "verspätet" not in mail.text


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("template", [EmailTemplate.SURVEY_INVITATION, EmailTemplate.SURVEY_REMINDER])
def test_survey_emails_carry_title_link_and_expiry(template: EmailTemplate, language: str) -> None:
    mail = render(template, language, invitation=INVITATION)
    assert "Digital skills check 2026" in mail.subject
    assert INVITATION.link in mail.text
    assert 'href="https://surveys.trellis.example/s/abc123?sig=xyz"' in mail.html.replace("&amp;", "&")
    expiry = "15 April 2026, 18:00 UTC" if language == "en" else "15. April 2026, 18:00 UTC"
    assert expiry in visible(mail.html)
    assert expiry in mail.text
    theme = "digital skills" if language == "en" else "digitale Kompetenzen"
    assert theme in mail.text


def test_survey_subjects_differ_between_invitation_and_reminder() -> None:
    invitation = render(EmailTemplate.SURVEY_INVITATION, "en", invitation=INVITATION)
    reminder = render(EmailTemplate.SURVEY_REMINDER, "en", invitation=INVITATION)
    assert invitation.subject == "Survey invitation: Digital skills check 2026"
    assert reminder.subject == "Reminder: Digital skills check 2026"
    assert render(EmailTemplate.SURVEY_REMINDER, "de", invitation=INVITATION).subject.startswith("Erinnerung:")


def test_html_is_escaped_and_text_is_not() -> None:
    hostile = MATCHED.model_copy(
        update={"options": [MATCHED.options[0].model_copy(update={"partner_name": "<script>alert(1)</script> & Co"})]}
    )
    mail = RENDERER.render(EmailTemplate.MATCHES, "en", recipient_name="<b>Anna</b>", matched=hostile)
    assert "<script>" not in mail.html and "<b>Anna</b>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in mail.html
    assert "&lt;b&gt;Anna&lt;/b&gt;" in mail.html
    assert "<script>alert(1)</script> & Co" in mail.text
    assert "Hello <b>Anna</b>," in mail.text


def test_an_empty_name_gets_a_plain_greeting() -> None:
    mail = RENDERER.render(EmailTemplate.SURVEY_INVITATION, "en", recipient_name="", invitation=INVITATION)
    assert mail.text.startswith("Hello,\n")


def test_subjects_are_single_line_even_when_the_event_is_not() -> None:
    review = REVIEW.model_copy(update={"strategy_title": "Aviation\r\nBcc: victim@evil.example"})
    mail = render(EmailTemplate.REVIEW_REMINDER, "en", review=review)
    assert "\n" not in mail.subject and "\r" not in mail.subject


@pytest.mark.parametrize(
    ("preferred", "chosen"),
    [("en", "en"), ("de", "de"), ("DE", "de"), ("de-AT", "de"), ("de_CH", "de"), ("fr", "fr"), ("fr-BE", "fr"),
     ("it", "en"), ("", "en"), (None, "en"), ("pt-BR", "en")],
)  # fmt: skip
def test_language_choice_falls_back_to_english(preferred: str | None, chosen: str) -> None:
    assert choose_language(preferred) == chosen


def test_unsupported_language_renders_english() -> None:
    assert render(EmailTemplate.MATCHES, "it", matched=MATCHED) == render(EmailTemplate.MATCHES, "en", matched=MATCHED)


@pytest.mark.parametrize("language", sorted(SUPPORTED_LANGUAGES))
@pytest.mark.parametrize("template", list(EmailTemplate))
def test_every_template_exists_in_every_language(template: EmailTemplate, language: str) -> None:
    mail = render(template, language, unsubscribe_url="https://trellis.test/unsubscribe/t", **sample_context(template))
    assert mail.subject and mail.text.endswith("\n") and "</html>" in mail.html
    assert "\n\n\n" not in mail.text  # readable: no runs of blank lines left by template tags
    assert f'<html lang="{language}">' in mail.html
    assert "{{" not in mail.text + mail.html and "{%" not in mail.text + mail.html


@given(st.text(max_size=40))
def test_choose_language_always_picks_a_supported_one(preferred: str) -> None:
    assert choose_language(preferred) in SUPPORTED_LANGUAGES


@pytest.mark.parametrize(
    ("link", "ok"),
    [
        ("https://surveys.example/s/abc?sig=1", True),
        ("http://localhost:8000/s/abc", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("https://", False),
        ("/relative/path", False),
        ("https://surveys.example/s/a b", False),
    ],
)
def test_only_web_links_are_allowed(link: str, ok: bool) -> None:
    assert is_web_link(link) is ok


# ---------------------------------------------------------------- footer, inlined CSS, digest, escalation, KPIs

UNSUBSCRIBE = "https://trellis.test/notifications/unsubscribe/abc.def.ghi"


@pytest.mark.parametrize(
    ("template", "language", "phrase"),
    [
        (EmailTemplate.MATCHES, "en", "Unsubscribe from partner proposals"),
        (EmailTemplate.MATCHES, "de", "Partnervorschläge abbestellen"),
        (EmailTemplate.SURVEY_INVITATION, "en", "Unsubscribe from survey invitations"),
        (EmailTemplate.SURVEY_REMINDER, "de", "Umfrageerinnerungen abbestellen"),
        (EmailTemplate.MATCHES_DIGEST, "en", "Unsubscribe from weekly digests of partner proposals"),
    ],
)
def test_emails_one_can_unsubscribe_from_carry_the_link_in_both_parts(
    template: EmailTemplate, language: str, phrase: str
) -> None:
    mail = render(template, language, unsubscribe_url=UNSUBSCRIBE, **sample_context(template))
    assert UNSUBSCRIBE in mail.text and phrase in mail.text
    assert f'href="{UNSUBSCRIBE}"' in mail.html and phrase in visible(mail.html)


@pytest.mark.parametrize("template", [EmailTemplate.REVIEW_REMINDER, EmailTemplate.REVIEW_ESCALATION])
def test_review_emails_explain_they_cannot_be_unsubscribed_but_redirected(template: EmailTemplate) -> None:
    mail = render(template, "en", **sample_context(template))
    assert "cannot be switched off" in mail.text and "colleague" in visible(mail.html)
    assert "unsubscribe" not in mail.text.lower()
    redirected = render(template, "de", on_behalf_of="Clara Manager", **sample_context(template))
    assert "Clara Manager hat veranlasst" in redirected.text
    assert "Clara Manager hat veranlasst" in visible(redirected.html)


@pytest.mark.parametrize("template", list(EmailTemplate))
def test_css_is_inlined_and_only_media_queries_stay_in_a_style_element(template: EmailTemplate) -> None:
    mail = render(template, "en", unsubscribe_url=UNSUBSCRIBE, **sample_context(template))
    styles = re.findall(r"<style>(.*?)</style>", mail.html, flags=re.S)
    assert len(styles) == 1 and styles[0].strip().startswith("@media")
    assert 'class="card"' in mail.html
    assert re.search(r'class="card"[^>]*style="[^"]*max-width:600px', mail.html)
    for tag in re.findall(r"<(?:p|li|h2|a)\b[^>]*>", mail.html):
        assert "style=" in tag, tag  # every text element carries its style for clients that drop <style>


def test_the_digest_lists_each_offer_once_best_first() -> None:
    context = sample_context(EmailTemplate.MATCHES_DIGEST)
    mail = render(EmailTemplate.MATCHES_DIGEST, "en", unsubscribe_url=UNSUBSCRIBE, **context)
    assert mail.subject == "Your weekly digest: 4 partner proposals for your skill gaps"
    text = mail.text
    assert "in the week up to 9 March 2026" in text and "(2 needs assessments)" in text
    order = ["1. Cyber security for SMEs", "2. Data-driven production", "3. Circular economy", "4. Programming basics"]
    assert [text.index(line) for line in order] == sorted(text.index(line) for line in order)
    assert text.count("Cyber security for SMEs") == 2  # the proposal and the pooled opportunity
    assert "Match score: 90%" in text and "Proposed 2 times this week" in text
    german = render(EmailTemplate.MATCHES_DIGEST, "de", **context)
    assert german.subject == "Ihre Wochenübersicht: 4 Partnervorschläge zu Ihren Kompetenzlücken"
    assert "2-mal vorgeschlagen" in visible(german.html)


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        ("en", "Escalation: strategy review overdue since 31 March 2026: Digital and green skills strategy 2026",
         ["14 days overdue", "board member", "Share of SME members active internationally: 36.5%",
          "target 42% by 31 December 2026", "on track", "Protecting personal data and privacy (12 members)"]),
        ("de", "Eskalation: Strategieüberprüfung seit 31. März 2026 überfällig: Digital and green skills strategy 2026",
         ["seit 14 Tagen überfällig", "Vorstands", "36,5 %", "Ziel 1.200 t bis 30. Juni 2027", "keine Daten",
          "Schützen personenbezogener Daten und der Privatsphäre (12 Mitglieder)"]),
    ],
)  # fmt: skip
def test_the_escalation(language: str, subject: str, phrases: list[str]) -> None:
    mail = render(EmailTemplate.REVIEW_ESCALATION, language, **sample_context(EmailTemplate.REVIEW_ESCALATION))
    assert mail.subject == subject
    for body in (mail.text, visible(mail.html)):
        for phrase in phrases:
            assert phrase in body, phrase


def test_the_escalation_counts_missed_reviews() -> None:
    review = sample_context(EmailTemplate.REVIEW_ESCALATION)["review"].model_copy(update={"missed_reviews": 2})
    mail = render(EmailTemplate.REVIEW_ESCALATION, "en", review=review)
    assert "2 review dates have passed without a recorded review" in mail.text


@pytest.mark.parametrize(
    ("lead_days", "phrase"), [(14, "2026 (in 14 days)."), (1, "2026 (tomorrow)."), (None, "2026.")]
)
def test_an_upcoming_review_says_how_soon(lead_days: int | None, phrase: str) -> None:
    review = REVIEW.model_copy(update={"lead_days": lead_days})
    mail = render(EmailTemplate.REVIEW_REMINDER, "en", review=review)
    assert f"is due on 31 March {phrase}" in mail.text


def test_the_calendar_entry_texts_follow_the_language() -> None:
    summary, description = RENDERER.calendar_texts("de", review=REVIEW)
    assert summary == "Strategieüberprüfung: Aviation skills 2030"
    assert "fällig am 31. März 2026" in plain(description) and "Pool the cyber security training" in description
    assert RENDERER.calendar_texts("fr", review=REVIEW)[0] == "Revue de la stratégie : Aviation skills 2030"
    assert RENDERER.calendar_texts("it", review=REVIEW)[0] == "Strategy review: Aviation skills 2030"


def test_the_unsubscribe_page_in_both_languages() -> None:
    confirm = RENDERER.render_page("unsubscribe", "en", state="confirm", category="matches", max_age_days=365)
    assert '<form method="post">' in confirm and 'name="List-Unsubscribe" value="One-Click"' in confirm
    assert "Unsubscribe from partner proposals?" in confirm and "<script" not in confirm
    done = RENDERER.render_page("unsubscribe", "de", state="done", category="digests", max_age_days=365)
    assert 'lang="de"' in done and "Wochenübersichten zu Partnervorschlägen abbestellt" in done
    assert "<form" not in done
    invalid = RENDERER.render_page("unsubscribe", "en", state="invalid", category=None, max_age_days=30)
    assert "older than 30 days" in invalid


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("template", [EmailTemplate.REVIEW_REMINDER, EmailTemplate.REVIEW_ESCALATION])
def test_review_emails_give_the_rhythm_as_the_guides_example_not_as_its_rule(
    template: EmailTemplate, language: str
) -> None:
    """The guide reports quarterly reviews and six-monthly evaluations as Hamburg Aviation's practice; its general
    advice is to update a strategy as often as needed. The emails say so, and never state a rule."""
    mail = TemplateRenderer().render(template, language, **sample_context(template))
    for part in (mail.text, mail.html):
        assert "Hamburg Aviation" in part
    assert "should be reviewed every quarter" not in mail.text
    assert "sollte vierteljährlich überprüft" not in mail.text and "devrait être revue" not in mail.text
