"""Alembic environment of the skills service."""

from trellis_common.migrations import run_env
from trellis_skills.models import metadata

run_env(metadata)
