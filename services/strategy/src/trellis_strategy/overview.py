"""A strategy as a review sees it: KPI status today and the agenda of the next review (reads, no writes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_common.events import AgendaAction, AgendaActionKind, AgendaGap, ReviewAgenda, ReviewKpi
from trellis_common.repositories.names import names_of
from trellis_strategy.domain.agenda import say_again, summarise
from trellis_strategy.domain.kpi import KpiAssessment, assess
from trellis_strategy.models import NAMES
from trellis_strategy.repositories import actions, activity, kpis, schedules, strategies
from trellis_strategy.settings import StrategySettings


@dataclass(frozen=True)
class KpiView:
    kpi: kpis.Kpi
    assessment: KpiAssessment
    measurements: list[kpis.MeasurementRow]

    def snapshot(self) -> ReviewKpi:
        latest = self.assessment.latest
        return ReviewKpi(
            kpi_id=self.kpi.id,
            name=self.kpi.name,
            unit=self.kpi.unit,
            baseline=self.kpi.baseline,
            target=self.kpi.target,
            target_date=self.kpi.target_date,
            latest=latest.value if latest else None,
            progress=round(self.assessment.progress, 4) if self.assessment.progress is not None else None,
            status=self.assessment.status.value,
        )


async def action_texts(session: AsyncSession, actions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The actions' texts as people read them today: members' names as now known, skill labels."""
    return [text for text, _data in await worded_actions(session, actions)]


async def worded_actions(
    session: AsyncSession, actions: Sequence[Mapping[str, Any]]
) -> list[tuple[str, AgendaAction | None]]:
    """Each action in English words and as data (for readers of other languages), with today's member names;
    an action stored before its facts were kept has words only."""
    member_ids = [str(a["facts"]["member_id"]) for a in actions if a["facts"] and "member_id" in a["facts"]]
    names = await names_of(session, NAMES, member_ids=member_ids)
    return [
        (
            say_again(a["kind"], a["text"], a["facts"], names.member),
            AgendaAction(
                kind=AgendaActionKind(a["kind"]),
                skill_code=str(a["facts"].get("skill_code", "")),
                partner_name=str(a["facts"].get("partner_name", "")),
                offer_title=a["facts"].get("offer_title"),
                member_count=a["facts"].get("member_count"),
                member_name=names.member(str(a["facts"]["member_id"])) if "member_id" in a["facts"] else None,
            )
            if a["facts"]
            else None,
        )
        for a in actions
    ]


async def _worded(session: AsyncSession, actions: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[AgendaAction]]:
    """The actions in English words and as data. Actions stored before their facts were kept have words only:
    then the data is left out altogether, so that a reader never sees part of the agenda."""
    views = await worded_actions(session, actions)
    data = [d for _text, d in views if d is not None]
    return [text for text, _d in views], data if len(data) == len(views) else []


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


async def kpi_views(
    session: AsyncSession, scope: Scope, strategy_ids: Sequence[str], today: date, tolerance: float
) -> dict[str, list[KpiView]]:
    """Each strategy's KPIs with their measurements and status on ``today``."""
    by_strategy = await kpis.kpis_of(session, scope, strategy_ids)
    measured = await kpis.measurements_of(session, scope, [k.id for items in by_strategy.values() for k in items])
    return {
        strategy_id: [
            KpiView(
                kpi,
                assess(kpi.target_line, [m.measurement for m in measured[kpi.id]], today, tolerance),
                measured[kpi.id],
            )
            for kpi in items
        ]
        for strategy_id, items in by_strategy.items()
    }


async def agenda(
    session: AsyncSession,
    scope: Scope,
    settings: StrategySettings,
    strategy: strategies.Strategy,
    schedule: schedules.Schedule,
    now: datetime,
    zone: ZoneInfo,
) -> ReviewAgenda:
    """What the next review of ``strategy`` should discuss: news since its last review, KPIs, open actions."""
    since = schedule.last_reviewed_at
    runs, assessments = await activity.activity_since(session, scope, strategy.cluster_id, since)
    facts = summarise(strategy.strategy_type, runs, assessments, settings.agenda_top_gaps)
    views = await kpi_views(session, scope, [strategy.id], local_today(now, zone), settings.kpi_on_track_tolerance)
    texts, as_data = await _worded(
        session, await actions.open_actions(session, scope, strategy.id, settings.agenda_max_actions)
    )
    return ReviewAgenda(
        new_matches=facts.new_matches,
        members_with_gaps=facts.members_with_gaps,
        proposed_actions=texts,
        actions=as_data,
        since=since,
        top_gaps=[AgendaGap(skill_code=code, members=count) for code, count in facts.top_gaps],
        kpis=[view.snapshot() for view in views[strategy.id]],
    )
