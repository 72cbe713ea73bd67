"""The sandbox: Klaviyo and iPaaS.com emulators behind one httpx transport, seeded and persisted.

Seed file format (design §8; the shipped demo is core/sandbox/demo.json)::

    {"customers": [<iPaaS.com Customer JSON, snake_case, with "addresses", "custom_fields">],
     "profiles":  [{"id"?: "<ULID>", "attributes": {...},
                    "subscriptions"?: {"email": "SUBSCRIBED" | ..., "sms": ...},
                    "lists"?: ["list name", ...]}],
     "lists":     [{"name": "...", "opt_in_process": "single_opt_in" | "double_opt_in"}],
     "links":     {"<customer id>": "<profile reference>"},
     "account":   {"opt_in_process": "double_opt_in" | "single_opt_in"}}

Every key is optional. The account's opt-in process (default double_opt_in, as in Klaviyo)
governs a subscribe sent without a list. A link's profile reference is a profile id, or "#<n>"
for the n-th seeded profile (0-based), or the email of a seeded profile; anything else is stored
as it is, which is how a stale link (a profile id Klaviyo does not have) is seeded. A fresh
state dir starts from the seed; later runs with the same state dir load
`<state_dir>/sandbox/state.json`, written atomically, at most once a second during bursts, on
flush() and on close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from core.loopback import LoopbackServer
from core.sandbox.credentials import IN_PROCESS_BASE_URL, SandboxCredentials, export_lines
from core.sandbox.faults import AFTER_HANDLING, error_page, pick_fault, raise_transport, truncated
from core.sandbox.ipaas import IpaasEmulator, IpaasOptions, SsoUser
from core.sandbox.knobs import Knobs
from core.store.atomic import atomic_write_bytes

__all__ = [
    "DEMO_SEED",
    "IN_PROCESS_BASE_URL",
    "IpaasEmulator",
    "Knobs",
    "Sandbox",
    "SandboxCredentials",
    "SandboxSeedError",
    "export_lines",
    "serve_sandbox",
]

DEMO_SEED = Path(__file__).with_name("demo.json")
STATE_VERSION = 1
FLUSH_INTERVAL = 1.0


class SandboxSeedError(ValueError):
    """A seed or saved state that cannot be used; the message names the file and what is wrong."""


class KlaviyoSide(Protocol):
    """What the sandbox needs of the Klaviyo emulator (core.sandbox.klaviyo.KlaviyoEmulator)."""

    changed: bool

    async def handle(self, request: httpx.Request) -> httpx.Response: ...

    def seed(
        self,
        profiles: list[dict[str, Any]],
        lists: list[dict[str, Any]],
        account: dict[str, Any] | None = None,
    ) -> dict[str, str]: ...

    def dump(self) -> dict[str, Any]: ...

    def load(self, state: dict[str, Any]) -> None: ...


class _SandboxTransport(httpx.AsyncBaseTransport):
    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._sandbox.handle(request)


class Sandbox:
    """Both emulators, their persisted state and the knobs, behind `transport`."""

    def __init__(
        self,
        state_dir: Path | None,
        *,
        seed: Path | None = None,
        knobs: Knobs | None = None,
        rng: random.Random | None = None,
        klaviyo: KlaviyoSide | None = None,
        ipaas_options: IpaasOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
        wall_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`rng` and `wall_clock`, when given, also fix the emulators' ids and timestamps."""
        self.knobs = knobs or Knobs()
        self.credentials = SandboxCredentials()
        self.rng = rng or random.Random()
        self._clock = clock
        self._sleep = sleep
        creds = self.credentials
        # ULIDs get their own stream, seeded from rng's state without drawing from it, so a
        # given rng still yields the same fault sequence.
        id_rng = random.Random(hash(rng.getstate())) if rng is not None else None
        self.klaviyo: KlaviyoSide = klaviyo or _klaviyo_emulator(
            creds, self.knobs, rng=id_rng, wall_clock=wall_clock)
        self.ipaas = IpaasEmulator(
            token=creds.ipaas_token,
            system_id=creds.ipaas_system_id,
            options=ipaas_options,
            user=SsoUser(creds.ipaas_email, creds.ipaas_password, creds.ipaas_company_id),
            clock=time.time if wall_clock is None else _seconds_of(wall_clock),
        )
        self._listeners: list[Callable[[str, str], None]] = []
        self.ipaas.on_change = self._customer_changed
        self.state_path = Path(state_dir) / "sandbox" / "state.json" if state_dir else None
        self._last_flush = float("-inf")
        self._pending: asyncio.TimerHandle | None = None
        self.closed = False
        self.seeded_from: str | None = None
        if self.state_path is not None and self.state_path.exists():
            self._load(self.state_path)
        else:
            self._seed(seed or DEMO_SEED)
            self.flush()
        self.transport: httpx.AsyncBaseTransport = _SandboxTransport(self)

    # ---- requests ----------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Route one request to its emulator, with the knobs applied."""
        path = request.url.path
        service = _service_of(path)
        if service is None:
            return httpx.Response(
                404, content=f"no sandbox service at {path}".encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        knobs = self.knobs
        if service == "klaviyo" and knobs.klaviyo_down:
            raise httpx.ConnectError("sandbox: Klaviyo is unreachable", request=request)
        if knobs.latency_ms > 0:
            await self._sleep(knobs.latency_ms / 1000)
        fault = pick_fault(self.rng, knobs.failure_rate)
        if fault is not None and fault not in AFTER_HANDLING:
            if fault.value in ("reset", "connect"):
                raise_transport(fault, request)
            return error_page(fault, service, self.ipaas.error)
        await request.aread()
        emulator = self.klaviyo if service == "klaviyo" else self.ipaas
        response = await emulator.handle(request)
        self._changed()
        if fault is not None:
            if fault.value == "timeout":
                raise_transport(fault, request)
            return truncated(response)
        return response

    # ---- change notifications ----------------------------------------------------------------

    def add_change_listener(self, listener: Callable[[str, str], None]) -> None:
        """Call `listener(scope, customer_id)` when a Customer is created or updated."""
        self._listeners.append(listener)

    def remove_change_listener(self, listener: Callable[[str, str], None]) -> None:
        """Stop calling a listener added with add_change_listener (unknown ones are ignored)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _customer_changed(self, scope: str, customer_id: str) -> None:
        self._changed()
        for listener in list(self._listeners):
            listener(scope, customer_id)

    # ---- persistence -------------------------------------------------------------------------

    def flush(self) -> None:
        """Write both emulators' state now (atomically), if there is a state dir."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._last_flush = self._clock()
        self.klaviyo.changed = False
        self.ipaas.changed = False
        if self.state_path is None:
            return
        state = {
            "version": STATE_VERSION,
            "seeded_from": self.seeded_from,
            "ipaas": self.ipaas.dump(),
            "klaviyo": self.klaviyo.dump(),
        }
        data = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
        atomic_write_bytes(self.state_path, data)

    async def aclose(self) -> None:
        """Flush what is pending and stop scheduling writes."""
        self.close()

    def close(self) -> None:
        """Synchronous aclose()."""
        if self.closed:
            return
        if self._pending is not None or self.klaviyo.changed or self.ipaas.changed:
            self.flush()
        self.closed = True

    def _changed(self) -> None:
        # Debounced: at most one write per FLUSH_INTERVAL during a burst, and one at its end.
        if not (self.klaviyo.changed or self.ipaas.changed) or self.closed:
            return
        if self.state_path is None:
            self.klaviyo.changed = self.ipaas.changed = False
            return
        waited = self._clock() - self._last_flush
        if waited >= FLUSH_INTERVAL:
            self.flush()
            return
        if self._pending is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._pending = loop.call_later(FLUSH_INTERVAL - waited, self._deferred_flush)

    def _deferred_flush(self) -> None:
        self._pending = None
        if not self.closed:
            self.flush()

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_bytes())
            if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
                raise ValueError(f"unknown state version {state.get('version')!r}")
            self.ipaas.load(state["ipaas"])
            self.klaviyo.load(state["klaviyo"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SandboxSeedError(
                f"{path}: the saved sandbox state cannot be read ({exc}); "
                "delete it to start again from the seed"
            ) from None
        self.seeded_from = state.get("seeded_from")
        self.klaviyo.changed = self.ipaas.changed = False

    def _seed(self, path: Path) -> None:
        seed = read_seed(path)
        try:
            profile_ids = self.klaviyo.seed(seed["profiles"], seed["lists"], seed["account"])
            links = _resolve_links(seed["links"], seed["profiles"], profile_ids)
            self.ipaas.seed(seed["customers"], links)
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxSeedError(f"{path}: {exc}") from None
        self.seeded_from = path.name


def read_seed(path: Path) -> dict[str, Any]:
    """Read and shape-check a design §8 seed file; problems raise SandboxSeedError."""
    try:
        raw = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SandboxSeedError(f"{path}: cannot read the seed file ({exc.strerror})") from None
    except ValueError as exc:
        raise SandboxSeedError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise SandboxSeedError(f"{path}: the seed must be a JSON object with customers/profiles")
    unknown = set(raw) - {"customers", "profiles", "lists", "links", "account"}
    if unknown:
        raise SandboxSeedError(f"{path}: unknown top-level keys {sorted(unknown)}")
    seed: dict[str, Any] = {}
    for key in ("customers", "profiles", "lists"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise SandboxSeedError(f"{path}: {key!r} must be a list of objects")
        seed[key] = value
    links = raw.get("links", {})
    if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
        raise SandboxSeedError(f"{path}: 'links' must map customer ids to profile ids (text)")
    seed["links"] = links
    account = raw.get("account", {})
    if not isinstance(account, dict):
        raise SandboxSeedError(
            f"{path}: 'account' must be an object like {{\"opt_in_process\": \"double_opt_in\"}}"
        )
    seed["account"] = account
    return seed


def _resolve_links(
    links: Mapping[str, str], profiles: list[dict[str, Any]], ids: Mapping[Any, str]
) -> dict[str, str]:
    by_index = {str(key): value for key, value in ids.items()}
    known = set(by_index.values())
    by_email: dict[str, str] = {}
    for index, profile in enumerate(profiles):
        email = (profile.get("attributes") or {}).get("email")
        if isinstance(email, str) and str(index) in by_index:
            by_email.setdefault(email.casefold(), by_index[str(index)])
    resolved = {}
    for customer_id, ref in links.items():
        if ref in known:
            resolved[str(customer_id)] = ref
        elif ref.startswith("#") and ref[1:] in by_index:
            resolved[str(customer_id)] = by_index[ref[1:]]
        elif "@" in ref and ref.casefold() in by_email:
            resolved[str(customer_id)] = by_email[ref.casefold()]
        else:
            resolved[str(customer_id)] = ref  # a stale link, on purpose
    return resolved


def _seconds_of(wall_clock: Callable[[], datetime]) -> Callable[[], float]:
    return lambda: wall_clock().timestamp()


def _service_of(path: str) -> str | None:
    head = path.split("/", 2)[1].lower() if path.startswith("/") and len(path) > 1 else ""
    if head == "api":
        return "klaviyo"
    if head in ("customers", "sso"):
        return "ipaas"
    return None


def _klaviyo_emulator(
    creds: SandboxCredentials,
    knobs: Knobs,
    *,
    rng: random.Random | None = None,
    wall_clock: Callable[[], datetime] | None = None,
) -> KlaviyoSide:
    from core.sandbox.klaviyo import KlaviyoEmulator

    emulator: KlaviyoSide = KlaviyoEmulator(
        api_key=creds.klaviyo_api_key, rate_scale=knobs.rate_scale, rng=rng,
        wall_clock=wall_clock,
    )
    return emulator


KLAVIYO_MAX_BODY = 5 * 1024 * 1024


async def serve_sandbox(
    sandbox: Sandbox,
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[LoopbackServer], None] | None = None,
) -> None:
    """Serve the sandbox on one loopback port until cancelled; `ready` gets the bound server."""
    # Klaviyo takes bodies up to 5 MB (bulk import jobs); the 1 MiB default suits listen.
    server = LoopbackServer(
        sandbox.transport.handle_async_request, host, port, max_body=KLAVIYO_MAX_BODY
    )
    await server.start()
    sandbox.credentials = sandbox.credentials.at(server.url)
    try:
        if ready is not None:
            ready(server)
        await server.serve_forever()
    finally:
        with contextlib.suppress(Exception):
            await server.close()
        sandbox.flush()
