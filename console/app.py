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
from textual.screen import Screen

from console.commands import CustomerCommands
from console.keymap import KeymapError, binding, keymap_from_file, parse_keymap
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


def settings_screen() -> Screen[Any]:
    from console.screens.settings import SettingsScreen

    return SettingsScreen()


async def open_engine(config: Any) -> EnginePort:
    """The real engine; its modules (httpx, stores, sandbox) load in a thread after frame one."""
    # A thread, so keys typed while they load reach the lookup field at once.
    engine_module = await asyncio.to_thread(importlib.import_module, "core.engine")
    engine: EnginePort = await engine_module.Engine.open(config)
    return engine


def config_keymap(config: Any) -> dict[str, str]:
    """The [keymap] overrides: from config.keymap if the Config carries it, else its file."""
    table = getattr(config, "keymap", None)
    if isinstance(table, Mapping):
        return parse_keymap(table)
    path = getattr(config, "config_file", None)
    return keymap_from_file(Path(path)) if path else {}


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
    }
    DEFAULT_MODE = "lookup"
    COMMANDS = App.COMMANDS | {CustomerCommands}
    BINDINGS = [
        binding("show-settings", "switch_mode('settings')", show=False),
        binding("show-lookup", "switch_mode('lookup')", show=False),
        binding("show-errors", "switch_mode('errors')", show=False),
        binding("show-history", "switch_mode('history')", show=False),
        binding("show-batch", "switch_mode('batch')", show=False),
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
        self.keymap_error: str | None = None
        try:
            self.keymap = keymap if keymap is not None else config_keymap(config)
        except KeymapError as exc:
            self.keymap, self.keymap_error = {}, str(exc)
        if recent_path is None and state_dir is not None:
            recent_path = Path(state_dir) / "console-recent.json"
        self.recent = RecentLookups(recent_path)
        if config is not None and getattr(config, "sandbox", False):
            self.sub_title = "SANDBOX"

    def on_mount(self) -> None:
        self.recent.load()
        self.set_keymap(self.keymap)
        if self.keymap_error:
            self.notify(self.keymap_error, title="Keymap ignored", severity="error",
                        markup=False, timeout=15)
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
        from console.widgets.words import route_title

        self.plans[plan.customer_id] = (plan, time.monotonic())
        label = route_title(plan)
        email = (plan.payload or {}).get("data", {}).get("attributes", {}).get("email")
        if email:
            label = f"{email} · {label}"
        self.persist_recent(plan.customer_id, label)

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

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Lookup", "Look up and preview a customer (F4)",
                            lambda: self.switch_mode("lookup"))
        yield SystemCommand("Errors", "Browse and retry the error log (F6)",
                            lambda: self.switch_mode("errors"))
        yield SystemCommand("History", "What was pushed, when, before and after (F7)",
                            lambda: self.switch_mode("history"))
        yield SystemCommand("Batch", "Sync many customers with progress (F8)",
                            lambda: self.switch_mode("batch"))
        yield SystemCommand("Settings", "Active configuration, template, knobs (F2)",
                            lambda: self.switch_mode("settings"))


def run_console(config: Any) -> None:
    """Run the console until the operator quits (the CLI's entry when no command is given)."""
    ConsoleApp(config).run()
