"""`sandbox serve` as a separate, long-lived process: the 'remote' services a console can die on."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from core.clients.ipaas import parse_link
from tests.e2e.conftest import CLEARED_ENV

ROOT = Path(__file__).resolve().parents[2]


def base_env(home: Path) -> dict[str, str]:
    """The parent environment without credentials, knobs or the user's config and data dirs."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    env.pop("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", None)
    env["XDG_CONFIG_HOME"] = str(home / "xdg-config")
    env["XDG_DATA_HOME"] = str(home / "xdg-data")
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "160"
    return env


def template_without_list_calls(path: Path) -> Path:
    """The shipped template minus its UCLIST_ rows: list-membership calls are paced at 10/s,
    which would make a batch of a hundred customers wait on pacing, not on work."""
    text = resources.files("core.mapping").joinpath("default.toml").read_text(encoding="utf-8")
    blocks = re.split(r"(?=\n\[\[)", text)
    kept = [b for b in blocks if 'destination = "UCLIST_' not in b]
    assert len(kept) < len(blocks)
    path.write_text("".join(kept), encoding="utf-8")
    return path


@dataclass
class Remote:
    """A running `klaviyo-console sandbox serve` and what it printed."""

    process: subprocess.Popen[str]
    exports: dict[str, str]
    state_dir: Path
    _client: httpx.Client | None = field(default=None, repr=False)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.exports["KLAVIYO_BASE_URL"], timeout=10)
        return self._client

    def klaviyo(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Klaviyo-API-Key {self.exports['KLAVIYO_API_KEY']}",
                   "revision": "2026-07-15", "Accept": "application/vnd.api+json"}
        return self.client.request(method, path, headers=headers, **kw)

    def ipaas(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.exports['IPAAS_API_TOKEN']}"}
        return self.client.request(method, path, headers=headers, **kw)

    def profiles(self) -> list[dict[str, Any]]:
        """Every profile the emulated Klaviyo holds, read page by page over HTTP."""
        out: list[dict[str, Any]] = []
        url: str | None = "/api/profiles?page[size]=100"
        while url:
            response = self.klaviyo("GET", url)
            response.raise_for_status()
            document = response.json()
            out.extend(document["data"])
            url = document["links"].get("next")
        return out

    def add_customer(self, body: Mapping[str, Any]) -> str:
        """Create a Customer in the emulated iPaaS.com; returns its id."""
        response = self.ipaas("POST", "/customers/v2/Customer", json=dict(body))
        response.raise_for_status()
        return str(response.json()["id"])

    def link_of(self, customer_id: str) -> str | None:
        """The Klaviyo profile id the remote iPaaS.com stores for a customer, if any."""
        system = self.exports["IPAAS_SYSTEM_ID"]
        response = self.ipaas(
            "GET", f"/customers/v2/External/LookupExternal/{customer_id}/{system}/Customer")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return parse_link(response.text)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(state_dir: Path, seed: Path, env: Mapping[str, str], *,
          timeout: float = 20.0) -> Remote:
    """Start `sandbox serve` on a free loopback port and read its `export` lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "console", "--sandbox", str(seed), "--state-dir",
         str(state_dir), "sandbox", "serve", "--port", "0"],
        env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads: select() on a buffered text pipe misses lines already in the buffer.
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    exports: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(exports) < 5:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            raise TimeoutError("sandbox serve printed no exports in time") from None
        if not line:
            process.wait()
            raise RuntimeError(f"sandbox serve exited: {process.stderr.read()}")  # type: ignore[union-attr]
        name, _, value = line.removeprefix("export ").strip().partition("=")
        exports[name] = value.strip("'")
    return Remote(process, exports, state_dir)


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)
    lines.put("")


def every_json_file(root: Path) -> Iterator[Path]:
    """Every state file the console keeps as JSON (settings, the sandbox's state)."""
    for path in sorted(root.rglob("*.json")):
        json.loads(path.read_bytes())
        yield path
