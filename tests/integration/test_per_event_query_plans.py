"""Every query an event costs is an index lookup, not a scan, with 100,000 members on file.

For each consuming service: a fresh PostgreSQL database filled (set-based, with ``generate_series``) as if
100,000 members of 100 clusters had been through the loop, ANALYZEd; then a batch of events goes through the
service's real consumer and relay while every statement they send is recorded; then each recorded statement is
EXPLAINed with its own parameters. A sequential scan of a table holding 10,000 rows or more fails the test;
the plans are printed, so what each event costs can be read.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import NewDatabase
from tests.support.fixtures import completed_response
from tests.support.polling import eventually
from tests.support.runtime import runtime_for
from trellis_common.bus import OutgoingMessage
from trellis_common.bus.memory import InMemoryBroker, InMemoryBus
from trellis_common.catalogue import spec_for_model
from trellis_common.db import inbox
from trellis_common.envelope import CloudEvent, to_binary
from trellis_common.events import (
    Contact,
    EventData,
    GapsAssessed,
    MatchOption,
    MemberChanged,
    MemberContext,
    PartnersMatched,
    SkillGap,
    SurveyTheme,
    Trend,
)
from trellis_common.runtime import ServiceDefinition, ServiceRuntime
from trellis_matchmaking.domain.periods import period_key
from trellis_matchmaking.service import DEFINITION as MATCHMAKING
from trellis_matchmaking.settings import MatchmakingSettings
from trellis_notifications.service import DEFINITION as NOTIFICATIONS
from trellis_skills.service import DEFINITION as SKILLS
from trellis_strategy.service import DEFINITION as STRATEGY

pytestmark = pytest.mark.postgres

MEMBERS = 100_000
BIG = 10_000  # a table this large must never be scanned for one event
NOW = datetime.now(UTC)
# The period the service places seats in now (its default cadence), so the seeded gaps and matches are this
# period's: what each event reads.
PERIOD = period_key(NOW, MatchmakingSettings.model_fields["seat_period"].default)
SKILLS_USED = ("digcomp:1.1", "digcomp:3.4", "digcomp:5.2")

COMMON = f"""
INSERT INTO inbox (consumer, event_id, event_type, processed_at)
  SELECT 'seed', 'seed-' || i, 'seed', now() FROM generate_series(1, {MEMBERS}) i;
INSERT INTO outbox (event_id, event_type, topic, key, headers, payload, created_at, sent_at)
  SELECT 'seed-' || i, 'seed', 'seed', 'm-' || i, '[]', NULL, now(), now() FROM generate_series(1, {MEMBERS}) i;
"""
SEEDS: dict[str, str] = {
    "skills": f"""
INSERT INTO member_names (member_id, cluster_id, name, changed_at)
  SELECT 'm-' || i, 'c-' || (i % 100), 'Member ' || i, now() FROM generate_series(1, {MEMBERS + 2}) i;
INSERT INTO cluster_members (cluster_id, member_id, country, region, member_type, answered_at, updated_at)
  SELECT 'c-' || (i % 100), 'm-' || i, 'AT', 'AT13', 'sme', now(), now() FROM generate_series(1, {MEMBERS}) i;
INSERT INTO member_skill_profiles (cluster_id, member_id, skill_code, current_level, required_level,
    headcount_having, headcount_needed, importance, severity, response_id, answered_at, updated_at)
  SELECT 'c-' || (i % 100), 'm-' || i, s, 1, 4, 1, 3, 3, 5.0, 'r-' || i, now() - interval '1 day', now()
  FROM generate_series(1, {MEMBERS}) i, unnest(ARRAY{list(SKILLS_USED)}) s;
INSERT INTO assessments (id, response_id, cluster_id, member_id, theme, member_context, gaps, assessed_at)
  SELECT 'a-' || i, 'r-' || i, 'c-' || (i % 100), 'm-' || i, 'digital', '{{}}', '[]', now()
  FROM generate_series(1, {MEMBERS}) i;
""",
    "matchmaking": f"""
INSERT INTO member_names (member_id, cluster_id, name, changed_at)
  SELECT 'm-' || i, 'c-' || (i % 100), 'Member ' || i, now() FROM generate_series(1, {MEMBERS + 2}) i;
INSERT INTO partners (id, name, partner_type, country, created_at)
  SELECT 'p-' || i, 'Partner ' || i, 'university', 'AT', now() FROM generate_series(1, 40) i;
INSERT INTO offers (id, partner_id, title, skill_codes, max_level, format, delivery, countries, languages, seats)
  SELECT 'o-' || i, 'p-' || (i % 40 + 1), 'Offer ' || i, json_build_array(s), 8, 'training', 'online', '[]', '[]', 100
  FROM generate_series(1, 200) i, LATERAL (SELECT (ARRAY{list(SKILLS_USED)})[i % 3 + 1] AS s) pick;
INSERT INTO offer_skills (offer_id, skill_code)
  SELECT id, skill_codes->>0 FROM offers;
INSERT INTO member_needs (member_id, cluster_id, assessment_id, period, member_context, assessed_at, updated_at)
  SELECT 'm-' || i, 'c-' || (i % 100), 'a-' || i, '{PERIOD}', '{{"country": "AT", "region": "AT13"}}',
         now() - interval '1 day', now()
  FROM generate_series(1, {MEMBERS}) i;
INSERT INTO member_gaps (member_id, skill_code, cluster_id, period, priority, gap, match_id, waiting_since)
  SELECT 'm-' || i, s, 'c-' || (i % 100), '{PERIOD}', (i % 40)::float,
         json_build_object('skill_code', s, 'skill_label', s, 'framework', 'digcomp', 'current_level', 1,
           'required_level', 4, 'level_gap', 3, 'headcount_having', 1, 'headcount_needed', 3, 'headcount_gap', 2,
           'importance', 3, 'priority', (i % 40)::float, 'priority_formula', '', 'trend', 'new'),
         CASE WHEN i % 10 = 0 THEN 'x-' || i || '-' || s END, now() - interval '1 day'
  FROM generate_series(1, {MEMBERS}) i, unnest(ARRAY{list(SKILLS_USED)}) s;
INSERT INTO matches (id, period, status, cluster_id, member_id, assessment_id, skill_code, priority, offer_id,
    partner_id, partner_name, partner_type, offer_title, format, delivery, score, explanation, created_at, updated_at)
  SELECT 'x-' || i || '-' || s, '{PERIOD}', 'proposed', 'c-' || (i % 100), 'm-' || i, 'a-' || i, s,
         (i % 40)::float, 'o-' || (3 * (i % 66) + array_position(ARRAY{list(SKILLS_USED)}, s)),
         'p-1', 'Partner', 'university', 'Offer', 'training', 'online', 0.5, '[]', now(), now()
  FROM generate_series(1, {MEMBERS}) i, unnest(ARRAY{list(SKILLS_USED)}) s WHERE i % 10 = 0;
INSERT INTO match_runs (id, assessment_id, cluster_id, member_id, options, pooled, matched_at, period, reason)
  SELECT 'run-' || i, 'a-' || i, 'c-' || (i % 100), 'm-' || i, '[]', '[]', now(), '{PERIOD}', 'assessment'
  FROM generate_series(1, {MEMBERS}) i;
""",
    "strategy": f"""
INSERT INTO match_runs (match_run_id, event_id, cluster_id, member_id, option_count, pooled_count, skill_codes,
    matched_at, received_at)
  SELECT 'run-' || i, 'e-' || i, 'c-' || (i % 100), 'm-' || i, 1, 0, '[]', now(), now()
  FROM generate_series(1, {MEMBERS}) i;
INSERT INTO gap_assessments (assessment_id, cluster_id, member_id, theme, skill_codes, assessed_at, received_at)
  SELECT 'a-' || i, 'c-' || (i % 100), 'm-' || i, 'digital', '[]', now(), now() FROM generate_series(1, {MEMBERS}) i;
INSERT INTO proposed_actions (cluster_id, strategy_id, kind, action_key, text, source_event_id, created_at, updated_at)
  SELECT 'c-' || (i % 100), 'overall-c-' || (i % 100), 'member_partner', 'member:m-' || i, 'Action ' || i,
         'e-' || i, now(), now()
  FROM generate_series(1, {MEMBERS}) i;
""",
    "notifications": f"""
INSERT INTO contacts (contact_id, member_id, cluster_id, name, email, language, role, updated_at)
  SELECT 'k-' || i, 'm-' || i, 'c-' || (i % 100), 'Person ' || i, 'p' || i || '@members.example', 'en',
         'member_contact', now()
  FROM generate_series(1, {MEMBERS}) i;
INSERT INTO deliveries (id, cause_event_id, contact_id, member_id, cluster_id, template, to_address, status,
    attempts, created_at, sent_at)
  SELECT 'd-' || i, 'e-' || i, 'k-' || i, 'm-' || i, 'c-' || (i % 100), 'matches', 'p' || i || '@members.example',
         'sent', 1, now(), now()
  FROM generate_series(1, {MEMBERS}) i;
INSERT INTO contact_preferences (contact_id, updated_at)
  SELECT 'k-' || i, now() FROM generate_series(1, {MEMBERS}, 7) i;
INSERT INTO suppressions (address_hash, reason, created_at)
  SELECT md5('s' || i) || md5('t' || i), 'bounced', now() FROM generate_series(1, {MEMBERS}, 9) i;
""",
}


def _gap(skill_code: str) -> SkillGap:
    return SkillGap(
        skill_code=skill_code,
        skill_label=skill_code,
        framework="digcomp",
        current_level=1,
        required_level=5,
        level_gap=4,
        headcount_having=1,
        headcount_needed=4,
        headcount_gap=3,
        importance=4,
        priority=22.0,
        priority_formula="",
        trend=Trend.NEW,
    )


def _matched(member: int) -> PartnersMatched:
    option = MatchOption(
        rank=1,
        skill_code="digcomp:5.2",
        partner_id="p-1",
        partner_name="Partner 1",
        partner_type="university",
        offer_id="o-1",
        offer_title="Offer 1",
        format="training",
        delivery="online",
        score=0.7,
        explanation=[],
        match_id=f"x-{member}",
    )
    return PartnersMatched(
        match_run_id=f"new-run-{member}",
        assessment_id=f"a-{member}",
        cluster_id=f"c-{member % 100}",
        member_id=f"m-{member}",
        options=[option],
        matched_at=NOW,
        period=PERIOD,
        reason="assessment",
    )


def _events(service: str) -> list[EventData]:
    members = (7, 1_234, 50_001, MEMBERS + 1, MEMBERS + 2)  # on file, and new
    if service == "skills":
        return [completed_response(cluster_id=f"c-{m % 100}", member_id=f"m-{m}") for m in members]
    if service == "matchmaking":
        return [
            GapsAssessed(
                assessment_id=f"new-a-{m}",
                response_id=f"new-r-{m}",
                cluster_id=f"c-{m % 100}",
                member_id=f"m-{m}",
                theme=SurveyTheme.DIGITAL,
                member_context=MemberContext(country="AT", region="AT13"),
                gaps=[_gap(s) for s in SKILLS_USED[:2]],
                assessed_at=NOW,
            )
            for m in members
        ]
    if service == "strategy":
        return [_matched(m) for m in members]
    changed = MemberChanged(
        cluster_id="c-7",
        member_id="m-7",
        name="Member 7",
        context=MemberContext(country="AT"),
        contacts=[Contact(contact_id="k-7", name="Person 7", email="p7@members.example")],
        changed_at=NOW,
    )
    return [changed, *(_matched(m) for m in members)]


SERVICES: dict[str, ServiceDefinition] = {
    "skills": SKILLS,
    "matchmaking": MATCHMAKING,
    "strategy": STRATEGY,
    "notifications": NOTIFICATIONS,
}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_an_event_costs_index_lookups_with_100000_members(service: str, new_database: NewDatabase) -> None:
    broker = InMemoryBroker()
    runtime = runtime_for(
        SERVICES[service], database_url=await new_database(service), bus=InMemoryBus(broker), workers=False
    )
    await runtime.start()
    try:
        await _run_sql(runtime, COMMON + SEEDS[service])
        await _analyze(runtime)
        big = await _big_tables(runtime)
        assert {"inbox", "outbox"} <= big, big
        recorded = await _record_while_consuming(runtime, broker, _events(service))
        assert len(recorded) >= 5, recorded
        report, scans = await _plans(runtime, recorded, big)
        print(f"\n{service}: {len(recorded)} statements for {len(_events(service))} events\n" + "\n".join(report))
        assert not scans, f"{service} scans a table of {BIG}+ rows for one event:\n" + "\n\n".join(scans)
    finally:
        await runtime.stop()


async def _run_sql(runtime: ServiceRuntime, script: str) -> None:
    """Statements separated by ``;`` and a line break, in one transaction."""
    async with runtime.db.engine.begin() as conn:
        for statement in script.split(";\n"):
            if statement.strip():
                await conn.exec_driver_sql(statement)


async def _analyze(runtime: ServiceRuntime) -> None:
    async with runtime.db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE")


async def _big_tables(runtime: ServiceRuntime) -> set[str]:
    async with runtime.db.engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
            f"AND reltuples >= {BIG}"
        )
        return {row[0] for row in rows}


Recorded = list[tuple[str, tuple[Any, ...]]]


async def _record_while_consuming(runtime: ServiceRuntime, broker: InMemoryBroker, events: list[EventData]) -> Recorded:
    recorded: Recorded = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        # executemany: a list of rows, the first one stands for all; an insert of many rows in one statement
        # ("insertmanyvalues") arrives flagged as many too, with its values already flat.
        params = parameters[0] if many and parameters and isinstance(parameters[0], tuple | list) else parameters
        recorded.append((statement, tuple(params or ())))

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        ids = []
        messages = []
        for data in events:
            spec = spec_for_model(type(data))
            key = str(getattr(data, spec.key_field))
            envelope = CloudEvent(
                id=str(uuid.uuid4()), source="/tests", type=spec.type, subject=key, data=data.model_dump(mode="json")
            )
            headers, value = to_binary(envelope)
            messages.append(OutgoingMessage(spec.topic(), key, value, headers))
            ids.append(envelope.id)
        await broker.append(messages)

        async def applied() -> bool:  # by primary key, so this probe is no scan either
            consumer = runtime.settings.consumer_group
            where = (inbox.c.consumer == consumer, inbox.c.event_id.in_(ids))
            async with runtime.db.sessions() as session:
                count = await session.scalar(select(func.count()).select_from(inbox).where(*where))
            return count == len(ids)

        await eventually(applied, timeout=60, what="the events to be applied")
        await runtime.relay.drain()
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", record)
    return [(s, p) for s, p in recorded if _explainable(s)]


def _explainable(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)[0].upper()
    return head in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} and "pg_notify" not in statement


async def _plans(runtime: ServiceRuntime, recorded: Recorded, big: set[str]) -> tuple[list[str], list[str]]:
    report: list[str] = []
    scans: list[str] = []
    seen: set[str] = set()
    async with runtime.db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for statement, params in recorded:
            if statement in seen:
                continue
            seen.add(statement)
            found = await raw.fetchval("EXPLAIN (FORMAT JSON) " + statement, *params)
            plan = json.loads(found) if isinstance(found, str) else found  # the pool's connections decode JSON
            nodes = list(_nodes(plan[0]["Plan"]))
            shown = ", ".join(
                f"{n['Node Type']}" + (f" on {n['Relation Name']}" if "Relation Name" in n else "") for n in nodes
            )
            report.append(f"  {_short(statement)}\n    → {shown}")
            for node in nodes:
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in big:
                    scans.append(f"{statement}\n→ {shown}")
    return report, scans


def _nodes(node: dict[str, Any]) -> Any:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _short(statement: str, width: int = 110) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 1] + "…"


NEW_PERIOD_MATCHES = 20_000  # proposals of the current period the statistics have not seen yet
FILTERED_AT_MOST = 2_000  # rows a read of `matches` may fetch and throw away for one batch


async def test_a_new_period_reads_only_the_members_and_offers_seats_before_its_statistics(
    new_database: NewDatabase,
) -> None:
    """At the start of a period the statistics know none of its matches, and autoanalyze waits for a tenth of the
    table to change: on a large table, for days. The matches of a batch's members must still be read from their
    index, not by walking every match of the period and filtering (the offers' seats are counted in
    ``offer_seats``, not read from the matches at all)."""
    broker = InMemoryBroker()
    runtime = runtime_for(
        MATCHMAKING, database_url=await new_database("matchmaking"), bus=InMemoryBus(broker), workers=False
    )
    await runtime.start()
    try:
        # The seeded matches belong to a past period, and the statistics know them.
        await _run_sql(runtime, COMMON + SEEDS["matchmaking"] + ";\nUPDATE matches SET period = 'earlier'")
        await _analyze(runtime)
        await _run_sql(  # the new period fills up; no ANALYZE has seen it
            runtime,
            f"""
INSERT INTO matches (id, period, status, cluster_id, member_id, assessment_id, skill_code, priority, offer_id,
    partner_id, partner_name, partner_type, offer_title, format, delivery, score, explanation, created_at, updated_at)
  SELECT 'now-' || i, '{PERIOD}', 'proposed', 'c-' || (i % 100), 'w-' || i, 'wa-' || i, 'digcomp:1.1', 5.0,
         'o-' || (i % 200 + 1), 'p-1', 'Partner', 'university', 'Offer', 'training', 'online', 0.5, '[]', now(), now()
  FROM generate_series(1, {NEW_PERIOD_MATCHES}) i""",
        )
        recorded = await _record_while_consuming(runtime, broker, _events("matchmaking"))
        reads = [(s, p) for s, p in recorded if s.lstrip().upper().startswith("SELECT") and "FROM matches" in s]
        assert len(reads) >= 2, recorded  # the members' seats and their proposals of other periods at least
        wasteful = []
        async with runtime.db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            seen: set[str] = set()
            for statement, params in reads:
                if statement in seen:
                    continue
                seen.add(statement)
                found = await raw.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, *params)
                plan = json.loads(found) if isinstance(found, str) else found
                nodes = [n for n in _nodes(plan[0]["Plan"]) if n.get("Relation Name") == "matches"]
                thrown = sum(int(n.get("Rows Removed by Filter", 0)) for n in nodes)
                shown = ", ".join(
                    f"{n['Node Type']} using {n.get('Index Name', '-')}: {thrown} filtered" for n in nodes
                )
                print(f"  {_short(statement)}\n    → {shown}")
                if thrown > FILTERED_AT_MOST:
                    wasteful.append(f"{statement}\n→ {shown}")
        assert not wasteful, "reads every match of the new period for one batch:\n" + "\n\n".join(wasteful)
    finally:
        await runtime.stop()
