"""Alembic environment of the surveys service."""

from trellis_common.migrations import run_env
from trellis_surveys.models import metadata

run_env(metadata)
