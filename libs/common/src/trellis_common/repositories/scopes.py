"""The scope filter: the WHERE condition that keeps a query to the clusters a caller may touch.

Services' repositories apply it through ``Scope.clause`` (``trellis_common.auth``), so every query filters the
same way and an object outside the scope is simply not found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, false, true

if TYPE_CHECKING:
    from trellis_common.auth import Scope


def in_scope(scope: Scope, column: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows whose ``column`` (a cluster id) is one of the scope's clusters: all of them for a platform-wide
    scope, none for a scope without clusters."""
    if scope.clusters is None:
        return true()
    if not scope.clusters:
        return false()
    return column.in_(sorted(scope.clusters))
