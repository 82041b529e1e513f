"""The architecture contracts in pyproject.toml (``lint-imports``) hold on the tree, and each one does fail on the
import it forbids: a probe module with a deliberately wrong import, in a copy of the packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
SERVICES = sorted(path for path in (ROOT / "services").glob("*/src/trellis_*") if path.is_dir())
PACKAGES = [ROOT / "src" / "trellis", ROOT / "libs" / "common" / "src" / "trellis_common", *SERVICES]


def lint_imports(*args: str, pythonpath: Path | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)  # ahead of the installed packages: the copies are the ones analysed
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-logo", "--no-cache", str(CONFIG), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_tree_keeps_every_contract() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("contract", "probe", "wrong_import"),
    [
        ("services-independent", "trellis_skills/probe_wrong.py", "import trellis_matchmaking.repositories"),
        ("common-imports-no-service", "trellis_common/probe_wrong.py", "from trellis_surveys import service"),
        # Through another module: the common database layer brings SQLAlchemy with it.
        ("domain-is-pure", "trellis_strategy/domain/probe_wrong.py", "from trellis_common import db"),
        ("routes-and-handlers-hold-no-sql", "trellis_notifications/api/probe_wrong.py", "import sqlalchemy"),
    ],
)
def test_each_contract_fails_on_the_import_it_forbids(
    tmp_path: Path, contract: str, probe: str, wrong_import: str
) -> None:
    copies = tmp_path / "src"
    for package in PACKAGES:
        shutil.copytree(package, copies / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    assert lint_imports("--contract", contract, pythonpath=copies, cwd=tmp_path).returncode == 0, "kept before"

    (copies / probe).write_text(f'"""A deliberately wrong import."""\n\n{wrong_import}\n')
    done = lint_imports("--contract", contract, pythonpath=copies, cwd=tmp_path)
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout and probe.removesuffix(".py").replace("/", ".") in done.stdout, done.stdout


def test_an_annotation_is_not_a_dependency(tmp_path: Path) -> None:
    """A route may name ``AsyncSession`` in an annotation (imported under ``TYPE_CHECKING``): not a breach."""
    copies = tmp_path / "src"
    for package in PACKAGES:
        shutil.copytree(package, copies / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    probe = copies / "trellis_notifications" / "api" / "probe_annotation.py"
    probe.write_text(
        '"""Only an annotation."""\n\nfrom typing import TYPE_CHECKING\n\n'
        "if TYPE_CHECKING:\n    from sqlalchemy.ext.asyncio import AsyncSession\n"
    )
    done = lint_imports("--contract", "routes-and-handlers-hold-no-sql", pythonpath=copies, cwd=tmp_path)
    assert done.returncode == 0, done.stdout


def test_every_route_module_is_under_the_contract() -> None:
    """Routes live in the service's ``api`` (a module, or a package split by resource), so the contract above sees
    every one of them; a router declared anywhere else would escape it."""
    stray = [
        str(path.relative_to(ROOT))
        for service in SERVICES
        if service.name != "trellis_console"  # the console keeps no database at all
        for path in service.rglob("*.py")
        if ("@router." in path.read_text("utf-8") or "APIRouter(" in path.read_text("utf-8"))
        and path.relative_to(service).parts[0] not in ("api", "api.py")
    ]
    assert stray == []
