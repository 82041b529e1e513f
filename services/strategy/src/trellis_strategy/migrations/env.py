"""Alembic environment of the strategy service."""

from trellis_common.migrations import run_env
from trellis_strategy.models import metadata

run_env(metadata)
