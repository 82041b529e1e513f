"""``column IN (values)`` that PostgreSQL sees as one statement, however many values there are.

SQLAlchemy writes ``IN`` with one placeholder per value, so a list of 3 ids and one of 4 are two statements to
prepare: with batches of every size, about a third of matchmaking's statements were prepared anew (a round trip
and a parse each) and the per-connection cache of prepared statements churned. On PostgreSQL ``in_list`` sends
the values as one array (``column = ANY($1)``); SQLite, which has no arrays, gets the usual ``IN``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class _InList(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a condition already: SQLite must not get "IN (…) = 1", which no index serves
    # Both forms take part in the statement's cache key, so each keeps its own parameter, and a cached statement
    # reads the values of the call that runs it.
    _traverse_internals = [
        ("on_postgresql", InternalTraversal.dp_clauseelement),
        ("elsewhere", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: list[Any]) -> None:
        self.on_postgresql = column == any_(bindparam(None, values, type_=ARRAY(column.type)))
        self.elsewhere = column.in_(values)

    @property
    def _from_objects(self) -> list[Any]:
        return self.elsewhere._from_objects


@compiles(_InList)
def _in(element: _InList, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.elsewhere, **kw)


@compiles(_InList, "postgresql")
def _any(element: _InList, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.on_postgresql, **kw)


def in_list(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; for a column of scalars (ids, codes), not tuples."""
    return _InList(column, list(values))
