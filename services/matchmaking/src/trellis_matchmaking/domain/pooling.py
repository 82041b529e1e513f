"""Pooled opportunities: members of one cluster who share a gap, placed in the same group offer.

The guide (digital Action 3) asks cluster managers to pool the demand of many members when approaching a
partner: one group training or masterclass for several members ("economies of scale"). Matching favours a
shared group offer (the ``pooling`` factor); a pool is then what the seats show: at least ``min_members``
members of a cluster holding seats in the same group offer for the same skill.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SeatHolder:
    member_id: str
    cluster_id: str
    skill_code: str
    offer_id: str
    group_format: bool


@dataclass(frozen=True)
class Pool:
    pool_id: str
    cluster_id: str
    skill_code: str
    offer_id: str
    member_ids: tuple[str, ...]

    @property
    def seats(self) -> int:
        return len(self.member_ids)  # one seat per member organisation


def pool_id(period: str, cluster_id: str, skill_code: str, offer_id: str) -> str:
    """Stable for the same need, offer and period, so a growing pool keeps its id."""
    return hashlib.sha256(f"{period}|{cluster_id}|{skill_code}|{offer_id}".encode()).hexdigest()[:24]


def find_pools(holders: Iterable[SeatHolder], *, period: str, min_members: int) -> list[Pool]:
    members: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for holder in holders:
        if holder.group_format:
            members[(holder.cluster_id, holder.skill_code, holder.offer_id)].add(holder.member_id)
    return [
        Pool(pool_id(period, cluster, skill, offer), cluster, skill, offer, tuple(sorted(ids)))
        for (cluster, skill, offer), ids in sorted(members.items())
        if len(ids) >= max(2, min_members)
    ]
