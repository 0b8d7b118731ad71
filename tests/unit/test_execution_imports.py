"""The execution package stays below the features that react to it: alerts, metrics, the API and the pages."""

from __future__ import annotations

import ast
from pathlib import Path

import cronmanager.execution

FORBIDDEN = ("cronmanager.alerts", "cronmanager.monitoring", "cronmanager.api", "cronmanager.web")
PACKAGE = Path(cronmanager.execution.__file__).parent


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_no_execution_module_imports_alerts_monitoring_api_or_web():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 8  # the walk really sees the package
    bad = [f"{path.name}:{line} imports {name}" for path in modules for line, name in _imports(path)
           if name.startswith(FORBIDDEN)]
    assert bad == []


def test_outcome_imports_nothing_of_the_app():
    names = [name for _, name in _imports(PACKAGE / "outcome.py")]
    assert names and not [n for n in names if n.startswith("cronmanager")]
