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
from core.clients.klaviyo import PAGE_MAX, KlaviyoClient
from core.clients.limiter import RateLimitState
from core.config import Config, ConfigError
from core.engine import flow, guarding, records
from core.engine import undo as undo_flow
from core.engine.batch import (
    DEFAULT_WORKERS,
    READ_WORKERS,
    SYNC_PAGE,
    BatchProgress,
    Item,
    Page,
    customers_source,
    ids_source,
    run_batch,
    run_pages,
)
from core.engine.context import Context, CustomerNotFound, PushResult, StageFailure
from core.engine.customer_index import (
    CustomerIndexer,
    CustomerSearch,
    IndexFeed,
    IndexingIpaas,
    IndexStatus,
)
from core.engine.guarding import Confirm, GuardSurvey
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
from core.engine.lookups import SharedLookups, Unread
from core.engine.report import ImpactReport, impact
from core.engine.shared import BatchCalls
from core.engine.undo import UndoResult
from core.mapping import TemplateError, load_template
from core.model import (
    Customer,
    CustomerDataError,
    ErrorRecord,
    ErrorStatus,
    GuardKind,
    OptIn,
    Plan,
)
from core.plan import ConsentPolicy, PlanSettings
from core.store import ConsentEmails, ErrorLog, History, KeyValue
from core.store.customers import CustomerIndex

if TYPE_CHECKING:
    from core.sandbox import Sandbox

log = logging.getLogger("core.engine")

BatchResult = BatchProgress


def _trigger(bulk: bool) -> str:
    return "bulk" if bulk else "batch"


async def _given(deferred: flow.Deferred) -> AsyncIterator[Item]:
    for customer_id, (customer, _) in deferred.plans.items():
        yield customer_id, customer

ResultCallback = Callable[[PushResult], None]
ProgressCallback = Callable[[BatchProgress], None]


def consent_policy(config: Config, sandbox: Sandbox | None) -> ConsentPolicy:
    """`[consent]` of the config; on the sandbox, its account's opt-in process (the seed's
    account.opt_in_process), which Klaviyo's API does not tell."""
    account = config.account_opt_in
    if sandbox is not None:
        account = str(getattr(sandbox.klaviyo, "opt_in_process", account))
    return ConsentPolicy(
        hold=frozenset(GuardKind(kind) for kind in config.consent_hold),
        account_opt_in=OptIn(account), resend_days=config.consent_resend_days,
        brake_share=config.consent_brake_share, brake_min=config.consent_brake_min)


class UnknownErrorId(LookupError):
    """An error id that is not in the error log."""


class Engine:
    """Preview, push, batch, retry and listen over one set of clients and stores."""

    def __init__(self, config: Config, ctx: Context, *, sandbox: Sandbox | None,
                 indexer: CustomerIndexer) -> None:
        self.config = config
        self._ctx = ctx
        self._indexer = indexer
        self.sandbox = sandbox
        self.errors: ErrorLog = ctx.errors
        self.history: History = ctx.history
        self.consent_emails: ConsentEmails = ctx.consent_emails
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
        policy = retry or RetryPolicy.from_settings(config)
        now = records.now_iso if clock is None else records.iso_clock(clock)
        feed = IndexFeed(CustomerIndex(state), now)
        try:
            klaviyo = KlaviyoClient(klaviyo_key, base_url=klaviyo_url, revision=config.revision,
                                    transport=transport, retry=policy, rate_scale=rate_scale)
            ipaas = IndexingIpaas(ipaas_token, system_id, feed=feed, base_url=ipaas_url,
                                  transport=transport, retry=policy)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        ctx = Context(
            klaviyo=klaviyo,
            ipaas=ipaas,
            template=template,
            settings=PlanSettings(sms_consent=config.sms_consent,
                                  default_region=config.default_region,
                                  policy=consent_policy(config, sandbox)),
            errors=ErrorLog(state, secrets=secrets),
            history=History(state, secrets=secrets),
            lists=ListCache(KeyValue(state, "cache", secrets=secrets)),
            consent_emails=ConsentEmails(state),
            secrets=secrets,
            now=now,
        )
        return cls(config, ctx, sandbox=sandbox, indexer=CustomerIndexer(ipaas, now))

    async def close(self) -> None:
        """Close the clients and persist the sandbox."""
        if self._closed:
            return
        self._closed = True
        await self._indexer.close()
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

    async def preview(self, customer_id: str, *, resend_consent_email: bool = False) -> Plan:
        """Design §3 steps 1-5, writing nothing; raises CustomerNotFound, StageFailure or
        CustomerDataError."""
        return await flow.preview(self._ctx, customer_id.strip(),
                                  resend_consent_email=resend_consent_email)

    async def push(self, customer_id: str, *, confirm: Confirm = False,
                   resend_consent_email: bool = False, trigger: str = "manual",
                   confirmed: bool | None = None) -> PushResult:
        """Push one customer on a fresh plan; failures come back recorded.

        `confirm` True confirms every held kind (push --yes, the console's dialog); a manual
        push of an id iPaaS.com does not know raises CustomerNotFound and records nothing.
        `confirmed` is the old name of `confirm=True`.
        """
        if confirmed is not None:
            confirm = confirm or confirmed
        result = await flow.push(self._ctx, customer_id.strip(), confirm=confirm,
                                 trigger=trigger, resend_consent_email=resend_consent_email)
        if result is None:
            raise RuntimeError("a push without a brake was deferred")
        return result

    async def undo(self, history_ids: Sequence[str] = (), *, since: str | None = None,
                   trigger: str | None = None, apply: bool = False, confirmed: bool = False,
                   reverse_consent: bool = False) -> list[UndoResult]:
        """Plan (and with `apply`, run) the reverse of pushes named by id or since a time."""
        entries = undo_flow.entries_to_undo(self._ctx, history_ids, since=since, trigger=trigger)
        return await undo_flow.undo_many(self._ctx, entries, confirmed=confirmed,
                                         reverse_consent=reverse_consent, apply=apply)

    async def report(self, ids: Iterable[str] | None, *, template: Path | None = None,
                     compare: Path | None = None,
                     on_progress: ProgressCallback | None = None,
                     cancel: asyncio.Event | None = None) -> ImpactReport:
        """Plan the chosen customers (None: all) under a template and optionally a second one;
        writes nothing anywhere. A bad template file raises ConfigError."""
        try:
            chosen = load_template(template) if template is not None else None
            other = load_template(compare) if compare is not None else None
        except TemplateError as exc:
            raise ConfigError(str(exc)) from None
        return await impact(self._ctx, ids, template=chosen, compare=other,
                            on_progress=on_progress, cancel=cancel)

    async def search_customers(self, query: str) -> CustomerSearch:
        """Customers by id; or by email or name, whole (iPaaS.com) or in part (the index)."""
        return await self._indexer.search(query)

    async def customer_index(self) -> IndexStatus:
        """How many customers the local index holds (those read so far included), how fresh,
        and whether it is building."""
        return await self._indexer.status(settle=True)

    async def refresh_customer_index(self, *, on_progress: Callable[[int], None] | None = None,
                                     if_older: bool = False) -> IndexStatus | None:
        """Page every customer into the index; with `if_older`, only when the last refresh is
        older than `[console] customer_index_hours` (None when it was not)."""
        if if_older and not await self._indexer.due(self.config.customer_index_hours):
            return None
        return await self._indexer.refresh(on_progress)

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

    async def sync(self, ids: Iterable[str] | None, *, bulk: bool = False,
                   confirm: Iterable[str] = frozenset(), allow_unsubscribe: bool = False,
                   on_progress: ProgressCallback | None = None,
                   cancel: asyncio.Event | None = None, on_result: ResultCallback | None = None,
                   workers: int = DEFAULT_WORKERS) -> BatchResult:
        """Push the given ids, or every customer (ids=None) streamed page by page.

        `confirm` names the guard kinds this run confirms (`allow_unsubscribe` is the old,
        deprecated spelling of all of them). Customers whose plan unsubscribes wait until the
        rest are done; if they are more than the brake allows, they are held (see
        BatchResult.brake) unless `confirm` has "unsubscribe".
        """
        kinds = guarding.ALL if allow_unsubscribe else frozenset(str(k) for k in confirm)
        ctx = self._batch_ctx(bulk, fill=bulk)
        assert ctx.calls is not None
        calls, lookups = ctx.calls, SharedLookups(ctx, ctx.calls)
        deferred = flow.Deferred()
        trigger = _trigger(bulk)
        page, customers = (PAGE_MAX, max(workers, BULK_WORKERS)) if bulk else (SYNC_PAGE, workers)

        def told(results: list[PushResult]) -> list[PushResult]:
            if on_result is not None:
                for result in results:
                    on_result(result)
            return results

        async def push_page(page: Page) -> list[PushResult]:
            return told(await flow.push_page(ctx, page, lookups=lookups, confirm=kinds,
                                             trigger=trigger, defer=deferred))

        items, total = self._items(ids)
        progress = await run_pages(items, push_page, BatchProgress(total=total), page=page,
                                   customers=customers, on_progress=on_progress, cancel=cancel)
        if not deferred or progress.cancelled:
            return progress
        progress.finished = None
        verdict = guarding.brake(len(deferred), progress.processed + len(deferred),
                                 share=ctx.settings.policy.brake_share,
                                 minimum=ctx.settings.policy.brake_min)
        progress.brake = verdict

        async def push_deferred(page: Page) -> list[PushResult]:
            if not verdict.tripped:
                return told(await flow.push_page(ctx, page, lookups=lookups, confirm=kinds,
                                                 trigger=trigger))
            held = [flow.hold(ctx, deferred.plans[customer_id][1], kinds, trigger,
                              because=verdict.message()) for customer_id, _ in page]
            await calls.settle(customer_id for customer_id, _ in page)
            return told([result for result in held if result is not None])

        return await run_pages(_given(deferred), push_deferred, progress, page=page,
                               customers=customers, on_progress=on_progress, cancel=cancel)

    async def survey(self, ids: Iterable[str] | None) -> GuardSurvey:
        """The plans of a run, read as the run would read them and writing nothing: how many
        customers need each kind of confirmation, and how many would unsubscribe."""
        ctx = self._batch_ctx(False, fill=True)
        assert ctx.calls is not None
        lookups = SharedLookups(ctx, ctx.calls)
        survey = GuardSurvey()

        async def plan_page(page: Page) -> None:
            for (customer_id, _), gathered in zip(page, await lookups.gather_page(page),
                                                  strict=True):
                try:
                    if isinstance(gathered, Unread):
                        raise gathered.error
                    plan = gathered.plan(ctx.template, ctx.settings)
                except (CustomerNotFound, CustomerDataError, StageFailure):
                    survey.failed.append(customer_id)
                    continue
                survey.add(customer_id, plan)

        items, total = self._items(ids)
        await run_pages(items, plan_page, BatchProgress(total=total), page=PAGE_MAX,
                        customers=READ_WORKERS)
        return survey

    def _batch_ctx(self, bulk: bool, *, fill: bool = False) -> Context:
        # Reads, consent jobs and list calls are shared across the batch's customers; with
        # `bulk`, profile writes too, as profile-bulk-import jobs.
        return replace(self._ctx, calls=BatchCalls(self._ctx.klaviyo, bulk=bulk, fill=fill))

    def _items(self, ids: Iterable[str] | None) -> tuple[AsyncIterator[Item], int | None]:
        if ids is None:
            return customers_source(self._ctx.ipaas.iter_customers()), None
        wanted = flow.customers_of(ids)
        return ids_source(wanted), len(wanted)

    async def retry(self, error_ids: Sequence[str] | None, *,
                    on_progress: ProgressCallback | None = None,
                    cancel: asyncio.Event | None = None,
                    on_result: ResultCallback | None = None,
                    workers: int = DEFAULT_WORKERS) -> BatchResult:
        """Re-plan and push the customers of these error records (None: every open record).

        A record keeps the consent operations the operator confirmed: a fresh plan with the
        same ones carries that confirmation, a changed one is held again.
        """
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
        carried = {r.customer_id: r.confirmed for r in chosen}
        customers = flow.customers_of(r.customer_id for r in chosen)
        # A failed undo is retried as an undo: a push would re-apply what it took back.
        undos = {r.customer_id: r for r in chosen if undo_flow.undone_history_id(r)}

        async def push_one(customer_id: str, customer: Customer | None) -> PushResult | None:
            if customer_id in undos:
                result: PushResult | None = await undo_flow.retry(self._ctx, undos[customer_id])
            else:
                result = await flow.push(self._ctx, customer_id, trigger="retry",
                                         customer=customer, carried=carried.get(customer_id))
            if result is not None and on_result is not None:
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

        return HookHandler(push_one, secret, on_result=on_result,
                           system_id=self.config.ipaas_system_id)

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
