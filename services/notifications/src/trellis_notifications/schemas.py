"""Request and response models of the notifications API."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from trellis_common.text import StorableText
from trellis_notifications.domain.deliveries import DeliveryStatus, EmailTemplate
from trellis_notifications.domain.preferences import Category, MatchDelivery

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class DeliveryOut(BaseModel):
    """One line of the delivery log."""

    id: str
    template: str
    category: Category | None = Field(description="What a contact can unsubscribe from; none for strategy reviews")
    status: DeliveryStatus
    attempts: int
    last_error: str | None = Field(description="The last SMTP error, or why the email was skipped")
    message_id: str | None
    to_address: str | None
    contact_id: str
    member_id: str | None
    cluster_id: str | None
    cause_event_id: str
    created_at: datetime
    sent_at: datetime | None


class DeliveryDetail(DeliveryOut):
    correlation_id: str | None
    to_name: str | None
    subject: str | None
    next_attempt_at: datetime | None
    claimed_at: datetime | None
    list_unsubscribe: str | None = Field(description="The List-Unsubscribe URL the email carries")
    attachments: list[str] = Field(description="File names of the attachments")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


RESEND_AT_ONCE = 500


class ResendIn(BaseModel):
    """Which failed emails to send again: all of the caller's clusters' unless narrowed."""

    model_config = ConfigDict(extra="forbid")

    cluster_id: str | None = Field(None, max_length=128, description="Only this cluster's")
    template: EmailTemplate | None = Field(None, description="Only this template's, e.g. matches")
    delivery_ids: list[str] | None = Field(
        None, max_length=RESEND_AT_ONCE, description="Only these deliveries (the others are left alone)"
    )
    failed_since: AwareDatetime | None = Field(None, description="Only emails created at or after this time")
    dry_run: bool = Field(False, description="Say which would be sent again, change nothing")


class ResendOut(BaseModel):
    dry_run: bool
    delivery_ids: list[str] = Field(
        description=f"The failed deliveries sent again (or that would be, in a dry run); at most {RESEND_AT_ONCE}"
    )
    more: bool = Field(description=f"More failed deliveries match than the {RESEND_AT_ONCE} of this answer")


class ContactOut(BaseModel):
    contact_id: str
    member_id: str
    cluster_id: str
    name: str
    email: str
    language: str
    role: str
    updated_at: datetime


class ReviewRedirectIn(StorableText):
    """Where a manager's strategy review emails go instead: another contact, or an address."""

    model_config = ConfigDict(extra="forbid")

    contact_id: str | None = Field(None, min_length=1, max_length=128, description="A contact of the directory")
    email: EmailStr | None = Field(None, description="Any address, e.g. a deputy outside the directory")
    name: str | None = Field(None, max_length=200, description="Display name for an address")

    @field_validator("name")
    @classmethod
    def _name_is_one_line(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must be a single line without control characters")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ReviewRedirectIn:
        if (self.contact_id is None) == (self.email is None):
            raise ValueError("give either contact_id or email")
        if self.contact_id is not None and self.name is not None:
            raise ValueError("name is only for an email address; a contact has its own")
        return self


class ReviewRedirectOut(BaseModel):
    contact_id: str | None
    email: str | None
    name: str | None


class PreferencesPatch(StorableText):
    """Change some of a contact's choices; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    invitations: bool | None = Field(None, description="Survey invitations")
    matches: bool | None = Field(None, description="Collaboration partner proposals")
    reminders: bool | None = Field(None, description="Survey reminders")
    digests: bool | None = Field(None, description="The weekly digest of partner proposals")
    match_delivery: MatchDelivery | None = Field(None, description="each: one email per match run; weekly_digest")
    review_redirect: ReviewRedirectIn | None = Field(
        None, description="Cluster managers and board members only; null sends review emails to them again"
    )


class PreferencesOut(BaseModel):
    contact_id: str
    invitations: bool
    matches: bool
    reminders: bool
    digests: bool
    match_delivery: MatchDelivery
    review_redirect: ReviewRedirectOut | None
    next_digest_at: datetime | None = Field(description="When the next weekly digest goes out (weekly_digest only)")
    matches_waiting_for_digest: int


class SuppressionOut(BaseModel):
    address_hash: str = Field(description="SHA-256 of the lower-cased address: the list keeps no addresses")
    reason: str
    delivery_id: str | None
    created_at: datetime


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    total: int
    limit: int
    offset: int


class TemplateOut(BaseModel):
    name: EmailTemplate
    category: Category | None
    languages: list[str]
    attachments: list[str]
    preview: str = Field(description="Path of the HTML preview with sample data")
