"""SQL lives in repositories: no module outside ``repository.py``, a ``repositories/`` package, the table
definitions (``models.py``) and the migrations builds a statement or runs one. Routes, handlers, workers and
domain code call a repository function instead, so every query of a service is in one place to read, index and
scope-filter. The checker is shown to catch each kind of breach on a probe."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "libs" / "common" / "src", *sorted((ROOT / "services").glob("*/src"))]

# The database layer itself: engine, sessions, column types and the migration runner, not queries.
INFRASTRUCTURE = {"trellis_common/db.py", "trellis_common/migrations.py"}

# What builds SQL when imported from SQLAlchemy; a type (AsyncSession, Row) or an error class does not.
STATEMENT_BUILDERS = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "func",
    "and_",
    "or_",
    "not_",
    "case",
    "cast",
    "literal",
    "literal_column",
    "column",
    "table",
    "union",
    "union_all",
    "tuple_",
    "bindparam",
    "true",
    "false",
    "null",
    "exists",
    "distinct",
    "over",
}
# Methods that run a statement on a session or connection.
EXECUTING = {"execute", "scalar", "scalars", "stream", "stream_scalars", "exec_driver_sql"}


def allowed(relative: Path) -> bool:
    parts = relative.parts
    return (
        relative.name in {"repository.py", "models.py"}
        or "repositories" in parts
        or "migrations" in parts
        or relative.as_posix() in INFRASTRUCTURE
    )


def breaches(source: str) -> Iterator[str]:
    """Each SQL construct ``source`` imports or each statement it runs, as ``line: what``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in STATEMENT_BUILDERS or (alias.name == "insert" and "dialects" in node.module):
                    yield f"{node.lineno}: imports {node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sqlalchemy":
                    yield f"{node.lineno}: imports sqlalchemy"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTING:
            receiver = ast.unparse(node.func.value).lower()
            if any(word in receiver for word in ("session", "connection", "conn", "engine")):
                yield f"{node.lineno}: runs {ast.unparse(node.func)}(...)"


def sql_outside_repositories() -> list[str]:
    found = []
    for source_root in SOURCES:
        for path in sorted(source_root.rglob("*.py")):
            relative = path.relative_to(source_root)
            if allowed(relative):
                continue
            found += [f"{path.relative_to(ROOT)}:{breach}" for breach in breaches(path.read_text("utf-8"))]
    return found


def test_no_sql_outside_repositories() -> None:
    found = sql_outside_repositories()
    assert not found, "SQL outside a repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ("from sqlalchemy import select\n", "imports sqlalchemy.select"),
        ("from sqlalchemy.dialects.postgresql import insert\n", "imports sqlalchemy.dialects.postgresql.insert"),
        ("import sqlalchemy\n", "imports sqlalchemy"),
        ("async def f(uow):\n    await uow.session.execute(table.delete())\n", "runs uow.session.execute"),
        ("async def f(connection):\n    await connection.exec_driver_sql('VACUUM')\n", "runs connection.exec_driver"),
    ],
)
def test_the_checker_sees_each_kind_of_breach(probe: str, expected: str) -> None:
    assert any(expected in breach for breach in breaches(probe)), list(breaches(probe))


def test_types_and_repository_calls_are_not_breaches() -> None:
    clean = (
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from sqlalchemy.exc import IntegrityError\n"
        "async def f(session: AsyncSession):\n    await repository.execute_plan(session)\n"
    )
    assert list(breaches(clean)) == []
    assert allowed(Path("trellis_skills/repository.py")) and allowed(Path("trellis_strategy/repositories/kpis.py"))
    assert not allowed(Path("trellis_notifications/handlers.py"))
