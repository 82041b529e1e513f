"""The weekly digest of matches: one email per contact per week with every match run kept for it.

Runs on ``trellis_common.scheduler``: each due time of each contact's digest is claimed with ``claim_fire``
(schedule key ``digest:<contact_id>``), in the same transaction that writes the digest's delivery row and
marks its items taken, so any number of replicas send one digest per contact per week. After downtime only
the latest due time is looked at: a backlog becomes one (late) digest, never several.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from trellis_common.auth import Scope
from trellis_common.events import PartnersMatched
from trellis_common.logging import get_logger
from trellis_common.metrics import REMINDERS_FIRED
from trellis_common.repositories.names import names_of
from trellis_common.repositories.schedule_fires import claim_fire
from trellis_common.runtime import ServiceRuntime
from trellis_common.scheduler import Scheduler
from trellis_common.settings import narrowed
from trellis_notifications.composer import Recipient, compose
from trellis_notifications.domain.deliveries import DeliveryStatus, EmailTemplate, delivery_id_for
from trellis_notifications.domain.digest import WEEK, collect_digest, digest_due_at
from trellis_notifications.domain.preferences import Route, address_key, decide
from trellis_notifications.models import NAMES
from trellis_notifications.repositories.contacts import find_contact
from trellis_notifications.repositories.deliveries import add_delivery
from trellis_notifications.repositories.digests import contacts_with_digest_due, lock_items_due, take_items
from trellis_notifications.repositories.preferences import preferences_of
from trellis_notifications.repositories.suppressions import suppressed_keys
from trellis_notifications.settings import NotificationsSettings

log = get_logger(__name__)
SERVICE = Scope.everything("notifications-digests")  # the weekly schedule runs for every cluster
LATE_AFTER = timedelta(hours=1)
# Fixed forever: digest ids derived from it must stay the same across releases.
_DIGEST_NAMESPACE = uuid.UUID("c2a9e3f4-7d15-4b8e-a0c6-91e5d4f3b2a7")


def digest_id_for(contact_id: str, due_at: datetime) -> str:
    """The digest of one contact for one week: the cause of its delivery row (there is no cause event)."""
    return f"digest-{uuid.uuid5(_DIGEST_NAMESPACE, f'{contact_id}|{due_at.isoformat()}')}"


class WeeklyDigestJob:
    name = "weekly-digest"

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    async def run_due(self, runtime: ServiceRuntime, now: datetime) -> int:
        s = self.settings
        due_at = digest_due_at(now, weekday=s.digest_weekday, hour=s.digest_hour, zone=s.digest_zone)
        async with runtime.db.sessions() as session:
            contact_ids = await contacts_with_digest_due(session, due_at)
        fired = 0
        for contact_id in contact_ids:
            if await self._fire(runtime, contact_id, due_at, now):
                fired += 1
        if fired:
            runtime.wake_workers()  # the sender picks the digests up now, not at its next poll
        return fired

    async def _fire(self, runtime: ServiceRuntime, contact_id: str, due_at: datetime, now: datetime) -> bool:
        late = now - due_at > LATE_AFTER
        digest_id = digest_id_for(contact_id, due_at)
        async with runtime.unit_of_work() as uow:
            session = uow.session
            rows = await lock_items_due(session, contact_id, due_at)
            contact = await find_contact(session, SERVICE, contact_id)
            if not rows or contact is None:
                return False  # taken by another replica meanwhile, or the contact was erased
            if not await claim_fire(session, f"digest:{contact_id}", due_at, now, late=late, note=digest_id):
                return False  # another replica (or an earlier tick) sent this week's digest
            runs: list[PartnersMatched] = []
            for row in rows:
                try:
                    runs.append(PartnersMatched.model_validate(row["payload"]))
                except ValidationError:
                    log.error("digest_item_unreadable", item_id=row["id"])
            await take_items(session, [row["id"] for row in rows], digest_id)
            recipient = Recipient(
                contact_id=contact_id,
                member_id=contact["member_id"],
                cluster_id=contact["cluster_id"],
                name=contact["name"],
                email=contact["email"],
                language=contact["language"],
            )
            delivery: dict[str, Any] = {
                "id": delivery_id_for(digest_id, contact_id, EmailTemplate.MATCHES_DIGEST.value),
                "cause_event_id": digest_id,
                "correlation_id": rows[-1]["correlation_id"],
                "contact_id": contact_id,
                "member_id": contact["member_id"],
                "cluster_id": contact["cluster_id"],
                "template": EmailTemplate.MATCHES_DIGEST.value,
                "to_address": recipient.email,
                "to_name": recipient.name,
                "attempts": 0,
                "created_at": now,
            }
            suppressed = address_key(recipient.email) in await suppressed_keys(session, [recipient.email])
            decision = decide(
                EmailTemplate.MATCHES_DIGEST, await preferences_of(session, SERVICE, contact_id), suppressed=suppressed
            )
            if decision.route is not Route.SEND or not runs:
                reason = decision.reason or "no readable matches"
                delivery |= {"status": DeliveryStatus.SKIPPED.value, "last_error": reason}
            else:
                digest = collect_digest(runs, due_at - WEEK, due_at)
                names = await names_of(
                    session, NAMES, member_ids=[recipient.member_id], cluster_ids=[recipient.cluster_id]
                )
                content = compose(
                    self.settings,
                    EmailTemplate.MATCHES_DIGEST,
                    recipient,
                    digest,
                    cause_event_id=digest_id,
                    now=now,
                    cluster_name=names.cluster(recipient.cluster_id),
                    member_name=names.member(recipient.member_id),
                )
                delivery |= content | {"status": DeliveryStatus.PENDING.value, "next_attempt_at": now}
            await add_delivery(session, delivery)
        REMINDERS_FIRED.labels(self.settings.service_name, self.name, str(late).lower()).inc()
        log.info("digest_fired", digest_id=digest_id, matches=len(rows), late=late)
        return True


async def send_digests(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Worker: fire due weekly digests until ``stop`` is set."""
    settings = narrowed(runtime.settings, NotificationsSettings)
    await Scheduler([WeeklyDigestJob(settings)]).run(runtime, stop)
