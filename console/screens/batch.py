"""Batch sync: pick ids or all customers, watch progress, throughput and rate-limit headroom."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, ProgressBar, RichLog, Sparkline, Static

from console.keymap import binding, effective_keys
from console.screens.base import Counts, CountsChanged, say, wait_engine
from console.screens.batch_dialogs import BrakeScreen, SurveyScreen
from console.widgets.outcomes import UNSUBSCRIBE, brake_of, brake_words, survey_counts
from console.widgets.screenbar import ScreenBar
from console.widgets.tickbox import TickBox
from console.widgets.words import not_ids_refusal, parse_ids
from core.model import GuardKind


class BatchFinished(Message):
    def __init__(self, counts: Counts | None, cancelled: bool, error: str | None,
                 brake: Any = None, unsubscribes_only: bool = False) -> None:
        super().__init__()
        self.counts = counts
        self.cancelled = cancelled
        self.error = error
        self.brake = brake  # the tripped brake's verdict, or None
        self.unsubscribes_only = unsubscribes_only


class SurveyDone(Message):
    """The run's plans were read: what needs confirming (None: the engine has no survey)."""

    def __init__(self, survey: Any) -> None:
        super().__init__()
        self.survey = survey


class NotificationReceived(Message):
    """An outbound-trigger notification arrived while `listen` is on."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


def headroom(limits: Mapping[str, Any]) -> float:
    """The tightest Klaviyo rate-limit bucket's remaining share, in percent (100 = idle)."""
    shares = []
    for state in limits.values():
        limit = getattr(state, "limit", None)
        remaining = getattr(state, "remaining", None)
        if isinstance(state, Mapping):
            limit, remaining = state.get("limit"), state.get("remaining")
        if limit and remaining is not None:
            shares.append(100.0 * float(remaining) / float(limit))
    return min(shares) if shares else 100.0


def counts_line(counts: Counts, rate: float | None) -> str:
    """Progress in words: a known total, or a count still running, and the speed once measured."""
    if counts.total is None:
        head = f"{counts.finished} so far (counting customers…)"
    else:
        head = f"{counts.finished} of {counts.total}"
    speed = "measuring speed…" if rate is None else f"{rate:.1f} customers/s"
    return (f"{head}   done {counts.done}   failed {counts.failed}   held {counts.held}   "
            f"{speed}")


def key_of(app: Any, binding_id: str) -> str:
    """The key in force for a binding, as the footer names it ("F11", "Ctrl+T")."""
    keys = effective_keys(getattr(app, "keymap", {}))[binding_id]
    first = keys.split(",")[0]
    return "+".join(part.capitalize() if len(part) > 1 and not part.startswith("f")
                    else part.upper() for part in first.split("+"))


async def start_sync(engine: Any, ids: list[str] | None, *, bulk: bool,
                     confirm: frozenset[str], on_progress: Any, cancel: asyncio.Event) -> Any:
    """engine.sync with the run's confirmed kinds (an engine before issue 14 knows only the
    all-or-nothing allow_unsubscribe, which this screen no longer offers)."""
    if hasattr(engine, "survey"):
        kinds = frozenset(GuardKind(kind) for kind in confirm)
        return await engine.sync(ids, bulk=bulk, confirm=kinds, on_progress=on_progress,
                                 cancel=cancel)
    return await engine.sync(ids, bulk=bulk, on_progress=on_progress, cancel=cancel)


class BatchScreen(Screen[None]):
    """Run engine.sync over chosen ids or every customer, with live figures and cancel."""

    # Parsed when this screen is first shown, not at start-up with console.tcss; unscoped so
    # the rules read exactly as they did there.
    SCOPED_CSS = False
    DEFAULT_CSS = """
        #batch-pick { height: 3; padding: 0 1; }
        #batch-pick Input { width: 1fr; }
        #batch-options { height: 1; padding: 0 2; }
        #batch-options Checkbox {
            width: auto; height: 1; border: none; padding: 0; margin-right: 3;
        }
        #batch-body { height: 1fr; }
        #batch-run {
            height: auto;
            border: round $panel-lighten-2;
            border-title-color: $text-muted;
            padding: 0 1;
        }
        #batch-progress { height: 1; }
        #batch-counts { height: auto; }
        #batch-charts { height: auto; }
        .chart { width: 1fr; height: auto; padding-right: 2; }
        .chart Sparkline { height: 3; }
        Screen.-narrow #batch-charts { layout: vertical; }
        Screen.-narrow .chart Sparkline { height: 2; }
        #feed {
            height: 1fr;
            min-height: 8;
            scrollbar-gutter: stable;
            border: round $panel-lighten-2;
            border-title-color: $text-muted;
        }
    """

    HELP = ("Batch sync. Type ids (or tick All customers), F5 starts, F10 cancels. Before a "
            "run, a dialog asks which consent changes it may make; the rest are held as "
            "errors (F6).")
    BINDINGS = [
        binding("batch-start", "start"),
        binding("batch-cancel", "cancel_batch"),
        binding("batch-all", "toggle_all"),
        binding("listen", "toggle_listen"),
    ]
    SAMPLE_SECONDS = 0.25
    LISTEN_HOST = "127.0.0.1"

    running: reactive[bool] = reactive(False, bindings=True)

    def __init__(self) -> None:
        super().__init__()
        self.cancel_event: asyncio.Event | None = None
        self.counts = Counts(None, 0, 0, 0)
        self.throughput: deque[float] = deque([0.0] * 60, maxlen=60)
        self.headroom: deque[float] = deque([100.0] * 60, maxlen=60)
        self.last_finished = 0
        self.last_sample = time.monotonic()
        self.started = time.monotonic()
        self.rate = 0.0
        self.known_total: int | None = None
        self.speed: float | None = None  # customers/s since the run started, as last sampled
        self.listener: Any = None  # core.engine.listen.Listening while listen is on
        self.sampler: Timer | None = None
        self.run_ids: list[str] | None = None
        self.bulk = False
        self.confirm: frozenset[str] = frozenset()
        self.unsubscribing: list[str] | None = None  # the survey's customers who unsubscribe

    def compose(self) -> ComposeResult:
        yield ScreenBar("batch")
        with Horizontal(id="batch-pick"):
            yield Input(placeholder="Customer ids, such as 55260 55261 55262", id="batch-ids")
        with Horizontal(id="batch-options"):
            yield TickBox("All customers (F3)", id="batch-all")
            yield TickBox("Bulk import jobs", id="batch-bulk")
        with VerticalScroll(id="batch-body"):
            with Vertical(id="batch-run"):
                yield ProgressBar(id="batch-progress", show_eta=False)
                yield Static("Not started.", id="batch-counts")
                with Horizontal(id="batch-charts", classes="panes"):
                    with Vertical(classes="chart"):
                        yield Label(f"Throughput (customers/s, last "
                                    f"{round(60 * self.SAMPLE_SECONDS)} s)")
                        yield Sparkline(list(self.throughput), id="throughput")
                    with Vertical(classes="chart"):
                        yield Label("Klaviyo rate-limit headroom (% left)")
                        yield Sparkline(list(self.headroom), id="headroom")
            # min_width: RichLog's default (78) would cut wrapped lines at 80 columns.
            yield RichLog(id="feed", max_lines=500, wrap=True, markup=False, min_width=20)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#batch-run").border_title = "Progress"
        # An idle bar with no total would animate as if a run were going.
        self.query_one("#batch-progress").display = False
        self.query_one("#batch-all", TickBox).label = (
            f"All customers ({key_of(self.app, 'batch-all')})")
        feed = self.query_one("#feed", RichLog)
        feed.border_title = "Outbound notifications (listen)"
        feed.write(f"listen is off: {key_of(self.app, 'listen')} takes iPaaS.com outbound "
                   "notifications here")
        self.sampler = self.set_interval(self.SAMPLE_SECONDS, self.sample)

    def on_screen_suspend(self) -> None:
        # Nobody sees the charts while another screen is shown; the counts still arrive.
        if self.sampler is not None:
            self.sampler.pause()

    def on_screen_resume(self) -> None:
        if self.sampler is not None:
            self.sampler.resume()
        # The old ids selected, so typing replaces them.
        field = self.query_one("#batch-ids", Input)
        field.focus()
        field.select_all()

    # ------------------------------------------------------------------ figures

    def average_rate(self) -> float | None:
        """Customers per second since the run started; None until the first one finishes."""
        if not self.counts.finished:
            return None
        return self.counts.finished / max(time.monotonic() - self.started, 1e-6)

    def sample(self) -> None:
        """Every SAMPLE_SECONDS: throughput since the last sample and the tightest headroom."""
        now = time.monotonic()
        elapsed = max(now - self.last_sample, 1e-6)
        finished = self.counts.finished
        self.rate = (finished - self.last_finished) / elapsed if self.running else 0.0
        self.last_finished, self.last_sample = finished, now
        self.throughput.append(self.rate)
        engine: Any = getattr(self.app, "engine", None)
        if engine is not None:
            try:
                self.headroom.append(headroom(engine.rate_limits()))
            except Exception:  # figures are best effort; the batch itself reports failures
                self.headroom.append(self.headroom[-1])
        self.query_one("#throughput", Sparkline).data = list(self.throughput)
        self.query_one("#headroom", Sparkline).data = list(self.headroom)
        if self.running and self.cancel_event is not None and not self.cancel_event.is_set():
            self.speed = self.average_rate()
            self.show_counts()

    def show_counts(self, suffix: str = "") -> None:
        self.query_one("#batch-counts", Static).update(
            counts_line(self.counts, self.speed) + suffix)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Hidden, not greyed: the footer lists only what a key does now.
        if action == "start":
            return not self.running
        if action == "cancel_batch":
            return self.running
        if action == "toggle_all":
            return not self.running  # a running batch keeps the customers it started with
        return True

    def action_toggle_all(self) -> None:
        box = self.query_one("#batch-all", TickBox)
        box.value = not box.value

    @on(TickBox.Changed, "#batch-all")
    def all_toggled(self, event: TickBox.Changed) -> None:
        # Greyed while All customers is ticked: the ids in it are not what a run would take.
        self.query_one("#batch-ids", Input).disabled = event.value

    @on(Input.Submitted, "#batch-ids")
    def ids_submitted(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.running:
            return
        everyone = self.query_one("#batch-all", TickBox).value
        ids = parse_ids(self.query_one("#batch-ids", Input).value)
        if not everyone and not ids:
            self.notify("Type customer ids or tick All customers.", severity="warning")
            return
        refusal = None if everyone else not_ids_refusal(ids, "nothing was started")
        if refusal:
            self.notify(refusal, severity="warning", markup=False)
            return
        self.running = True
        self.cancel_event = None  # until the run starts, F10 cancels the planning
        self.run_ids = None if everyone else ids
        self.bulk = self.query_one("#batch-bulk", TickBox).value
        self.known_total = None if everyone else len(ids)
        self.unsubscribing = None
        self.query_one("#batch-counts", Static).update(
            f"Planning {'all customers' if everyone else f'{len(ids)} customer(s)'} to see "
            "which consent changes need your confirmation…")
        self.survey_run(self.run_ids)

    @work(group="batch", exit_on_error=False)
    async def survey_run(self, ids: list[str] | None) -> None:
        """Plan the run without writing; the dialog then asks what it may confirm."""
        try:
            engine: Any = await wait_engine(self.app)
            survey = await engine.survey(ids) if hasattr(engine, "survey") else None
        except Exception as exc:
            self.post_message(BatchFinished(None, False, say(exc)))
            return
        self.post_message(SurveyDone(survey))

    def on_survey_done(self, message: SurveyDone) -> None:
        if not self.running:
            return  # cancelled while planning
        survey = message.survey
        if survey is None:
            self.run_with(frozenset())
            return
        customers = int(getattr(survey, "customers", 0))
        if self.known_total is None:
            self.known_total = customers
        self.unsubscribing = list(getattr(survey, "unsubscribes", []) or [])
        counts = survey_counts(survey)
        if not any(counts.values()):
            self.run_with(frozenset())
            return
        self.app.push_screen(SurveyScreen(counts, customers, len(self.unsubscribing)),
                             self.survey_answered)

    def survey_answered(self, confirm: frozenset[str] | None) -> None:
        if confirm is None:
            self.running = False
            self.query_one("#batch-counts", Static).update(
                "Batch not started: cancelled in the consent dialog.")
            self.notify("Batch not started.", title="Batch", severity="information")
            return
        self.run_with(confirm)

    def run_with(self, confirm: frozenset[str], ids: list[str] | None = None,
                 *, unsubscribes_only: bool = False) -> None:
        self.confirm = confirm
        self.cancel_event = asyncio.Event()
        chosen = self.run_ids if ids is None else ids
        total = self.known_total if ids is None else len(ids)
        self.counts = Counts(total, 0, 0, 0)
        self.last_finished = 0
        self.started = time.monotonic()
        self.speed = None
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=0)
        self.show_counts()
        self.refresh_bindings()
        self.run_batch(chosen, self.bulk, confirm, self.cancel_event, unsubscribes_only)

    def action_cancel_batch(self) -> None:
        if self.running and self.cancel_event is None:  # still planning: nothing was sent
            self.workers.cancel_group(self, "batch")
            self.running = False
            self.query_one("#batch-counts", Static).update(
                "Batch not started: cancelled while planning.")
            return
        if self.cancel_event is not None and self.running:
            self.cancel_event.set()
            self.show_counts("   cancelling…")

    @work(group="batch", exit_on_error=False)
    async def run_batch(self, ids: list[str] | None, bulk: bool, confirm: frozenset[str],
                        cancel: asyncio.Event, unsubscribes_only: bool) -> None:
        """Drive engine.sync; progress arrives as CountsChanged messages."""
        try:
            engine = await wait_engine(self.app)
            final = await start_sync(
                engine, ids, bulk=bulk, confirm=confirm, cancel=cancel,
                on_progress=lambda p: self.post_message(CountsChanged(Counts.of(p))))
        except Exception as exc:
            self.post_message(BatchFinished(None, cancel.is_set(), say(exc)))
            return
        # Cancelled only when the engine stopped early: F10 after the last customer is moot.
        cancelled = bool(getattr(final, "cancelled", False))
        self.post_message(BatchFinished(Counts.of(final), cancelled, None, brake_of(final),
                                        unsubscribes_only))

    def with_known_total(self, counts: Counts) -> Counts:
        if counts.total is None and self.counts.total is not None:
            return replace(counts, total=self.counts.total)
        return counts

    def on_counts_changed(self, message: CountsChanged) -> None:
        if not self.running:
            return
        self.counts = self.with_known_total(message.counts)
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=self.counts.total, progress=self.counts.finished)
        suffix = "   cancelling…" if self.cancel_event and self.cancel_event.is_set() else ""
        self.show_counts(suffix)

    def on_batch_finished(self, message: BatchFinished) -> None:
        self.running = False
        self.refresh_bindings()
        bar = self.query_one("#batch-progress", ProgressBar)
        if message.counts is not None:
            self.counts = self.with_known_total(message.counts)
            bar.update(total=self.counts.total or self.counts.finished or 1,
                       progress=self.counts.finished)
        else:
            bar.display = False
        state = "cancelled" if message.cancelled else "finished"
        what = "Unsubscribes" if message.unsubscribes_only else "Batch"
        if message.error:
            text = f"{what} failed: {message.error}"
            self.notify(text, title="Batch", severity="error", markup=False)
        else:
            c = self.counts
            text = (f"{what} {state}: {c.done} done, {c.failed} failed, {c.held} held by the "
                    "consent guard")
            if message.cancelled and c.total and c.total > c.finished:
                text += f", {c.total - c.finished} not started"
            # Only a failed or held customer leaves a record to read in the error log.
            text += (f" (see {key_of(self.app, 'show-errors')} errors)." if c.failed or c.held
                     else ".")
            self.notify(text, title="Batch",
                        severity="warning" if c.failed or c.held or message.cancelled
                        else "information", markup=False)
        self.query_one("#batch-counts", Static).update(Content(text))
        if message.brake is not None and not message.cancelled:
            self.app.push_screen(BrakeScreen(brake_words(message.brake)), self.brake_answered)

    def brake_answered(self, apply: bool) -> None:
        if not apply:
            self.notify("The unsubscribes stay held as consent_guard errors (F6).",
                        title="Brake", severity="information")
            return
        # The survey named who unsubscribes; without it, the run again (the others are no-ops).
        ids = self.unsubscribing if self.unsubscribing else self.run_ids
        self.running = True
        self.run_with(self.confirm | {UNSUBSCRIBE}, ids, unsubscribes_only=True)

    def on_notification_received(self, message: NotificationReceived) -> None:
        self.query_one("#feed", RichLog).write(message.line)

    # ------------------------------------------------------------------ listen

    def action_toggle_listen(self) -> None:
        if self.listener is None:
            self.start_listen()
        else:
            self.stop_listen()

    @work(group="listen", exclusive=True, exit_on_error=False)
    async def start_listen(self) -> None:
        """Take outbound notifications on loopback and follow sandbox customer changes."""
        from core.engine.listen import ListenError

        def feed(line: str) -> None:
            self.post_message(NotificationReceived(line))

        try:
            engine: Any = await wait_engine(self.app)
            port = getattr(engine.config, "listen_port", None) or 0
            listening = await engine.listen(self.LISTEN_HOST, port, feed)
        except ListenError as exc:
            feed(f"listen not started: {exc}")
            return
        except Exception as exc:
            feed(f"listen not started: {say(exc)}")
            return
        self.listener = listening
        feed(f"listening on {listening.url}/ (POST, Authorization: Bearer <secret>)")
        # The generated secret stays off the screen (screenshots); the CLI prints it.
        feed("a shared secret is required: " + (
            "one was generated for this sandbox run (set KLAVIYO_CONSOLE_LISTEN_SECRET "
            "to post your own)" if listening.generated_secret else
            "the configured [listen] secret"))
        if listening.following_sandbox:
            feed("following sandbox customer changes")
        self.refresh_bindings()

    @work(group="listen", exclusive=True, exit_on_error=False)
    async def stop_listen(self) -> None:
        await self.close_listen()
        self.post_message(NotificationReceived("listen stopped"))

    async def close_listen(self) -> None:
        listening, self.listener = self.listener, None
        if listening is not None:
            with contextlib.suppress(Exception):
                await listening.close()
        self.refresh_bindings()

    async def on_unmount(self) -> None:
        await self.close_listen()
