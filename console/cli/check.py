"""`klaviyo-console check [--json]`: is this set-up ready for production? One line per item."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.text import Text

from console.cli.base import FAILED, OK
from console.cli.common import SANDBOX_LINE, out, print_json, say
from core.clients.checks import CheckResult, CheckStatus
from core.clients.http import RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.redaction import redact
from core.config import Config, ConfigError
from core.mapping import Template, TemplateError, load_template

if TYPE_CHECKING:
    from core.sandbox import Sandbox

PASS, FAIL, WARN = CheckStatus.PASS, CheckStatus.FAIL, CheckStatus.WARN
STATUS_STYLE = {PASS: "green", FAIL: "bold red", WARN: "yellow"}


@dataclass(frozen=True, slots=True)
class ScopeProbe:
    """A request that needs one scope and changes nothing: a read, or a write Klaviyo refuses
    as invalid (400) once the scope is granted; a missing scope is 403."""

    scope: str
    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None


# The scopes the product's calls need (README "Running it for real").
SCOPE_PROBES = (
    ScopeProbe("profiles:read", "GET", "/api/profiles", params={"page[size]": "1"}),
    ScopeProbe("profiles:write", "POST", "/api/profiles",
               body={"data": {"type": "profile", "attributes": {}}}),
    ScopeProbe("lists:read", "GET", "/api/lists"),
    ScopeProbe("lists:write", "POST", "/api/lists",
               body={"data": {"type": "list", "attributes": {}}}),
    ScopeProbe("subscriptions:write", "POST", "/api/profile-subscription-bulk-create-jobs",
               body={"data": {"type": "profile-subscription-bulk-create-job",
                              "attributes": {"profiles": {"data": []}}}}),
)
SCOPES = tuple(probe.scope for probe in SCOPE_PROBES)
KEY_FIX = ("set KLAVIYO_API_KEY (or [klaviyo] api_key) to a private API key with the scopes "
           + ", ".join(SCOPES))


async def run(ns: argparse.Namespace, config: Config) -> int:
    """Run every check, print one line each (or one JSON document); exit 0 only if all pass."""
    if config.sandbox:
        say(SANDBOX_LINE, style="dim")
    results = await run_checks(config)
    passed = all(result.ok for result in results)
    if ns.json:
        print_json({"ok": passed, "checks": [result.to_json() for result in results]})
    else:
        console = out()
        for result in results:
            console.print(check_line(result))
        console.print(Text("all checks passed" if passed else "not ready: fix the items above",
                           style="green" if passed else "bold red"))
    return OK if passed else FAILED


def check_line(result: CheckResult) -> Text:
    """`pass  item: detail`, and the fix on failures and warnings."""
    line = Text()
    line.append(f"{result.status.value:<5}", style=STATUS_STYLE[result.status])
    line.append(f" {result.item}: {result.detail}")
    if result.fix and not result.ok:
        line.append(f"\n      fix: {result.fix}", style="dim")
    return line


async def run_checks(config: Config, *, sandbox: Sandbox | None = None,
                     transport: httpx.AsyncBaseTransport | None = None) -> list[CheckResult]:
    """Every check of issue 17 item 2, in the order an operator fixes them."""
    template, template_result = _template(config)
    results = [template_result, _state_dir(Path(config.state_dir)), _listen_secret(config)]
    owned: Sandbox | None = None
    if config.sandbox and sandbox is None:
        sandbox = owned = _open_sandbox(config)
    try:
        if sandbox is not None:
            creds = sandbox.credentials
            transport = transport or sandbox.transport
            klaviyo_key, token, system_id = (
                creds.klaviyo_api_key, creds.ipaas_token, creds.ipaas_system_id)
            klaviyo_url = ipaas_url = creds.base_url
        else:
            klaviyo_key, token, system_id = (
                config.klaviyo_api_key, config.ipaas_token, config.ipaas_system_id)
            klaviyo_url, ipaas_url = config.klaviyo_base_url, config.ipaas_base_url
        results += await _klaviyo(config, klaviyo_url, klaviyo_key, template, transport)
        results += await _ipaas(config, ipaas_url, token, system_id, transport)
    finally:
        if owned is not None:
            owned.close()
    # A service may echo what it was sent; no credential ever reaches the screen.
    secrets = (klaviyo_key, token, *config.secrets)
    return [dataclasses.replace(r, detail=redact(r.detail, secrets) or "",
                                fix=redact(r.fix, secrets) or "") for r in results]


def _open_sandbox(config: Config) -> Sandbox:
    from core.sandbox import Knobs, Sandbox, SandboxSeedError

    try:
        return Sandbox(Path(config.state_dir), seed=config.sandbox_seed, knobs=Knobs.from_env())
    except (SandboxSeedError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


# ---- local items ---------------------------------------------------------------------------


def _template(config: Config) -> tuple[Template | None, CheckResult]:
    where = str(config.template_path) if config.template_path else "the built-in template"
    try:
        template = load_template(config.template_path)
    except TemplateError as exc:
        return None, CheckResult("mapping template", FAIL, str(exc),
                                 "correct the template at the line named, or point "
                                 "KLAVIYO_CONSOLE_TEMPLATE at a good one")
    return template, CheckResult("mapping template", PASS, f"{where} loads")


def _state_dir(state: Path) -> CheckResult:
    fix = (f"make {state} writable by this user, or choose another with --state-dir or "
           "KLAVIYO_CONSOLE_STATE_DIR")
    try:
        state.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".check-", delete=True) as probe:
            probe.write(b"ok")
    except OSError as exc:
        return CheckResult("state directory", FAIL, f"{state}: {exc.strerror or exc}", fix)
    return CheckResult("state directory", PASS, f"{state} is writable")


def _listen_secret(config: Config) -> CheckResult:
    configured = config.listen_port is not None or config.listen_host is not None
    if not configured:
        return CheckResult("listen secret", PASS, "listen is not configured; no secret needed")
    if config.listen_secret:
        return CheckResult("listen secret", PASS, "set")
    return CheckResult("listen secret", FAIL, "listen is configured but has no shared secret",
                       "set KLAVIYO_CONSOLE_LISTEN_SECRET (or [listen] secret) to a long "
                       "random value, and give iPaaS.com the same")


# ---- Klaviyo -------------------------------------------------------------------------------


async def _klaviyo(config: Config, base_url: str, key: str, template: Template | None,
                   transport: httpx.AsyncBaseTransport | None) -> list[CheckResult]:
    headers = {
        "Authorization": f"Klaviyo-API-Key {key}",
        "revision": config.revision,
        "accept": "application/vnd.api+json",
        "content-type": "application/vnd.api+json",
    }
    timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, transport=transport,
                                 timeout=timeout, follow_redirects=False) as client:
        first, *rest = SCOPE_PROBES
        try:
            answer = await _send(client, first)
        except httpx.HTTPError as exc:
            skipped = "not checked: Klaviyo did not answer"
            return [CheckResult("Klaviyo reachable", FAIL, f"{base_url}: {_network(exc)}",
                                "check KLAVIYO_BASE_URL (or [klaviyo] base_url) and the "
                                "network"),
                    CheckResult("Klaviyo API key", WARN, skipped)]
        results = [CheckResult("Klaviyo reachable", PASS, f"{base_url} answered")]
        if answer.status_code == 401:
            results.append(CheckResult("Klaviyo API key", FAIL,
                                       f"refused (401 {_detail(answer)})", KEY_FIX))
            return results
        if answer.status_code == 429 or answer.status_code >= 500:
            results.append(CheckResult("Klaviyo API key", WARN,
                                       f"could not tell: Klaviyo answered {answer.status_code}",
                                       "run check again in a minute"))
        else:
            results.append(CheckResult("Klaviyo API key", PASS, "accepted"))
        results.append(_scope(first, answer))
        for probe in rest:
            try:
                results.append(_scope(probe, await _send(client, probe)))
            except httpx.HTTPError as exc:
                results.append(CheckResult(f"Klaviyo scope {probe.scope}", WARN,
                                           f"could not tell: {_network(exc)}",
                                           "run check again"))
        if template is not None:
            results += await _lists(client, template.list_names())
    return results


async def _send(client: httpx.AsyncClient, probe: ScopeProbe) -> httpx.Response:
    content = json.dumps(probe.body).encode() if probe.body is not None else None
    return await client.request(probe.method, probe.path, params=probe.params, content=content)


def _scope(probe: ScopeProbe, answer: httpx.Response) -> CheckResult:
    item = f"Klaviyo scope {probe.scope}"
    status = answer.status_code
    if status == 403:
        return CheckResult(item, FAIL, "missing: the key may not " + _what(probe.scope),
                           f"add {probe.scope} to the key in Klaviyo (Settings > API keys), "
                           "or create a key with " + ", ".join(SCOPES))
    if status < 300 or status in (400, 404, 405, 409, 422):
        return CheckResult(item, PASS, "granted")
    return CheckResult(item, WARN, f"could not tell: Klaviyo answered {status}",
                       "run check again in a minute")


def _what(scope: str) -> str:
    thing, _, access = scope.partition(":")
    return f"{'read' if access == 'read' else 'change'} {thing}"


async def _lists(client: httpx.AsyncClient, names: Sequence[str]) -> list[CheckResult]:
    if not names:
        return [CheckResult("template lists", PASS, "the template names no lists")]
    results = []
    for name in names:
        item = f"list {name!r}"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        try:
            answer = await client.get("/api/lists", params={"filter": f'equals(name,"{quoted}")'})
        except httpx.HTTPError as exc:
            results.append(CheckResult(item, WARN, f"could not tell: {_network(exc)}",
                                       "run check again"))
            continue
        found = _list_named(answer, name) if answer.status_code == 200 else None
        if answer.status_code != 200:
            results.append(CheckResult(item, WARN,
                                       f"could not tell: Klaviyo answered {answer.status_code}",
                                       "run check again"))
        elif found is None:
            results.append(CheckResult(item, FAIL, "no such list in Klaviyo",
                                       f"create the list {name!r} in Klaviyo, or change the "
                                       "template row that names it"))
        else:
            process = str(found.get("opt_in_process") or "unknown").replace("_", " ")
            results.append(CheckResult(item, PASS, f"exists, {process}"))
    return results


def _list_named(answer: httpx.Response, name: str) -> dict[str, Any] | None:
    try:
        data = answer.json().get("data") or []
    except (ValueError, AttributeError):
        return None
    for resource in data:
        attributes = resource.get("attributes") if isinstance(resource, dict) else None
        if isinstance(attributes, dict) and attributes.get("name") == name:
            return attributes
    return None


def _detail(answer: httpx.Response) -> str:
    try:
        errors = answer.json().get("errors") or []
        return str(errors[0].get("detail") or errors[0].get("title") or "").strip()
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


def _network(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "not answering (timed out)"
    if isinstance(exc, httpx.ConnectError):
        return "not reachable"
    return type(exc).__name__


# ---- iPaaS.com -----------------------------------------------------------------------------


async def _ipaas(config: Config, base_url: str, token: str, system_id: str,
                 transport: httpx.AsyncBaseTransport | None) -> list[CheckResult]:
    policy = RetryPolicy(max_attempts=1, total_timeout=config.total_timeout,
                         connect_timeout=config.connect_timeout,
                         read_timeout=config.read_timeout)
    try:
        client = IpaasClient(token, system_id, base_url=base_url, transport=transport,
                             retry=policy)
    except ValueError as exc:
        return [CheckResult("iPaaS.com token", FAIL, str(exc),
                            "set IPAAS_API_TOKEN and IPAAS_SYSTEM_ID")]
    async with client:
        return await client.verify()
