"""The engine the CLI and the console share: clients, stores and mapping behind async calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from core.clients.http import RetryListener, RetryPolicy
from core.clients.ipaas import IpaasClient
from core.clients.klaviyo import KlaviyoClient
from core.clients.limiter import RateLimitState
from core.config import Config, ConfigError
from core.engine import flow, records
from core.engine.batch import (
    DEFAULT_WORKERS,
    BatchProgress,
    Item,
    customers_source,
    ids_source,
    run_batch,
)
from core.engine.context import Context, PushResult
from core.engine.import_jobs import BULK_WORKERS
from core.engine.list_cache import ListCache
from core.engine.listen import (
    CUSTOMER_SCOPES,
    HookHandler,
    Listening,
    Notification,
    listen_secret,
    notification_line,
    sandbox_change_line,
    start_server,
)
from core.engine.shared import BatchCalls
from core.mapping import TemplateError, load_template
from core.model import Customer, ErrorRecord, ErrorStatus, Plan
from core.plan import PlanSettings
from core.store import ErrorLog, History, KeyValue

if TYPE_CHECKING:
    from core.sandbox import Sandbox

log = logging.getLogger("core.engine")

ResultCallback = Callable[[PushResult], None]
ProgressCallback = Callable[[BatchProgress], None]


class UnknownErrorId(LookupError):
    """An error id that is not in the error log."""


class Engine:
    """Preview, push, batch, retry and listen over one set of clients and stores."""

    def __init__(self, config: Config, ctx: Context, *, sandbox: Sandbox | None) -> None:
        self.config = config
        self._ctx = ctx
        self.sandbox = sandbox
        self.errors: ErrorLog = ctx.errors
        self.history: History = ctx.history
        self.template = ctx.template
        self._closed = False
        self._following: list[Callable[[str, str], None]] = []

    # ---- lifecycle ---------------------------------------------------------------------

    @classmethod
    async def open(cls, config: Config, *, sandbox: Sandbox | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   retry: RetryPolicy | None = None,
                   clock: Callable[[], datetime] | None = None) -> Engine:
        """Build clients (on the sandbox when configured), stores and the mapping template.

        `sandbox` and `transport` let tests wrap or share what the engine talks to; `clock`
        fixes the time error records and history entries carry (ids already come in order).
        """
        try:
            template = load_template(config.template_path)
        except TemplateError as exc:
            raise ConfigError(str(exc)) from None
        state = Path(config.state_dir)
        try:
            state.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create state directory {state}: {exc.strerror}") from None
        rate_scale = 1.0
        if config.sandbox:
            from core.sandbox import Knobs, Sandbox, SandboxSeedError

            try:
                knobs = Knobs.from_env()
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            if sandbox is None:
                try:
                    sandbox = Sandbox(state, seed=config.sandbox_seed, knobs=knobs)
                except SandboxSeedError as exc:
                    raise ConfigError(str(exc)) from None
            knobs = sandbox.knobs
            creds = sandbox.credentials
            klaviyo_key, ipaas_token, system_id = (
                creds.klaviyo_api_key, creds.ipaas_token, creds.ipaas_system_id)
            klaviyo_url = ipaas_url = creds.base_url
            transport = transport or sandbox.transport
            rate_scale = knobs.rate_scale
            secrets: tuple[str, ...] = (*config.secrets, *creds.secrets)
        else:
            klaviyo_key, ipaas_token, system_id = (
                config.klaviyo_api_key, config.ipaas_token, config.ipaas_system_id)
            klaviyo_url, ipaas_url = config.klaviyo_base_url, config.ipaas_base_url
            secrets = config.secrets
        policy = retry or RetryPolicy(max_attempts=max(1, config.retry_attempts))
        try:
            klaviyo = KlaviyoClient(klaviyo_key, base_url=klaviyo_url, revision=config.revision,
                                    transport=transport, retry=policy, rate_scale=rate_scale)
            ipaas = IpaasClient(ipaas_token, system_id, base_url=ipaas_url, transport=transport,
                                retry=policy)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        ctx = Context(
            klaviyo=klaviyo,
            ipaas=ipaas,
            template=template,
            settings=PlanSettings(sms_consent=config.sms_consent,
                                  default_region=config.default_region),
            errors=ErrorLog(state, secrets=secrets),
            history=History(state, secrets=secrets),
            lists=ListCache(KeyValue(state, "cache", secrets=secrets)),
            secrets=secrets,
            now=records.now_iso if clock is None else records.iso_clock(clock),
        )
        return cls(config, ctx, sandbox=sandbox)

    async def close(self) -> None:
        """Close the clients and persist the sandbox."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(self._ctx.klaviyo.aclose(), self._ctx.ipaas.aclose(),
                             return_exceptions=True)
        if self.sandbox is not None:
            self.sandbox.close()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # ---- one customer ------------------------------------------------------------------

    async def preview(self, customer_id: str) -> Plan:
        """Design §3 steps 1-5, writing nothing; raises CustomerNotFound, StageFailure or
        CustomerDataError."""
        return await flow.preview(self._ctx, customer_id.strip())

    async def push(self, customer_id: str, *, confirmed: bool = False,
                   trigger: str = "manual") -> PushResult:
        """Push one customer on a fresh plan; failures come back recorded, never raised."""
        return await flow.push(self._ctx, customer_id.strip(), confirmed=confirmed,
                               trigger=trigger)

    async def search_customers(self, query: str) -> list[Customer]:
        """Customers by id, email or name."""
        text = query.strip()
        if not text:
            return []
        if text.isdigit():
            found = await self._ctx.ipaas.get_customer(text)
            return [found] if found is not None else []
        if "@" in text:
            return await self._ctx.ipaas.search_customers(email=text)
        return await self._ctx.ipaas.search_customers(name=text)

    def on_retry(self, listener: RetryListener) -> Callable[[], None]:
        """Call `listener` before every retry wait of either service; returns the unsubscribe."""
        offs = (self._ctx.klaviyo.on_retry(listener), self._ctx.ipaas.on_retry(listener))

        def unsubscribe() -> None:
            for off in offs:
                off()

        return unsubscribe

    def rate_limits(self) -> dict[str, RateLimitState]:
        """Klaviyo's per-endpoint rate-limit state, for display."""
        return self._ctx.klaviyo.rate_limits()

    # ---- many customers ----------------------------------------------------------------

    async def sync(self, ids: Iterable[str] | None, *, allow_unsubscribe: bool = False,
                   bulk: bool = False, on_progress: ProgressCallback | None = None,
                   cancel: asyncio.Event | None = None, on_result: ResultCallback | None = None,
                   workers: int = DEFAULT_WORKERS) -> BatchProgress:
        """Push the given ids, or every customer (ids=None) streamed page by page."""
        if ids is None:
            items: AsyncIterator[Item] = customers_source(self._ctx.ipaas.iter_customers())
            total: int | None = None
        else:
            wanted = flow.customers_of(ids)
            items, total = ids_source(wanted), len(wanted)
        # Reads, consent jobs and list calls are shared across the batch's customers; with
        # `bulk`, profile writes too, as profile-bulk-import jobs.
        ctx = replace(self._ctx, calls=BatchCalls(self._ctx.klaviyo, bulk=bulk))
        if bulk:
            workers = max(workers, BULK_WORKERS)

        async def push_one(customer_id: str, customer: Customer | None) -> PushResult:
            result = await flow.push(ctx, customer_id, confirmed=allow_unsubscribe,
                                     trigger="batch", customer=customer, interactive=False)
            if on_result is not None:
                on_result(result)
            return result

        return await run_batch(items, push_one, BatchProgress(total=total), workers=workers,
                               on_progress=on_progress, cancel=cancel)

    async def retry(self, error_ids: Sequence[str] | None, *,
                    on_progress: ProgressCallback | None = None,
                    cancel: asyncio.Event | None = None,
                    on_result: ResultCallback | None = None,
                    workers: int = DEFAULT_WORKERS) -> BatchProgress:
        """Re-plan and push the customers of these error records (None: every open record)."""
        if error_ids is None:
            chosen = self._open_records()
        else:
            chosen = []
            for error_id in flow.customers_of(error_ids):
                record = self.errors.get(error_id)
                if record is None:
                    raise UnknownErrorId(f"no error record {error_id} in the error log")
                if record.status is ErrorStatus.OPEN:
                    chosen.append(record)
        customers = flow.customers_of(r.customer_id for r in chosen)

        async def push_one(customer_id: str, customer: Customer | None) -> PushResult:
            result = await flow.push(self._ctx, customer_id, trigger="retry", customer=customer)
            if on_result is not None:
                on_result(result)
            return result

        return await run_batch(ids_source(customers), push_one,
                               BatchProgress(total=len(customers)), workers=workers,
                               on_progress=on_progress, cancel=cancel)

    def _open_records(self) -> list[ErrorRecord]:
        # A snapshot: retrying resolves records, which would shift offsets under a live query.
        out: list[ErrorRecord] = []
        page = 500
        offset = 0
        while True:
            chunk = self.errors.query(status=ErrorStatus.OPEN, offset=offset, limit=page)
            out.extend(chunk)
            if len(chunk) < page:
                return out
            offset += page

    # ---- triggers ----------------------------------------------------------------------

    def hook_handler(self, secret: str, *, on_result: Callable[[Notification, PushResult | None,
                                                                   str], None] | None = None
                     ) -> HookHandler:
        """A LoopbackServer handler for iPaaS.com outbound notifications (never auto-confirms)."""

        async def push_one(customer_id: str) -> PushResult:
            return await self.push(customer_id, trigger="listen")

        return HookHandler(push_one, secret, on_result=on_result)

    async def listen(self, host: str, port: int, on_line: Callable[[str], None]) -> Listening:
        """Take outbound notifications on host:port (and sandbox changes), reporting each line."""
        secret, generated = listen_secret(self.config.listen_secret,
                                          sandbox=self.sandbox is not None)
        handler = self.hook_handler(secret, on_result=lambda note, result, status: on_line(
            notification_line(note, result, status)))
        server = await start_server(handler, host, port)
        following = self.follow_sandbox(lambda result: on_line(sandbox_change_line(result)))
        return Listening(server, secret if generated else None, following, self.unfollow_sandbox)

    def follow_sandbox(self, on_result: ResultCallback | None = None) -> bool:
        """Push sandbox customers as they change, as enabled outbound triggers would."""
        if self.sandbox is None:
            return False
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()

        async def run(customer_id: str) -> None:
            result = await self.push(customer_id, trigger="listen")
            if on_result is not None:
                on_result(result)

        def changed(scope: str, customer_id: str) -> None:
            if scope.removesuffix("/debug") not in CUSTOMER_SCOPES:
                return
            task = loop.create_task(run(customer_id))
            pending.add(task)
            task.add_done_callback(pending.discard)

        self.sandbox.add_change_listener(changed)
        self._following.append(changed)
        return True

    def unfollow_sandbox(self) -> None:
        """Stop what follow_sandbox started (pushes already under way finish)."""
        if self.sandbox is not None:
            for listener in self._following:
                self.sandbox.remove_change_listener(listener)
        self._following.clear()
