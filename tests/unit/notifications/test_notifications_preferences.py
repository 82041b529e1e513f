"""Who gets what: the rule that sends, collects for the digest, or skips each email."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trellis_notifications.domain.deliveries import EmailTemplate
from trellis_notifications.domain.preferences import (
    REDIRECTABLE,
    TEMPLATE_CATEGORY,
    Category,
    MatchDelivery,
    Preferences,
    ReviewRedirect,
    Route,
    address_key,
    decide,
    templates_of,
)

preferences_strategy = st.builds(
    Preferences,
    unsubscribed=st.frozensets(st.sampled_from(list(Category))),
    match_delivery=st.sampled_from(list(MatchDelivery)),
)


def test_every_template_has_a_category_or_is_a_review() -> None:
    assert set(TEMPLATE_CATEGORY) == set(EmailTemplate)
    assert {t for t, c in TEMPLATE_CATEGORY.items() if c is None} == REDIRECTABLE
    assert templates_of(Category.MATCHES) == [EmailTemplate.MATCHES, EmailTemplate.ANSWERS_RECEIVED]
    assert templates_of(Category.DIGESTS) == [EmailTemplate.MATCHES_DIGEST]


def test_by_default_everything_is_sent_one_by_one() -> None:
    for template in EmailTemplate:
        assert decide(template, Preferences(), suppressed=False).route is Route.SEND


@pytest.mark.parametrize(
    ("template", "unsubscribed", "route", "reason"),
    [
        (EmailTemplate.MATCHES, {Category.MATCHES}, Route.SKIP, "unsubscribed from matches"),
        (EmailTemplate.MATCHES, {Category.INVITATIONS}, Route.SEND, ""),
        (EmailTemplate.SURVEY_INVITATION, {Category.INVITATIONS}, Route.SKIP, "unsubscribed from invitations"),
        (EmailTemplate.SURVEY_REMINDER, {Category.INVITATIONS}, Route.SEND, ""),
        (EmailTemplate.SURVEY_REMINDER, {Category.REMINDERS}, Route.SKIP, "unsubscribed from reminders"),
        (EmailTemplate.MATCHES_DIGEST, {Category.DIGESTS}, Route.SKIP, "unsubscribed from digests"),
        (EmailTemplate.REVIEW_REMINDER, set(Category), Route.SEND, ""),
        (EmailTemplate.REVIEW_ESCALATION, set(Category), Route.SEND, ""),
    ],
)
def test_unsubscribing_stops_one_category(
    template: EmailTemplate, unsubscribed: set[Category], route: Route, reason: str
) -> None:
    decision = decide(template, Preferences(unsubscribed=frozenset(unsubscribed)), suppressed=False)
    assert (decision.route, decision.reason) == (route, reason)


def test_a_weekly_digest_collects_matches_unless_matches_or_digests_are_off() -> None:
    weekly = Preferences(match_delivery=MatchDelivery.WEEKLY_DIGEST)
    assert decide(EmailTemplate.MATCHES, weekly, suppressed=False).route is Route.DIGEST
    no_digests = Preferences(unsubscribed=frozenset({Category.DIGESTS}), match_delivery=MatchDelivery.WEEKLY_DIGEST)
    assert decide(EmailTemplate.MATCHES, no_digests, suppressed=False).reason == "unsubscribed from digests"
    no_matches = Preferences(unsubscribed=frozenset({Category.MATCHES}), match_delivery=MatchDelivery.WEEKLY_DIGEST)
    assert decide(EmailTemplate.MATCHES, no_matches, suppressed=False).route is Route.SKIP
    assert decide(EmailTemplate.SURVEY_INVITATION, weekly, suppressed=False).route is Route.SEND


@given(template=st.sampled_from(list(EmailTemplate)), preferences=preferences_strategy)
def test_a_suppressed_address_gets_nothing(template: EmailTemplate, preferences: Preferences) -> None:
    decision = decide(template, preferences, suppressed=True)
    assert decision.route is Route.SKIP and "suppressed" in decision.reason


@given(template=st.sampled_from(list(EmailTemplate)), preferences=preferences_strategy)
def test_the_rule_holds_for_every_choice(template: EmailTemplate, preferences: Preferences) -> None:
    decision = decide(template, preferences, suppressed=False)
    category = TEMPLATE_CATEGORY[template]
    if category is None:
        assert decision.route is Route.SEND  # strategy reviews cannot be switched off
    elif category in preferences.unsubscribed:
        assert decision.route is Route.SKIP  # an unsubscribed category is never sent, nor collected
    if decision.route is Route.DIGEST:
        assert template is EmailTemplate.MATCHES and preferences.match_delivery is MatchDelivery.WEEKLY_DIGEST
        assert Category.DIGESTS not in preferences.unsubscribed
    assert (decision.route is Route.SKIP) == bool(decision.reason)


def test_a_redirect_names_a_contact_or_an_address() -> None:
    assert ReviewRedirect(contact_id="c-2").contact_id == "c-2"
    assert ReviewRedirect(email="deputy@cluster.example", name="Deputy").email == "deputy@cluster.example"
    with pytest.raises(ValueError):
        ReviewRedirect()
    with pytest.raises(ValueError):
        ReviewRedirect(contact_id="c-2", email="deputy@cluster.example")


def test_the_suppression_key_ignores_case_and_spaces_and_keeps_no_address() -> None:
    key = address_key(" Anna.Schmidt@Member.example ")
    assert key == address_key("anna.schmidt@member.example")
    assert len(key) == 64 and "member" not in key
    assert key != address_key("anna.schmidt@member.example.org")
