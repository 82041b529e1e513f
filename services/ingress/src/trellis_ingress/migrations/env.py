"""Alembic environment of the ingress service."""

from trellis_common.migrations import run_env
from trellis_ingress.models import metadata

run_env(metadata)
