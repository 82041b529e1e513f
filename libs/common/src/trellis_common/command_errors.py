"""How a command line command fails: one line naming what could not be done and why, never a traceback."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError

T = TypeVar("T")


def run_or_exit(work: Coroutine[Any, Any, T], what: str) -> T:
    """Run a command's work; when Kafka or the database cannot be reached, or the work refuses its input, say so
    in one line (``<what>: <why>``) and exit with status 1, never a traceback."""
    # The Kafka client logs each failed attempt on its own; the line below says what it came to.
    kafka_log = logging.getLogger("aiokafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work)
    except KafkaConnectionError as exc:
        reason = f"cannot reach Kafka ({exc}); is TRELLIS_KAFKA_BOOTSTRAP_SERVERS (or --bootstrap) right?"
    except KafkaError as exc:
        reason = f"Kafka refused: {exc}"
    except (OSError, ValueError) as exc:  # refused connections, unknown hosts; the work's own refusals
        reason = str(exc) or type(exc).__name__
    except Exception as exc:
        if (database := _database_trouble(exc)) is None:
            raise
        reason = database
    finally:
        kafka_log.setLevel(level)
    typer.echo(f"{what}: {reason}", err=True)
    raise typer.Exit(1)


def _database_trouble(exc: Exception) -> str | None:
    # A database error comes from SQLAlchemy, which its raiser imported; Kafka-only commands never load it, so
    # they start faster.
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is None or not isinstance(exc, sqlalchemy_errors.DBAPIError):
        return None
    return f"database: {str(exc.orig or exc).strip().splitlines()[0]}; is TRELLIS_DATABASE_URL right?"
