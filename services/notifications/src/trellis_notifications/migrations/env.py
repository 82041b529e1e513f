"""Alembic environment of the notifications service."""

from trellis_common.migrations import run_env
from trellis_notifications.models import metadata

run_env(metadata)
