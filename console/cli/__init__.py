"""The `klaviyo-console` command line of design §9: stable, scriptable, thin over core.engine.

Each command lives in its own module, imported only once the arguments name it: the console
(no command) starts without loading the engine, its clients or its stores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import logging.handlers
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from console.cli.base import FAILED, OK, PROG, USAGE, UsageError
from core.config import Config, ConfigError

if TYPE_CHECKING:
    from core.engine import Engine

__all__ = ["FAILED", "OK", "PROG", "USAGE", "UsageError", "build_parser", "main",
           "split_sandbox"]

COMMANDS = ("preview", "push", "sync", "errors", "retry", "history", "check", "listen",
            "sandbox", "undo", "report", "search")
# The commands that run on an engine; each module's run(ns, engine) returns the exit code.
ENGINE_COMMANDS = ("preview", "push", "sync", "errors", "retry", "history", "listen", "undo",
                   "report", "search")
# What a command needs when it runs on real services (design §9: only the console falls back
# to the sandbox).
CREDENTIALS = ("KLAVIYO_API_KEY", "IPAAS_API_TOKEN", "IPAAS_SYSTEM_ID")

log = logging.getLogger("console.cli")

# Python collects its youngest objects every 700 allocations. A batch holds thousands of
# customers' facts in flight and decodes reads of 100 profiles at a time, so at that rate every
# read is promoted mid-decode and full collections rescan the in-flight heap: 22% of a bulk
# sync's CPU (bench/README §3). Collecting every 50,000 lets the short-lived objects die young:
# at 20,000 collection still took 0.6 s of that sync's 10 s, at 50,000 0.45 s (gc.callbacks).
YOUNG_COLLECTION = 50_000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; global options are accepted before or after the command."""
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="where the error log, history and sandbox live")
    common.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML config file (default ~/.config/klaviyo-console/config.toml)")
    common.add_argument("--sandbox", action="store_true",
                        help="run against the built-in sandbox; --sandbox DATA.json seeds it")

    parser = _Parser(
        prog=PROG, parents=[common],
        description="Push iPaaS.com Customers into Klaviyo profiles. Without a command, opens "
                    "the console. Credentials come from the environment or the config file.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("preview", parents=[common], help="what a push would do; writes nothing")
    p.add_argument("customer_id", metavar="ID")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("push", parents=[common], help="push one customer (Manual Sync)")
    p.add_argument("customer_id", metavar="ID")
    p.add_argument("--yes", action="store_true",
                   help="confirm consent changes the consent guard holds")
    p.add_argument("--resend-consent-email", action="store_true",
                   help="send the double opt-in consent email again, even while one is pending")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("sync", parents=[common], help="push many customers")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every customer in iPaaS.com")
    p.add_argument("--bulk", action="store_true", help="use Klaviyo's bulk import jobs")
    p.add_argument("--confirm", type=_guard_kinds, default=frozenset(), metavar="KINDS",
                   help="apply held consent changes of these kinds: a comma list of "
                        "unsubscribe, resubscribe, consent-email, or all")
    p.add_argument("--allow-unsubscribe", action="store_true",
                   help="deprecated: the same as --confirm all")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("errors", parents=[common], help="the error log")
    p.add_argument("--status", choices=("open", "resolved", "all"), default="all")
    p.add_argument("--kind", type=_error_kind, metavar="KIND")
    p.add_argument("--limit", type=_positive, default=None, metavar="N",
                   help="show at most N records, newest first (default 200; --json: all)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("retry", parents=[common], help="retry failed transfers")
    p.add_argument("error_ids", nargs="*", metavar="ERROR_ID")
    p.add_argument("--all", action="store_true", help="every open error record")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("history", parents=[common], help="pushes, newest first")
    p.add_argument("customer_id", nargs="?", metavar="ID",
                   help="one customer's pushes, each with before, sent and after")
    p.add_argument("--limit", type=_positive, default=50, metavar="N",
                   help="show at most N entries, newest first (default 50)")
    p.add_argument("--prune", action="store_true",
                   help="delete entries older than --older-than DAYS (default: [history] "
                        "retention_days) instead of listing; open errors always stay")
    p.add_argument("--older-than", type=_positive, default=None, metavar="DAYS",
                   help="with --prune: the age in days beyond which entries go")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("check", parents=[common],
                       help="production self-check: URLs, key and scopes, token, system id, "
                            "lists, template, state dir, listen secret")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("listen", parents=[common],
                       help="take iPaaS.com outbound notifications and sync each")
    # None: the config's [listen] port/host, then the built-in default, decide.
    p.add_argument("--port", type=_port, default=None,
                   help="port to bind (default: [listen] port, else 8787)")
    p.add_argument("--host", default=None,
                   help="address to bind (default: [listen] host, else 127.0.0.1)")

    from console.cli import report, search, undo

    undo.add_parser(sub, common)
    report.add_parser(sub, common)
    search.add_parser(sub, common)

    p = sub.add_parser("sandbox", parents=[common], help="the sandbox emulators")
    sandbox_sub = p.add_subparsers(dest="sandbox_command", metavar="ACTION",
                                   parser_class=_Parser)
    serve = sandbox_sub.add_parser("serve", parents=[common],
                                   help="serve both emulators on loopback, URLs printed")
    serve.add_argument("--port", type=_port, default=0)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _error_kind(text: str) -> str:
    # The error kinds are read only when --kind is given: the console's start loads no model.
    from core.model import ErrorKind

    kinds = [kind.value for kind in ErrorKind]
    if text not in kinds:
        choices = ", ".join(map(repr, kinds))
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {choices})")
    return text


def _guard_kinds(text: str) -> frozenset[str]:
    from core.model import GuardKind

    GUARD_KINDS = tuple(kind.value for kind in GuardKind)
    kinds = {part.strip() for part in text.split(",") if part.strip()}
    if "all" in kinds:
        return frozenset(GUARD_KINDS)
    wrong = sorted(kinds - set(GUARD_KINDS))
    if wrong or not kinds:
        valid = ", ".join((*GUARD_KINDS, "all"))
        given = ", ".join(map(repr, wrong)) if wrong else "nothing"
        raise argparse.ArgumentTypeError(f"unknown kind {given} (valid: {valid})")
    return frozenset(kinds)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def split_sandbox(argv: Sequence[str]) -> tuple[list[str], Path | None]:
    """Take `--sandbox DATA.json` / `--sandbox=DATA.json` out of argv (argparse would take a
    command name for the file); a bare `--sandbox` stays for argparse."""
    out: list[str] = []
    seed: Path | None = None
    items = list(argv)
    index = 0
    while index < len(items):
        token = items[index]
        if token == "--":
            out.extend(items[index:])
            break
        if token.startswith("--sandbox="):
            seed = Path(token.split("=", 1)[1])
            out.append("--sandbox")
        elif token == "--sandbox" and index + 1 < len(items) and _is_data_file(items[index + 1]):
            seed = Path(items[index + 1])
            out.append("--sandbox")
            index += 1
        else:
            out.append(token)
        index += 1
    return out, seed


def _is_data_file(token: str) -> bool:
    if token.startswith("-") or token in COMMANDS:
        return False
    return token.lower().endswith(".json") or os.sep in token


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 1 a transfer failed, 2 usage/config)."""
    gc.set_threshold(YOUNG_COLLECTION)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        args, seed = split_sandbox(args)
        ns = build_parser().parse_args(args)
    except UsageError as exc:
        _complain(str(exc))
        return USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code) if isinstance(exc.code, int) else OK
    serve = ns.command == "sandbox"
    if serve and getattr(ns, "sandbox_command", None) != "serve":
        _complain("sandbox needs an action: sandbox serve [--port N]")
        return USAGE
    try:
        config = Config.load(
            env=os.environ,
            config_file=getattr(ns, "config", None),
            state_dir=getattr(ns, "state_dir", None),
            sandbox=bool(getattr(ns, "sandbox", False)) or serve,
            sandbox_seed=seed,
        )
    except ConfigError as exc:
        _complain(str(exc))
        return USAGE
    asked_for_sandbox = bool(getattr(ns, "sandbox", False)) or seed is not None or serve
    if config.sandbox and not asked_for_sandbox and ns.command is not None:
        _complain(f"no credentials found: set {', '.join(CREDENTIALS)} (environment or config "
                  "file), or run with --sandbox to use the built-in emulators")
        return USAGE
    log_file = _setup_logging(config.state_dir)
    try:
        return _dispatch(ns, config)
    except (UsageError, ConfigError) as exc:
        _complain(str(exc))
        return USAGE
    except KeyboardInterrupt:
        _complain("stopped")
        return FAILED
    except Exception as exc:
        log.exception("unexpected failure in %s", ns.command or "console")
        where = f"; details in {log_file}" if log_file else ""
        _complain(f"internal error: {type(exc).__name__}: {exc}{where}")
        return FAILED


def _complain(message: str) -> None:
    """One line on stderr, after the program's name."""
    from console.render import make_console

    make_console(stderr=True).print(f"{PROG}: {message}", markup=False)


class _LogFile(logging.handlers.RotatingFileHandler):
    """The state dir's log file, told apart from handlers the embedding program added."""


def _setup_logging(state_dir: Path) -> Path | None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LogFile):
            root.removeHandler(handler)
            handler.close()
    path = Path(state_dir) / "logs" / "klaviyo-console.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_file = _LogFile(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log_file.setLevel(logging.INFO)
    root.addHandler(log_file)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # Request lines carry no secrets, but at INFO they would drown the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return path


def _dispatch(ns: argparse.Namespace, config: Config) -> int:
    command = ns.command
    if command is None:
        from console.app import run_console

        run_console(config)
        return OK
    if command == "sandbox":
        from console.cli.sandbox import serve

        return asyncio.run(serve(ns, config))
    if command == "check":
        from console.cli.check import run as check

        return asyncio.run(check(ns, config))
    if command in ("sync", "retry"):
        _check_batch_args(ns)
    if command == "history":
        _check_history_args(ns)
    if command in ("undo", "report"):
        importlib.import_module(f"console.cli.{command}").check_args(ns)
    run: Callable[[argparse.Namespace, Engine], Awaitable[int]] = importlib.import_module(
        f"console.cli.{command}").run
    return asyncio.run(_with_engine(config, ns, run))


def _check_batch_args(ns: argparse.Namespace) -> None:
    given = ns.ids if ns.command == "sync" else ns.error_ids
    noun = "customer ids" if ns.command == "sync" else "error ids"
    if ns.all and given:
        raise UsageError(f"give {noun} or --all, not both")
    if not ns.all and not given:
        raise UsageError(f"give {noun} or --all")


def _check_history_args(ns: argparse.Namespace) -> None:
    if ns.older_than is not None and not ns.prune:
        raise UsageError("--older-than goes with --prune")
    if ns.prune and ns.customer_id:
        raise UsageError("--prune applies to the whole history, not to one customer")


async def _with_engine(config: Config, ns: argparse.Namespace,
                       run: Callable[[argparse.Namespace, Engine], Awaitable[int]]) -> int:
    from console.cli.common import RetryLines, sandbox_banner
    from core.engine import Engine

    engine = await Engine.open(config)
    stop_notices = engine.on_retry(RetryLines())
    try:
        sandbox_banner(engine)
        return await run(ns, engine)
    finally:
        stop_notices()
        await engine.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
