"""The operator console: a Textual app that renders engine state and sends it intents."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.command import CommandPalette
from textual.screen import Screen

from console.commands import PALETTE_PLACEHOLDER, CustomerCommands
from console.keymap import (
    KeymapError,
    binding,
    check_keymap,
    key_name,
    keymap_table_from_file,
)
from console.retry_notices import watch_retries
from console.screens.base import EngineFailed, EnginePort, EngineReady, say
from console.screens.recent import RecentLookups

if TYPE_CHECKING:
    from core.model import Plan

EngineFactory = Callable[[Any], Awaitable[EnginePort]]


# Each screen is imported when first shown, so start-up pays only for the lookup.
def lookup_screen() -> Screen[Any]:
    from console.screens.lookup import LookupScreen

    return LookupScreen()


def errors_screen() -> Screen[Any]:
    from console.screens.errors import ErrorsScreen

    return ErrorsScreen()


def history_screen() -> Screen[Any]:
    from console.screens.history import HistoryScreen

    return HistoryScreen()


def batch_screen() -> Screen[Any]:
    from console.screens.batch import BatchScreen

    return BatchScreen()


def report_screen() -> Screen[Any]:
    from console.screens.report import ReportScreen

    return ReportScreen()


def settings_screen() -> Screen[Any]:
    from console.screens.settings import SettingsScreen

    return SettingsScreen()


async def open_engine(config: Any) -> EnginePort:
    """The real engine; its modules (httpx, stores, sandbox) load in a thread after frame one."""
    # A thread, so keys typed while they load reach the lookup field at once.
    engine_module = await asyncio.to_thread(importlib.import_module, "core.engine")
    engine: EnginePort = await engine_module.Engine.open(config)
    return engine


def config_keymap(config: Any) -> Mapping[str, object]:
    """The [keymap] table as written: config.keymap if the Config carries it, else its file."""
    table = getattr(config, "keymap", None)
    if isinstance(table, Mapping):
        return table
    path = getattr(config, "config_file", None)
    return keymap_table_from_file(Path(path)) if path else {}


class ConsoleApp(App[None]):
    """Lookup, preview, push, errors, history, batch and settings over one engine."""

    CSS_PATH = "console.tcss"
    TITLE = "iPaaS.com → Klaviyo console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    MODES = {
        "lookup": lookup_screen,
        "errors": errors_screen,
        "history": history_screen,
        "batch": batch_screen,
        "settings": settings_screen,
        "report": report_screen,
    }
    DEFAULT_MODE = "lookup"
    COMMANDS = App.COMMANDS | {CustomerCommands}
    BINDINGS = [
        binding("show-settings", "switch_mode('settings')", show=False),
        binding("show-lookup", "switch_mode('lookup')", show=False),
        binding("show-errors", "switch_mode('errors')", show=False),
        binding("show-history", "switch_mode('history')", show=False),
        binding("show-batch", "switch_mode('batch')", show=False),
        binding("report", "switch_mode('report')", show=False),
        binding("quit", "quit", priority=True),
    ]

    def __init__(
        self,
        config: Any = None,
        *,
        engine_factory: EngineFactory | None = None,
        keymap: dict[str, str] | None = None,
        recent_path: Path | None = None,
    ) -> None:
        super().__init__()
        state_dir = getattr(config, "state_dir", None)
        self.config = config
        self.engine: EnginePort | None = None
        self.engine_error: str | None = None
        self.engine_ready = asyncio.Event()
        self.engine_factory = engine_factory or open_engine
        self.current_customer: str | None = None
        # The last plan shown per customer, with when it came: shown at once on a repeat
        # lookup while a fresh preview runs (the engine stays the source of truth).
        self.plans: dict[str, tuple[Plan, float]] = {}
        # Each refused binding keeps its default and is named in a notice at start.
        self.keymap_refusals: list[str] = []
        try:
            table = keymap if keymap is not None else config_keymap(config)
            self.keymap, self.keymap_refusals = check_keymap(table)
        except KeymapError as exc:
            self.keymap, self.keymap_refusals = {}, [str(exc)]
        if recent_path is None and state_dir is not None:
            recent_path = Path(state_dir) / "console-recent.json"
        self.recent = RecentLookups(recent_path)
        if config is not None and getattr(config, "sandbox", False):
            self.sub_title = "SANDBOX"

    def on_mount(self) -> None:
        self.recent.load()
        self.set_keymap(self.keymap)
        for refusal in self.keymap_refusals:
            self.notify(refusal, title="Key binding refused", severity="error",
                        markup=False, timeout=20)
        # The lookup screen is drawn first; the engine and its imports load after that frame.
        self.call_after_refresh(self.start_engine)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def start_engine(self) -> None:
        """Open the engine off the first paint, so the console appears at once."""
        try:
            self.engine = await self.engine_factory(self.config)
        except Exception as exc:  # configuration or storage trouble: say it, keep running
            self.engine_error = say(exc)
            self.engine_ready.set()
            self.post_message(EngineFailed(self.engine_error))
            return
        watch_retries(self, self.engine)  # console/retry_notices.py: "attempt 2/5 in 4 s" toasts
        self.engine_ready.set()
        self.post_message(EngineReady())

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.notify(message.reason, title="Could not open the engine", severity="error",
                    markup=False, timeout=30)

    async def on_unmount(self) -> None:
        if self.engine is not None:
            engine, self.engine = self.engine, None
            try:
                await engine.close()
            except Exception as exc:  # closing is best effort on the way out
                self.log.error(f"engine close failed: {exc}")

    # ------------------------------------------------------------------ shared intents

    def remember(self, plan: Plan) -> None:
        """Keep the plan for a repeat lookup and put its customer atop the recent lookups."""
        from console.widgets.words import customer_label

        self.plans[plan.customer_id] = (plan, time.monotonic())
        self.persist_recent(plan.customer_id, customer_label(plan))

    @work(group="recent", exit_on_error=False, thread=True)
    def persist_recent(self, customer_id: str, label: str) -> None:
        try:
            self.recent.add(customer_id, label)
        except OSError as exc:
            self.call_from_thread(self.notify, f"Recent lookups not saved: {exc}",
                                  severity="warning", markup=False)

    def preview_customer(self, customer_id: str) -> None:
        """Switch to the lookup and preview one customer (palette, history, errors)."""
        self.switch_mode("lookup")
        self.call_after_refresh(self.preview_on_lookup, customer_id)

    def preview_on_lookup(self, customer_id: str) -> None:
        from console.screens.lookup import LookupScreen

        screen = self.screen
        if isinstance(screen, LookupScreen):
            screen.preview_customer(customer_id)

    def action_command_palette(self) -> None:
        """The palette, its placeholder saying it finds customers as well as commands."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=PALETTE_PLACEHOLDER,
                                            id="--command-palette"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)

        def key(binding_id: str) -> str:
            return key_name(self.keymap, binding_id)

        yield SystemCommand("Lookup", f"Look up and preview a customer ({key('show-lookup')})",
                            lambda: self.switch_mode("lookup"))
        yield SystemCommand("Errors", f"Browse and retry the error log ({key('show-errors')})",
                            lambda: self.switch_mode("errors"))
        yield SystemCommand("History", "What was pushed, when, before and after "
                            f"({key('show-history')})", lambda: self.switch_mode("history"))
        yield SystemCommand("Batch", f"Sync many customers with progress ({key('show-batch')})",
                            lambda: self.switch_mode("batch"))
        yield SystemCommand("Report", "A template's impact over many customers; writes nothing "
                            f"({key('report')})", lambda: self.switch_mode("report"))
        yield SystemCommand("Settings", "Active configuration, template, knobs, keys "
                            f"({key('show-settings')})", lambda: self.switch_mode("settings"))
        if screen.check_action("push", ()):
            yield SystemCommand("Push", f"Push the customer on screen, after a confirmation "
                                f"({key('push')})", lambda: screen.run_action("push"))
        if screen.check_action("resend_consent", ()):
            yield SystemCommand("Re-send consent email", "Push the customer on screen and ask "
                                "Klaviyo to send the double opt-in email again "
                                f"({key('resend_consent')})",
                                lambda: screen.run_action("resend_consent"))


def run_console(config: Any) -> None:
    """Run the console until the operator quits (the CLI's entry when no command is given)."""
    ConsoleApp(config).run()
