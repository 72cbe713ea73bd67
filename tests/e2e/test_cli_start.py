"""What the command line loads before it knows the command: the console needs no engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Runs main() in a fresh interpreter with a stand-in console.app, and reports the modules
# loaded by the time the console would have taken over (or main returned).
PROBE = """
import json, sys, types

loaded = {}
app = types.ModuleType("console.app")

class ConsoleApp:
    def __init__(self, config):
        pass

    def run(self):
        loaded["at_handover"] = sorted(sys.modules)

def run_console(config):
    ConsoleApp(config).run()

app.ConsoleApp = ConsoleApp
app.run_console = run_console
sys.modules["console.app"] = app

from console.cli import main

code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": loaded.get("at_handover", sorted(sys.modules))}))
"""

HEAVY = ("core.engine", "core.clients", "core.store", "core.sandbox", "core.mapping",
         "httpx", "tinydb")


def _loaded(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "IPAAS_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    proc = subprocess.run([sys.executable, "-c", PROBE, "--state-dir", str(tmp_path), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(report["code"]), list(report["modules"])


@pytest.mark.parametrize("args", [[], ["--sandbox"], ["frobnicate"], ["errors", "--kind", "x"]],
                         ids=["console", "console-sandbox", "unknown-command", "bad-kind"])
def test_the_engine_and_its_clients_load_only_for_a_command_that_needs_them(
        tmp_path: Path, args: list[str]) -> None:
    code, modules = _loaded(tmp_path, *args)
    assert code == (0 if not args or args == ["--sandbox"] else 2)
    heavy = [m for m in modules if m.startswith(HEAVY)]
    assert heavy == []


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    code, modules = _loaded(tmp_path, "--sandbox", "history", "--json")
    assert code == 0
    assert "console.cli.history" in modules and "core.engine" in modules
    others = {"console.cli.sync", "console.cli.retry", "console.cli.listen", "console.cli.sandbox"}
    assert others.isdisjoint(modules)
