"""What sync and retry share: a progress bar on stderr and a two-step Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from console import render
from console.cli.common import say
from core.engine import BatchProgress


@contextlib.contextmanager
def ctrl_c(cancel: asyncio.Event) -> Iterator[None]:
    """First Ctrl-C: stop taking new customers and finish those in flight; second: abort."""
    loop = asyncio.get_running_loop()
    installed = False

    def first() -> None:
        cancel.set()
        say("stopping: finishing the pushes in flight (Ctrl-C again to abort)", style="yellow")
        loop.remove_signal_handler(signal.SIGINT)

    try:
        loop.add_signal_handler(signal.SIGINT, first)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        pass  # not the main thread, or a platform without signal handlers in the loop
    try:
        yield
    finally:
        if installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGINT)


def progress_bar(enabled: bool, label: str, total: int | None) -> Progress | None:
    """A bar with done, failed, held and rate, or None when not enabled."""
    if not enabled:
        return None
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]} held {task.fields[held]}"),
        TextColumn("{task.fields[rate]:.1f}/s"), TimeElapsedColumn(),
        console=render.make_console(stderr=True), transient=False,
    )
    bar.add_task(label, total=total, failed=0, held=0, rate=0.0)
    return bar


def on_progress(bar: Progress | None) -> Callable[[BatchProgress], None] | None:
    """The engine's progress callback that moves the bar, if there is one."""
    if bar is None:
        return None

    def update(progress: BatchProgress) -> None:
        task = bar.tasks[0].id
        bar.update(task, completed=progress.processed, total=progress.total,
                   failed=progress.failed, held=progress.held, rate=progress.rate)

    return update
