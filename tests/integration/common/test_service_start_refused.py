"""A service started outside dev with a default or missing secret refuses to start, and says which variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CASES = [
    ("surveys", {}, "TRELLIS_SURVEY_LINK_SECRET"),
    ("notifications", {}, "TRELLIS_UNSUBSCRIBE_SECRET"),
    ("matchmaking", {}, "TRELLIS_REPLY_LINK_SECRET"),
    ("surveys", {"TRELLIS_SURVEY_LINK_SECRET": "dev-only-survey-link-secret"}, "TRELLIS_SURVEY_LINK_SECRET"),
    ("ingress", {"TRELLIS_AUTH_ISSUER": ""}, "TRELLIS_AUTH_ISSUER"),
]


@pytest.mark.parametrize(("service", "extra", "variable"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_serve_exits_with_a_message_naming_the_variable(service: str, extra: dict[str, str], variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update({"TRELLIS_ENVIRONMENT": "prod", **extra})
    done = subprocess.run(
        [sys.executable, "-m", f"trellis_{service}", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert variable.removeprefix("TRELLIS_").lower() in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr, "a clear message, not a stack trace"
