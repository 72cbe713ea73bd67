"""The console and its lookup screen load without the engine (it loads after frame one)."""

from __future__ import annotations

import subprocess
import sys

ENGINE_SIDE = ("core.engine", "core.clients", "core.store", "core.sandbox", "core.mapping",
               "httpx", "tinydb", "phonenumbers")


def test_the_console_and_its_lookup_screen_import_without_the_engine():
    # A fresh interpreter: this test process has long imported everything.
    code = ("import sys, console.app, console.screens.lookup; "
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    pulled = [name for name in loaded if name.startswith(ENGINE_SIDE)]
    assert pulled == []

