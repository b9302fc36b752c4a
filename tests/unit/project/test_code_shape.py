"""The shape rules of README §Architecture, checked on the tree itself so that they stay true: SQL only in
repositories, small modules and functions (or a comment saying why not), and tests a reader finds by service.

Each checker is a plain function over source text, tried first on a small example that breaks its rule, so a
checker that stopped seeing anything would fail here rather than pass in silence."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from tests.paths import ROOT

SOURCE_ROOTS = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src")), ROOT / "deploy" / "local" / "src"]
TESTS = ROOT / "tests"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50
LONG_MARK = "# Long:"
SERVICES = ["api", "scheduler", "preparer", "transmitter", "delivery_receipts"]

# A string that is a statement: an SQL keyword (upper case, as the house writes SQL) at its start.
_SQL = re.compile(
    r"^\s*(SELECT\s|INSERT\s+INTO\s|CREATE\s+(TEMP\s+)?TABLE\s|UPDATE\s+\w+\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\b|LISTEN\s|COPY\s)"
)


def _sources() -> list[Path]:
    return sorted(p for root in SOURCE_ROOTS for p in root.rglob("*.py"))


def _tests() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def may_hold_sql(relative: str) -> bool:
    """Repositories, the database package and the heartbeat store: the modules that talk SQL."""
    name = relative.rsplit("/", 1)[-1]
    return (
        name in {"repository.py", "heartbeats.py"}
        or name.endswith("_repository.py")
        or "/repository/" in relative
        or "/shared/db/" in f"/{relative}"
    )


def sql_strings(source: str) -> list[int]:
    """The lines where a string literal starts with an SQL statement (f-strings included)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value):
            lines.append(node.lineno)
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and _SQL.match(first.value):
                lines.append(node.lineno)
    return sorted(set(lines))


def long_functions(source: str) -> list[tuple[str, int]]:
    """Functions over MAX_FUNCTION_LINES lines without a `# Long:` comment right above them (or their decorators)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = lines[first - 2].strip() if first >= 2 else ""
            if length > MAX_FUNCTION_LINES and not above.startswith(LONG_MARK):
                found.append((node.name, length))
    return found


def fixture_bodies(source: str) -> dict[str, str]:
    """Each pytest fixture defined in `source`, by name, with its body's source."""
    bodies = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [ast.unparse(d) for d in node.decorator_list]
            if any(n.startswith(("pytest.fixture", "fixture")) for n in names):
                bodies[node.name] = ast.unparse(node)
    return bodies


def test_the_checkers_see_what_they_look_for() -> None:
    assert sql_strings('q = "SELECT id FROM t"\nw = f"UPDATE t SET a = {x}"\n"""Select what to send."""\n') == [1, 2]
    body = "\n".join(f"    x = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions(f"{LONG_MARK} one loop, split it and it is slower\ndef f():\n{body}\n") == []
    assert long_functions(f"# Long: why\n@decorated\nasync def f():\n{body}\n") == []
    assert list(fixture_bodies("import pytest\n@pytest.fixture\ndef db():\n    return 1\ndef other(): pass\n")) == [
        "db"
    ]
    assert may_hold_sql("services/api/src/api/repository/messages.py")
    assert may_hold_sql("services/transmitter/src/transmitter/providers/sandbox_repository.py")
    assert not may_hold_sql("services/api/src/api/routes/health.py")


def test_sql_lives_only_in_repository_modules() -> None:
    outside = {
        f"{_relative(p)}:{line}"
        for p in _sources()
        if not may_hold_sql(_relative(p))
        for line in sql_strings(p.read_text())
    }
    assert sorted(outside) == []


def test_no_module_is_over_300_lines() -> None:
    too_long = {_relative(p): n for p in [*_sources(), *_tests()] if (n := len(p.read_text().splitlines())) > 300}
    assert too_long == {}


def test_a_function_over_50_lines_says_why() -> None:
    found = {
        f"{_relative(p)}::{name}": n for p in [*_sources(), *_tests()] for name, n in long_functions(p.read_text())
    }
    assert found == {}


def test_test_modules_have_unique_names_so_pytest_imports_each_once() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in _tests():
        if path.name.startswith("test_"):
            seen[path.name].append(_relative(path))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_a_fixture_name_has_one_body() -> None:
    bodies: dict[str, set[str]] = defaultdict(set)
    where: dict[str, list[str]] = defaultdict(list)
    for path in _tests():
        for name, body in fixture_bodies(path.read_text()).items():
            bodies[name].add(body)
            where[name].append(_relative(path))
    assert {name: where[name] for name, found in bodies.items() if len(found) > 1} == {}


def test_every_service_has_its_tests_under_its_name() -> None:
    tiers = [TESTS / "unit", TESTS / "integration", TESTS / "e2e"]
    missing = [s for s in SERVICES if not any(list((tier / s).glob("test_*.py")) for tier in tiers)]
    assert missing == []
