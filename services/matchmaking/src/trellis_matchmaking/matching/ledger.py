"""What a matching round knows about the members it touches, read once and kept up to date as it writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trellis_common.auth import Scope
from trellis_matchmaking.domain.outcomes import CONFIRMED, MatchStatus
from trellis_matchmaking.domain.partners import MemberNeed
from trellis_matchmaking.repositories import gaps, seats

EVERYTHING = Scope.everything("matchmaking")  # the service's own work spans every cluster
Key = tuple[str, str]  # (member id, skill code): one gap


@dataclass
class Ledger:
    """Per member: its latest assessment, its gaps (as the domain sees them) and its seats in the period.

    Seats are kept as plain mappings (match rows read, or rows the round wrote), one per skill.
    """

    session: AsyncSession
    period: str
    assessments: dict[str, Any] = field(default_factory=dict)  # member -> member_needs row
    gaps: dict[str, list[Any]] = field(default_factory=dict)  # member -> member_gaps rows, most severe first
    needs: dict[str, list[MemberNeed]] = field(default_factory=dict)
    seats: dict[str, dict[str, Mapping[str, Any]]] = field(default_factory=dict)  # member -> skill -> match
    # Read once per round, for the round's solves: neither changes while the round runs.
    _declined: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)  # member -> (m, skill, offer)
    _sharing: dict[Key, int | None] = field(default_factory=dict)  # (cluster, skill) -> members with the gap

    async def load(self, members: Iterable[str]) -> None:
        """Read the members not read yet (three queries for all of them)."""
        missing = sorted(set(members) - self.seats.keys())
        if not missing:
            return
        self.assessments.update(await gaps.need_rows(self.session, EVERYTHING, missing))
        for member_id in missing:
            self.gaps[member_id], self.seats[member_id] = [], {}
        for row in await gaps.gap_rows(self.session, missing):
            self.gaps[row.member_id].append(row)
        for row in await seats.member_seats(self.session, self.period, missing):
            self.seats[row.member_id][row.skill_code] = dict(row._mapping)
        for member_id in missing:
            need = self.assessments.get(member_id)
            self.needs[member_id] = gaps.to_needs(need, self.gaps[member_id]) if need is not None else []

    async def declined(self, members: Iterable[str]) -> set[tuple[str, str, str]]:
        """(member, skill, offer) proposals the members turned down in the period."""
        wanted = set(members)
        missing = sorted(wanted - self._declined.keys())
        if missing:
            for member_id in missing:
                self._declined[member_id] = set()
            for turned_down in await seats.declined(self.session, self.period, missing):
                self._declined[turned_down[0]].add(turned_down)
        return {turned_down for member_id in wanted for turned_down in self._declined[member_id]}

    async def sharing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Members per (cluster, skill) with that gap in the period (for pooling)."""
        wanted = set(keys)
        missing = wanted - self._sharing.keys()
        if missing:
            counted = await gaps.sharing(self.session, self.period, missing)
            self._sharing.update({key: counted.get(key) for key in missing})
        return {key: n for key in wanted if (n := self._sharing[key]) is not None}

    def open_needs(self, member_id: str) -> list[MemberNeed]:
        """The member's gaps that no accepted (or completed) seat serves."""
        seats = self.seats.get(member_id, {})
        return [n for n in self.needs.get(member_id, []) if not _confirmed(seats.get(n.gap.skill_code))]

    def proposals(self, member_id: str) -> dict[str, Mapping[str, Any]]:
        return {s: m for s, m in self.seats.get(member_id, {}).items() if m["status"] == MatchStatus.PROPOSED.value}

    def confirmed(self, member_id: str) -> dict[str, Mapping[str, Any]]:
        return {s: m for s, m in self.seats.get(member_id, {}).items() if _confirmed(m)}

    def seated(self, key: Key) -> bool:
        return key[1] in self.seats.get(key[0], {})

    def add(self, match: Mapping[str, Any]) -> None:
        self.seats.setdefault(match["member_id"], {})[match["skill_code"]] = match

    def drop(self, match: Mapping[str, Any]) -> None:
        seats = self.seats.get(match["member_id"], {})
        if seats.get(match["skill_code"], {}).get("id") == match["id"]:
            del seats[match["skill_code"]]


def _confirmed(match: Mapping[str, Any] | None) -> bool:
    return match is not None and MatchStatus(match["status"]) in CONFIRMED
