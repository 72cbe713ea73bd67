"""Batch sync: pick ids or all customers, watch progress, throughput and rate-limit headroom."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import (
    Checkbox,
    Footer,
    Input,
    Label,
    Log,
    ProgressBar,
    Sparkline,
    Static,
)

from console.keymap import binding
from console.screens.base import Counts, CountsChanged, say, wait_engine
from console.widgets.screenbar import ScreenBar


class BatchFinished(Message):
    def __init__(self, counts: Counts | None, cancelled: bool, error: str | None) -> None:
        super().__init__()
        self.counts = counts
        self.cancelled = cancelled
        self.error = error


class NotificationReceived(Message):
    """An outbound-trigger notification arrived while `listen` is on."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


def parse_ids(text: str) -> list[str]:
    """Customer ids separated by spaces, commas or new lines, duplicates dropped in order."""
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text) if part))


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


def counts_line(counts: Counts, rate: float) -> str:
    total = "?" if counts.total is None else str(counts.total)
    return (f"{counts.finished} of {total}   done {counts.done}   failed {counts.failed}   "
            f"held {counts.held}   {rate:.1f} customers/s")


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
            min-height: 3;
            border: round $panel-lighten-2;
            border-title-color: $text-muted;
        }
    """

    HELP = ("Batch sync. Type ids (or tick All customers), F5 starts, F10 cancels. Records the "
            "consent guard holds become errors unless Allow unsubscribe is ticked.")
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
        self.rate = 0.0
        self.listener: Any = None  # core.engine.listen.Listening while listen is on
        self.sampler: Timer | None = None

    def compose(self) -> ComposeResult:
        yield ScreenBar("batch")
        with Horizontal(id="batch-pick"):
            yield Input(placeholder="Customer ids: 55260 1001 1002 …", id="batch-ids")
        with Horizontal(id="batch-options"):
            yield Checkbox("All customers (F3)", id="batch-all")
            yield Checkbox("Allow unsubscribe", id="allow-unsubscribe")
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
        yield Log(id="feed", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#batch-run").border_title = "Progress"
        feed = self.query_one("#feed", Log)
        feed.border_title = "Outbound notifications (listen)"
        feed.write_line("listen is off: Ctrl+T (or F11) takes iPaaS.com outbound notifications "
                        "here")
        self.query_one("#batch-ids", Input).focus()
        self.sampler = self.set_interval(self.SAMPLE_SECONDS, self.sample)

    def on_screen_suspend(self) -> None:
        # Nobody sees the charts while another screen is shown; the counts still arrive.
        if self.sampler is not None:
            self.sampler.pause()

    def on_screen_resume(self) -> None:
        if self.sampler is not None:
            self.sampler.resume()

    # ------------------------------------------------------------------ figures

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
        if self.running:
            self.query_one("#batch-counts", Static).update(counts_line(self.counts, self.rate))

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start" and self.running:
            return None
        if action == "cancel_batch" and not self.running:
            return None
        return True

    def action_toggle_all(self) -> None:
        box = self.query_one("#batch-all", Checkbox)
        box.value = not box.value

    @on(Input.Submitted, "#batch-ids")
    def ids_submitted(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.running:
            return
        everyone = self.query_one("#batch-all", Checkbox).value
        ids = parse_ids(self.query_one("#batch-ids", Input).value)
        if not everyone and not ids:
            self.notify("Type customer ids or tick All customers.", severity="warning")
            return
        self.running = True
        self.cancel_event = asyncio.Event()
        self.counts = Counts(None if everyone else len(ids), 0, 0, 0)
        self.last_finished = 0
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=self.counts.total, progress=0)
        self.query_one("#batch-counts", Static).update(
            f"Starting: {'all customers' if everyone else f'{len(ids)} customer(s)'}…")
        allow = self.query_one("#allow-unsubscribe", Checkbox).value
        self.run_batch(None if everyone else ids, allow, self.cancel_event)

    def action_cancel_batch(self) -> None:
        if self.cancel_event is not None and self.running:
            self.cancel_event.set()
            self.query_one("#batch-counts", Static).update(
                counts_line(self.counts, self.rate) + "   cancelling…")

    @work(group="batch", exit_on_error=False)
    async def run_batch(self, ids: list[str] | None, allow_unsubscribe: bool,
                        cancel: asyncio.Event) -> None:
        """Drive engine.sync; progress arrives as CountsChanged messages."""
        try:
            engine = await wait_engine(self.app)
            final = await engine.sync(
                ids, allow_unsubscribe=allow_unsubscribe, cancel=cancel,
                on_progress=lambda p: self.post_message(CountsChanged(Counts.of(p))))
        except Exception as exc:
            self.post_message(BatchFinished(None, cancel.is_set(), say(exc)))
            return
        self.post_message(BatchFinished(Counts.of(final), cancel.is_set(), None))

    def on_counts_changed(self, message: CountsChanged) -> None:
        self.counts = message.counts
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=message.counts.total, progress=message.counts.finished)
        self.query_one("#batch-counts", Static).update(counts_line(self.counts, self.rate))

    def on_batch_finished(self, message: BatchFinished) -> None:
        self.running = False
        if message.counts is not None:
            self.counts = message.counts
            self.query_one("#batch-progress", ProgressBar).update(
                total=message.counts.total or message.counts.finished or 1,
                progress=message.counts.finished)
        state = "cancelled" if message.cancelled else "finished"
        if message.error:
            text = f"Batch failed: {message.error}"
            self.notify(text, title="Batch", severity="error", markup=False)
        else:
            c = self.counts
            text = (f"Batch {state}: {c.done} done, {c.failed} failed, {c.held} held by the "
                    f"consent guard (see F6 errors).")
            self.notify(text, title="Batch",
                        severity="warning" if c.failed or c.held or message.cancelled
                        else "information")
        self.query_one("#batch-counts", Static).update(text)

    def on_notification_received(self, message: NotificationReceived) -> None:
        self.query_one("#feed", Log).write_line(message.line)

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
