"""Figure 6: launch to a usable lookup screen in a real terminal, against a bare Textual app.

Run: .venv/bin/python bench/launch.py [--repeats 7] [--harlequin /tmp/hq-venv/bin/harlequin]
                                      [--before OTHER-CHECKOUT/.venv/bin/klaviyo-console]

Each launch is a whole process (Python start, imports, first frames) on a pseudo-terminal of
120x36, started the way an operator starts it. The clock runs from spawning the process until
the terminal has been sent every piece of text that makes the screen usable: for the console
the customer field's placeholder, the hint under it and the F-key bar; for the bare app (one
Static) its text. Then ctrl+q quits it. The apps run interleaved, so load on the machine hits
them alike; medians and the ratio to the bare app are printed (target: console <= 1.5x), wall
time and, steadier on a shared machine, the CPU the process had used when it became usable
(/proc, Linux; 10 ms ticks).
After the timed launches the console is started once more and 55260 and Enter are typed as soon
as it is usable: the time from Enter to its preview being drawn (engine loaded on the way).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
ENTRY = ROOT / ".venv" / "bin" / "klaviyo-console"
COLUMNS, ROWS = 120, 36
BARE_TEXT = "a bare Textual app with one Static"
BARE_APP = f"""
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static({BARE_TEXT!r})

Bare().run()
"""
# What the split CLI must do for the interactive console: load the config, import console.app
# only, and run it (console/cli.py today imports the engine before it gets there).
CONSOLE_ONLY = """
import os, sys
from core.config import Config
from console.app import run_console

run_console(Config.load(env=os.environ, state_dir=sys.argv[1], sandbox=True))
"""
CONSOLE_READY = ("Customer id, email or name, then Enter",
                 "Enter a customer to preview what a push would send.", "F4 Lookup")
ESCAPES = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|P[^\x1b]*\x1b\\|.)")


@dataclass
class Launcher:
    name: str
    argv: list[str]
    ready: tuple[str, ...]


def terminal_text(raw: bytes) -> str:
    """What was written to the terminal with every escape sequence taken out."""
    return ESCAPES.sub(b"", raw).decode("utf-8", "replace")


class Terminal:
    """One process on its own pseudo-terminal, and everything it has written so far."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        cwd=ROOT, start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = bytearray()
        self.cpu = 0.0

    def cpu_seconds(self) -> float:
        """User and system CPU the process has used so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return self.cpu
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # the process has gone
                time.sleep(timeout)

    def wait_for(self, needles: tuple[str, ...], since: int = 0, limit: float = 30.0) -> float:
        """Seconds from `started` until every needle was written after byte `since`."""
        while True:
            text = terminal_text(bytes(self.output[since:]))
            if all(needle in text for needle in needles):
                return time.perf_counter() - self.started
            self.cpu = self.cpu_seconds()  # the last reading before the needles arrived
            if time.perf_counter() - self.started > limit:
                raise SystemExit(f"never drawn: {needles}\n--- screen text ---\n{text[-3000:]}")
            self.read(0.002)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        self.type(b"\x11")  # ctrl+q
        deadline = time.monotonic() + 10
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.05)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SANDBOX_", "KLAVIYO_", "IPAAS_", "TEXTUAL"))}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(COLUMNS),
               LINES=str(ROWS))
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="bench-launch-config-")  # no user config
    return env


def launch(launcher: Launcher, env: dict[str, str]) -> tuple[float, float]:
    """Seconds to usable: wall, and the process's CPU."""
    terminal = Terminal(launcher.argv, env)
    try:
        wall = terminal.wait_for(launcher.ready)
        return wall, terminal.cpu
    finally:
        terminal.close()


def enter_to_preview(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Launch, type 55260 and Enter once usable: (launch to usable, Enter to drawn preview)."""
    terminal = Terminal(argv, env)
    try:
        usable = terminal.wait_for(CONSOLE_READY)
        terminal.type(b"55260")
        terminal.wait_for(("55260",), since=len(terminal.output))
        mark, entered = len(terminal.output), time.perf_counter()
        terminal.type(b"\r")
        drawn = terminal.wait_for(("Preview of customer 55260:",), since=mark)
        return usable, drawn - (entered - terminal.started)
    finally:
        terminal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--harlequin", help="a harlequin executable to launch for context")
    parser.add_argument("--before", help="another tree's klaviyo-console, launched alike")
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as folder:
        state_cli, state_app = Path(folder) / "cli", Path(folder) / "app"
        launchers = [
            Launcher("bare Textual app", [str(PYTHON), "-c", BARE_APP], (BARE_TEXT,)),
            Launcher("console (klaviyo-console)",
                     [str(ENTRY), "--sandbox", "--state-dir", str(state_cli)], CONSOLE_READY),
            Launcher("console (console.app only)",
                     [str(PYTHON), "-c", CONSOLE_ONLY, str(state_app)], CONSOLE_READY),
        ]
        if args.before:
            launchers.append(Launcher("console (--before tree)", [
                args.before, "--sandbox", "--state-dir", str(Path(folder) / "before")],
                CONSOLE_READY))
        if args.harlequin and shutil.which(args.harlequin):
            # Its default: an in-memory DuckDB. Usable once its panes and the catalog are drawn.
            launchers.append(Launcher("Harlequin (in-memory DuckDB)", [args.harlequin],
                                      ("Data Catalog", "Query Editor", "Query Results",
                                       "memory db")))
        for launcher in launchers:  # warm the file cache; the sandbox is seeded here
            launch(launcher, env)
        times: dict[str, list[tuple[float, float]]] = {launcher.name: [] for launcher in launchers}
        for _ in range(args.repeats):
            for launcher in launchers:
                times[launcher.name].append(launch(launcher, env))
        usable, preview = enter_to_preview(launchers[2].argv, env)
    bare_runs = times[launchers[0].name]
    bare = statistics.median(wall for wall, _ in bare_runs)
    bare_cpu = statistics.median(cpu for _, cpu in bare_runs)
    print(f"launch to usable screen, {COLUMNS}x{ROWS} pty, whole process, median of "
          f"{args.repeats} interleaved (load average {os.getloadavg()[0]:.1f})")
    for launcher in launchers:
        walls = [wall for wall, _ in times[launcher.name]]
        median = statistics.median(walls)
        cpu = statistics.median(cpu for _, cpu in times[launcher.name])
        print(f"  {launcher.name:32} wall {median * 1000:5.0f} ms {median / bare:5.2f}x bare "
              f"(best {min(walls) * 1000:.0f}, worst {max(walls) * 1000:.0f});  CPU "
              f"{cpu * 1000:5.0f} ms {cpu / bare_cpu:5.2f}x bare")
    print(f"  console.app only, typed 55260 then Enter at usable ({usable * 1000:.0f} ms): "
          f"preview drawn {preview * 1000:.0f} ms after Enter (engine loaded on the way)")


if __name__ == "__main__":
    sys.exit(main())
