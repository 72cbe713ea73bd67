"""The console and its lookup screen load without core (the engine loads after frame one)."""

from __future__ import annotations

import subprocess
import sys

# core (the model included: its dataclasses cost as much as the lookup's widgets) and the
# libraries the engine brings.
ENGINE_SIDE = {"core", "httpx", "tinydb", "phonenumbers"}


def test_the_console_and_its_lookup_screen_import_without_core():
    # A fresh interpreter: this test process has long imported everything.
    code = ("import sys, console.app, console.screens.lookup; "
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    pulled = [name for name in loaded if name.split(".")[0] in ENGINE_SIDE]
    assert pulled == []

