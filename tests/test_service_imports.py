"""Services know nothing of HTTP: they raise DomainError, never the API's Problem."""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "server" / "services"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_services_do_not_import_the_http_problems():
    offenders = sorted(str(path.relative_to(SERVICES)) for path in SERVICES.rglob("*.py")
                       if "server.problems" in imported_modules(path))
    assert offenders == []
