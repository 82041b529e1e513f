"""Alembic environment of the matchmaking service."""

from trellis_common.migrations import run_env
from trellis_matchmaking.models import metadata

run_env(metadata)
