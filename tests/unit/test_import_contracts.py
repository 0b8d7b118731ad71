"""The import-linter contracts in pyproject.toml hold for the code, and really catch a break: a copy of the package
with upward imports added (in a temporary directory, never in cronmanager/) fails every contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = ("Layers:", "Only the top imports the app factory", "execution/outcome.py", "Leaf services",
             "No import cycles")

# module path in the copy -> source that breaks one contract each
VIOLATIONS = {
    "execution/upward.py": "from cronmanager.web import blueprint\n",  # the engine imports the dashboard
    "lib/factory.py": "from cronmanager import create_app\n",  # below the top, the app factory
    "users/peer.py": "from cronmanager.logs import queries\n",  # a leaf service imports another
    "jobs/cycle_a.py": "from cronmanager.jobs import cycle_b\n",  # a cycle inside a package
    "jobs/cycle_b.py": "from cronmanager.jobs import cycle_a\n",
}


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_code_keeps_every_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path: Path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "cronmanager", tmp_path / "cronmanager", ignore=shutil.ignore_patterns(
        "__pycache__", "static", "templates"))
    for name, source in VIOLATIONS.items():
        (tmp_path / "cronmanager" / name).write_text(source)
    outcome = tmp_path / "cronmanager/execution/outcome.py"
    outcome.write_text(outcome.read_text() + "\nfrom cronmanager.lib import dates  # noqa: E402\n")

    result = _lint(tmp_path)
    assert result.returncode != 0
    out = " ".join(result.stdout.split())  # contract names may wrap
    assert f"Contracts: 0 kept, {len(CONTRACTS)} broken." in out, result.stdout
    assert "cronmanager.execution.upward -> cronmanager.web.blueprint" in out
    assert "cronmanager.lib.factory -> cronmanager" in out
    assert "cronmanager.execution.outcome -> cronmanager.lib.dates" in out
    assert "cronmanager.users.peer -> cronmanager.logs.queries" in out
