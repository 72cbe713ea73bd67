"""Nothing in core/ or console/ needs a POSIX-only module to import, so the console runs on
Windows: every module is imported in a fresh interpreter where those modules do not exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource")
# Entry points that run when imported (`python -m console`); their imports are covered below.
RUN_ON_IMPORT = {"console.__main__"}

PROBE = """
import importlib, json, sys, traceback
for name in {blocked!r}:
    sys.modules[name] = None  # makes `import name` raise ImportError
failures = {{}}
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except BaseException:
        failures[module] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def _modules() -> list[str]:
    found = []
    for package in ("core", "console"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            if name not in RUN_ON_IMPORT:
                found.append(name)
    return found


def test_every_module_imports_without_posix_only_modules() -> None:
    modules = _modules()
    assert "core.store.settings" in modules and "console.app" in modules
    probe = PROBE.format(blocked=list(POSIX_ONLY), modules=modules)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {}


def test_the_probe_notices_a_posix_only_import() -> None:
    probe = PROBE.format(blocked=["fcntl"], modules=["fcntl"])
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "fcntl" in json.loads(done.stdout.splitlines()[-1])


def test_no_module_reads_proc() -> None:
    readers = [str(path.relative_to(ROOT)) for package in ("core", "console")
               for path in (ROOT / package).rglob("*.py")
               if "/proc/" in path.read_text(encoding="utf-8")]
    assert readers == []
