"""Issue 17 item 2: `klaviyo-console check`, one line per item, against the sandbox."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.cli.check import SCOPES, run_checks
from core.clients.checks import CheckResult
from core.config import Config
from core.sandbox import Sandbox
from tests.e2e.conftest import LISTS, Cli, customer

REPO = Path(__file__).resolve().parents[2]
ITEMS = ("mapping template", "state directory", "listen secret", "Klaviyo reachable",
         "Klaviyo API key", *(f"Klaviyo scope {scope}" for scope in SCOPES),
         "list 'Sms Subscribers'", "list 'Preview List'", "iPaaS.com reachable",
         "iPaaS.com token", "iPaaS.com system id")


def test_the_product_scopes_are_the_ones_listed() -> None:
    assert SCOPES == ("profiles:read", "profiles:write", "lists:read", "lists:write",
                      "subscriptions:write")


def test_check_passes_every_item_on_the_sandbox(cli: Cli) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, out, err = cli.run("check")
    assert code == 0, out + err
    lines = [line for line in out.splitlines() if line.strip() and not line.startswith(" ")]
    assert [line.split(": ")[0].split(None, 1)[1] for line in lines[:-1]] == list(ITEMS)
    assert all(line.startswith("pass ") for line in lines[:-1])
    assert "double opt in" in out and "single opt in" in out  # each list's opt-in process
    assert lines[-1] == "all checks passed"
    assert "sandbox" in err


def test_check_json_is_one_document_with_every_item(cli: Cli) -> None:
    cli.seed([])
    code, doc = cli.json("check")
    assert code == 0 and doc["ok"] is True
    assert [item["item"] for item in doc["checks"]] == list(ITEMS)
    assert {item["status"] for item in doc["checks"]} == {"pass"}
    assert set(doc["checks"][0]) == {"item", "status", "detail", "fix"}


# ---- failures, through run_checks over a sandbox and a transport that misbehaves ------------


def _sandbox(folder: Path, lists: list[dict[str, str]]) -> Sandbox:
    folder.mkdir()
    seed = folder / "seed.json"
    seed.write_text(json.dumps({"customers": [customer(1, email="x@example.com")],
                                "lists": lists}), encoding="utf-8")
    return Sandbox(folder, seed=seed)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = _sandbox(tmp_path / "box", LISTS)
    yield box
    box.close()


def _config(tmp_path: Path) -> Config:
    return Config.load(env={}, state_dir=tmp_path / "state", sandbox=True)


class Answering(httpx.AsyncBaseTransport):
    """The sandbox, except for requests `rule` answers itself."""

    def __init__(self, inner: httpx.AsyncBaseTransport,
                 rule: Callable[[httpx.Request], httpx.Response | None]) -> None:
        self.inner = inner
        self.rule = rule

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.rule(request) or await self.inner.handle_async_request(request)


def _by_item(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.item: result for result in results}


def _run(config: Config, sandbox: Sandbox,
         rule: Callable[[httpx.Request], httpx.Response | None] = lambda _: None
         ) -> dict[str, CheckResult]:
    transport = Answering(sandbox.transport, rule)
    return _by_item(asyncio.run(run_checks(config, sandbox=sandbox, transport=transport)))


def _forbidden(method: str, path: str) -> Callable[[httpx.Request], httpx.Response | None]:
    def rule(request: httpx.Request) -> httpx.Response | None:
        if request.method == method and request.url.path == path:
            return httpx.Response(403, json={"errors": [{"status": 403, "code": "permission_denied",
                                                         "detail": "You do not have permission"}]})
        return None
    return rule


@pytest.mark.parametrize(("scope", "method", "path"), [
    ("profiles:read", "GET", "/api/profiles"),
    ("profiles:write", "POST", "/api/profiles"),
    ("lists:write", "POST", "/api/lists"),
    ("subscriptions:write", "POST", "/api/profile-subscription-bulk-create-jobs"),
])
def test_a_missing_scope_fails_its_line_with_the_fix(
        tmp_path: Path, sandbox: Sandbox, scope: str, method: str, path: str) -> None:
    results = _run(_config(tmp_path), sandbox, _forbidden(method, path))
    failed = [r for r in results.values() if not r.ok]
    assert [r.item for r in failed] == [f"Klaviyo scope {scope}"]
    assert scope in failed[0].fix and "API keys" in failed[0].fix


def test_the_scope_probes_change_nothing_in_klaviyo(tmp_path: Path, sandbox: Sandbox) -> None:
    before = sandbox.klaviyo.dump()
    results = _run(_config(tmp_path), sandbox)
    assert all(results[f"Klaviyo scope {scope}"].ok for scope in SCOPES)
    after = sandbox.klaviyo.dump()
    assert after["profiles"] == before["profiles"] and after["lists"] == before["lists"]


def test_a_refused_key_fails_and_names_the_variable(tmp_path: Path, sandbox: Sandbox) -> None:
    def refuse(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api/"):
            return httpx.Response(401, json={"errors": [{"detail": "Incorrect key"}]})
        return None

    results = _run(_config(tmp_path), sandbox, refuse)
    assert results["Klaviyo reachable"].ok
    assert not results["Klaviyo API key"].ok and "KLAVIYO_API_KEY" in results["Klaviyo API key"].fix
    assert "Incorrect key" in results["Klaviyo API key"].detail


def test_no_credential_reaches_the_output_even_when_a_service_echoes_it(
        tmp_path: Path, sandbox: Sandbox) -> None:
    key = sandbox.credentials.klaviyo_api_key

    def echo(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api/"):
            sent = request.headers["Authorization"]
            return httpx.Response(401, json={"errors": [{"detail": f"bad key {sent}"}]})
        return None

    results = _run(_config(tmp_path), sandbox, echo)
    assert "bad key" in results["Klaviyo API key"].detail
    assert all(key not in f"{r.detail} {r.fix}" for r in results.values())
    assert all(key[:12] not in f"{r.detail} {r.fix}" for r in results.values())


def test_a_list_the_template_names_that_klaviyo_lacks_fails(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path / "one-list", LISTS[:1])
    try:
        results = _run(_config(tmp_path), sandbox)
    finally:
        sandbox.close()
    assert results["list 'Sms Subscribers'"].ok
    assert "double opt in" in results["list 'Sms Subscribers'"].detail
    missing = results["list 'Preview List'"]
    assert not missing.ok and "Preview List" in missing.fix


def test_an_unwritable_state_dir_fails(tmp_path: Path, sandbox: Sandbox) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    config = dataclasses.replace(_config(tmp_path), state_dir=blocker / "state")
    result = _run(config, sandbox)["state directory"]
    assert not result.ok and "--state-dir" in result.fix


def test_listen_configured_without_a_secret_fails(tmp_path: Path, sandbox: Sandbox) -> None:
    config = dataclasses.replace(_config(tmp_path), listen_port=8787, listen_secret=None)
    result = _run(config, sandbox)["listen secret"]
    assert not result.ok and "KLAVIYO_CONSOLE_LISTEN_SECRET" in result.fix
    config = dataclasses.replace(config, listen_secret="s3cr3t-s3cr3t-s3cr3t")
    assert _run(config, sandbox)["listen secret"].ok


def test_an_unreachable_klaviyo_fails_reachability_and_skips_the_rest(
        tmp_path: Path, sandbox: Sandbox) -> None:
    def down(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.startswith("/api/"):
            raise httpx.ConnectError("refused", request=request)
        return None

    results = _run(_config(tmp_path), sandbox, down)
    assert not results["Klaviyo reachable"].ok
    assert "KLAVIYO_BASE_URL" in results["Klaviyo reachable"].fix
    assert results["iPaaS.com token"].ok


# ---- against `sandbox serve`, as a real set-up would run it ---------------------------------


def test_check_against_sandbox_serve_catches_a_wrong_system_id(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(9, email="served@example.com")])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "IPAAS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--sandbox", str(cli.seed_path), "sandbox", "serve",
         "--port", "0", "--state-dir", str(tmp_path / "served")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        for _ in range(5):
            name, value = proc.stdout.readline().strip().removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value.strip("'"))
        code, out, err = cli.run("check", sandbox=False)
        assert code == 0, out + err
        assert "sandbox:" not in err

        monkeypatch.setenv("IPAAS_SYSTEM_ID", "4243")
        code, out, err = cli.run("check", "--json", sandbox=False)
        doc = json.loads(out)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert code == 1 and doc["ok"] is False
    [wrong] = [item for item in doc["checks"] if item["status"] != "pass"]
    assert wrong["item"] == "iPaaS.com system id" and "IPAAS_SYSTEM_ID" in wrong["fix"]
