"""The console's local sign-in (``trellis up``) is for one machine: refused in production."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from trellis_common import auth_local
from trellis_console.__main__ import local_admin
from trellis_console.settings import ConsoleSettings


def test_the_local_issuer_signs_in_this_machines_admin_and_never_in_prod(tmp_path: Path) -> None:
    keys = tmp_path / "auth"
    auth_local.write(auth_local.generate(), keys)
    settings = ConsoleSettings(environment="test", session_secret="s" * 40, local_issuer_keys=str(keys))
    signing_in = local_admin(settings)
    assert signing_in is not None
    [admin] = signing_in.people()
    assert (admin.role, admin.cluster_id) == ("admin", None)
    payload = signing_in.mint(admin).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["roles"] == ["platform-admin"] and claims["iss"] == auth_local.LOCAL_ISSUER
    assert local_admin(ConsoleSettings()) is None, "no keys: no local sign-in"
    with pytest.raises(ValidationError, match="TRELLIS_CONSOLE_LOCAL_ISSUER_KEYS"):
        ConsoleSettings(environment="prod", session_secret="s" * 40, local_issuer_keys=str(keys))
