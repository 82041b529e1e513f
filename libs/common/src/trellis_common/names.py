"""Organisations' names by id, projected from ``surveys.member.changed``: what a service that renders for people
keeps so that nothing a person reads shows an id.

A member organisation's name and its cluster's name are not personal data (DESIGN §1), so any service may keep
them; contact persons on the same event are ignored here. Each service holds its own two tables (defined on its
own metadata by ``repositories.names.name_tables``, created by its own migration with
``migrations.create_name_tables``): services share no tables. A member's tombstone removes its name; the
cluster's name stays (the cluster still exists). An older state than the one kept (a replay from a DLQ)
changes nothing. The statements, and ``names_of`` to read the names, are in ``repositories.names``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trellis_common.consumer import Incoming
from trellis_common.errors import ContractError
from trellis_common.events import MemberChanged
from trellis_common.repositories.names import forget_member, record_member
from trellis_common.subscriptions import Subscription, handles_records
from trellis_common.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from trellis_common.repositories.names import NameTables


async def apply_member_event(session: AsyncSession, tables: NameTables, incoming: Incoming) -> None:
    """A ``surveys.member.changed`` record: a state to keep, or a tombstone (the key names the member)."""
    if incoming.data is None:
        member_id = incoming.key or incoming.envelope.subject
        if not member_id:
            raise ContractError("a member tombstone must name the member in its key or subject")
        await forget_member(session, tables, member_id)
        return
    await record_member(session, tables, incoming.require(MemberChanged))


def member_names_handler(tables: NameTables) -> Subscription:
    """The handler a service registers for ``surveys.member.changed`` when names are all it needs of it."""

    @handles_records(MemberChanged)
    async def on_member_changed(uow: UnitOfWork, incoming: Incoming) -> None:
        await apply_member_event(uow.session, tables, incoming)

    return on_member_changed
