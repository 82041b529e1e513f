"""The strategy service: cluster strategies with objectives and KPIs, kept on their review cadence."""

from __future__ import annotations

from trellis_common.names import member_names_handler
from trellis_common.runtime import ServiceDefinition
from trellis_strategy.api import calendar_feed, clusters, kpis, strategies
from trellis_strategy.handlers import on_gaps_assessed, on_partners_matched
from trellis_strategy.models import NAMES, metadata
from trellis_strategy.settings import StrategySettings
from trellis_strategy.workers import scheduler_worker

DEFINITION = ServiceDefinition(
    name="strategy",
    title="Trellis strategy",
    description="Cluster strategies (overall, green action plan, digital skills plan, internationalisation "
    "strategy) with objectives, KPIs and owners; review schedules (quarterly, six-monthly or an RFC 5545 RRULE) "
    "with lead-time reminders and escalation; review records; an iCalendar feed and a KPI progress chart. "
    "Consumes matchmaking.partners.matched and skills.gaps.assessed (and surveys.member.changed for "
    "organisations' names), publishes strategy.review.due.",
    metadata=metadata,
    migrations="trellis_strategy:migrations",
    routers=[clusters.router, calendar_feed.router, strategies.router, kpis.router],
    consumes=[on_partners_matched, on_gaps_assessed, member_names_handler(NAMES)],
    workers=[scheduler_worker],
    settings_class=StrategySettings,
)
