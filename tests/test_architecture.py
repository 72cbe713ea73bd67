"""The engine stays free of the UI, so the CLI and the console share one engine."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_textual_or_console() -> None:
    offenders = [
        str(path.relative_to(CORE.parent))
        for path in CORE.rglob("*.py")
        if imported_modules(path) & {"textual", "console"}
    ]
    assert offenders == []


def test_the_check_sees_an_import() -> None:
    assert "textual" in imported_modules(Path(__file__).parent.parent / "console" / "app.py")


MODULE_MAX_LINES = 500


def test_no_module_in_core_or_console_is_over_500_lines() -> None:
    root = CORE.parent
    line_counts = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines())
        for package in ("core", "console")
        for path in (root / package).rglob("*.py")
    }
    assert {name: n for name, n in line_counts.items() if n > MODULE_MAX_LINES} == {}
