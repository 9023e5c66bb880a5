"""The room plan of docs/architecture.md, checked: the walls between libs and services, and between services,
and the same rooms in every service. A newcomer who knows one service knows them all."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "service.py").exists())
ROOMS = ("service", "domain", "handlers", "api", "store", "workers", "events")
MAX_FUNCTION_LINES = 60


def modules(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_libs_never_import_services():
    offending = [
        f"{p.relative_to(ROOT)}:{line} {name}"
        for p in modules("libs")
        for line, name in imported(p)
        if name.split(".")[0] == "services"
    ]
    assert offending == []


def test_no_service_imports_another():
    offending = []
    for p in modules("services"):
        parts = p.relative_to(ROOT / "services").parts
        if len(parts) < 2:  # services/__init__.py, the registry, may name them all
            continue
        own = parts[0]
        for line, name in imported(p):
            segs = name.split(".")
            if segs[0] == "services" and len(segs) > 1 and segs[1] != own:
                offending.append(f"{p.relative_to(ROOT)}:{line} {name}")
    assert offending == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service):
    here = ROOT / "services" / service
    missing = [r for r in ROOMS if not (here / f"{r}.py").exists() and not (here / r / "__init__.py").exists()]
    assert missing == [], f"services/{service} lacks {missing} (docs/architecture.md, 'The skeleton')"
    assert (here / "migrations").is_dir() or service == "intake"  # intake keeps no tables


def test_no_function_is_longer_than_a_screen():
    long = []
    for p in modules("libs") + modules("services"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []


# Libraries that serve one route of one service: imported by that route when it is first asked, not at start, so
# every process of the service does not hold them (issue 17: the stack's memory). The console's page libraries
# are its own; no other service's process loads them.
ONE_ROUTE = {"icalendar"}
CONSOLE_ONLY = {"jinja2", "aiohttp_jinja2", "aiohttp_sse", "cryptography"}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_process_starts_without_libraries_one_route_uses(service):
    probe = (
        "import sys; from services.registry import REGISTRY; import libs.runtime;"
        f" REGISTRY.spec({service!r}); print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())  # fmt: skip
    unwanted = ONE_ROUTE | (CONSOLE_ONLY if service != "console" else set())
    assert loaded & unwanted == set()
