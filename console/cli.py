"""The `klaviyo-console` command line of design §9: stable, scriptable, thin over core.engine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from console import render
from core.clients.http import ApiError
from core.config import Config, ConfigError
from core.engine import (
    BatchProgress,
    CustomerNotFound,
    Engine,
    PushResult,
    StageFailure,
    UnknownErrorId,
)
from core.model import CustomerDataError, ErrorKind, ErrorStatus

PROG = "klaviyo-console"
COMMANDS = ("preview", "push", "sync", "errors", "retry", "history", "listen", "sandbox")
OK, FAILED, USAGE = 0, 1, 2
HELD_LINE = "held by the consent guard: rerun with --yes to confirm"

log = logging.getLogger("console.cli")


class UsageError(Exception):
    """A command-line mistake: one line, exit code 2."""


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
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("sync", parents=[common], help="push many customers")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every customer in iPaaS.com")
    p.add_argument("--bulk", action="store_true", help="use Klaviyo's bulk import jobs")
    p.add_argument("--allow-unsubscribe", action="store_true",
                   help="apply consent changes the guard would hold")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("errors", parents=[common], help="the error log")
    p.add_argument("--status", choices=("open", "resolved", "all"), default="all")
    p.add_argument("--kind", choices=[k.value for k in ErrorKind], metavar="KIND")
    p.add_argument("--limit", type=_positive, default=None, metavar="N")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("retry", parents=[common], help="retry failed transfers")
    p.add_argument("error_ids", nargs="*", metavar="ERROR_ID")
    p.add_argument("--all", action="store_true", help="every open error record")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("history", parents=[common], help="pushes, newest first")
    p.add_argument("customer_id", nargs="?", metavar="ID")
    p.add_argument("--limit", type=_positive, default=50, metavar="N")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("listen", parents=[common],
                       help="take iPaaS.com outbound notifications and sync each")
    p.add_argument("--port", type=_port, default=8787)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (loopback unless you say otherwise)")

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
    args = sys.argv[1:] if argv is None else list(argv)
    err = render.make_console(stderr=True)
    try:
        args, seed = split_sandbox(args)
        ns = build_parser().parse_args(args)
    except UsageError as exc:
        err.print(f"{PROG}: {exc}", markup=False)
        return USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code) if isinstance(exc.code, int) else OK
    serve = ns.command == "sandbox"
    if serve and getattr(ns, "sandbox_command", None) != "serve":
        err.print(f"{PROG}: sandbox needs an action: sandbox serve [--port N]", markup=False)
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
        err.print(f"{PROG}: {exc}", markup=False)
        return USAGE
    log_file = _setup_logging(config.state_dir)
    try:
        return _dispatch(ns, config)
    except UsageError as exc:
        err.print(f"{PROG}: {exc}", markup=False)
        return USAGE
    except ConfigError as exc:
        err.print(f"{PROG}: {exc}", markup=False)
        return USAGE
    except KeyboardInterrupt:
        err.print(f"{PROG}: stopped", markup=False)
        return FAILED
    except Exception as exc:
        log.exception("unexpected failure in %s", ns.command or "console")
        where = f"; details in {log_file}" if log_file else ""
        err.print(f"{PROG}: internal error: {type(exc).__name__}: {exc}{where}", markup=False)
        return FAILED


def _setup_logging(state_dir: Path) -> Path | None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_klaviyo_console", False):
            root.removeHandler(handler)
            handler.close()
    path = Path(state_dir) / "logs" / "klaviyo-console.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler._klaviyo_console = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # Request lines carry no secrets, but at INFO they would drown the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return path


def _dispatch(ns: argparse.Namespace, config: Config) -> int:
    command = ns.command
    if command is None:
        from console.app import ConsoleApp

        # What the imports built lives as long as the console: later full collections skip it.
        gc.freeze()
        ConsoleApp(config).run()
        return OK
    if command == "sandbox":
        return _run(_serve_sandbox(ns, config))
    handlers: dict[str, Callable[[argparse.Namespace, Engine], Awaitable[int]]] = {
        "preview": _preview,
        "push": _push,
        "sync": _sync,
        "errors": _errors,
        "retry": _retry,
        "history": _history,
        "listen": _listen,
    }
    if command in ("sync", "retry"):
        _check_batch_args(ns)
    return _run(_with_engine(config, ns, handlers[command]))


def _run(coro: Awaitable[int]) -> int:
    async def runner() -> int:
        return await coro

    return asyncio.run(runner())


async def _with_engine(config: Config, ns: argparse.Namespace,
                       handler: Callable[[argparse.Namespace, Engine], Awaitable[int]]) -> int:
    engine = await Engine.open(config)
    try:
        return await handler(ns, engine)
    finally:
        await engine.close()


def _out() -> Any:
    return render.make_console()


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _say(message: str, *, style: str | None = None) -> None:
    render.make_console(stderr=True).print(message, style=style, markup=False)


def _sandbox_banner(engine: Engine, as_json: bool) -> None:
    if engine.sandbox is not None and not as_json:
        _say("sandbox: talking to the built-in emulators, not to real Klaviyo or iPaaS.com",
             style="dim")


# ----------------------------------------------------------------------------------------------
# commands
# ----------------------------------------------------------------------------------------------


async def _preview(ns: argparse.Namespace, engine: Engine) -> int:
    _sandbox_banner(engine, ns.json)
    try:
        plan = await engine.preview(ns.customer_id)
    except CustomerNotFound as exc:
        _say(f"{PROG}: {exc}")
        return FAILED
    except StageFailure as exc:
        _say(f"{PROG}: preview failed at {exc.stage.value}: {exc.error}")
        return FAILED
    except CustomerDataError as exc:
        _say(f"{PROG}: {exc}")
        return FAILED
    if ns.json:
        _print_json(plan.to_json())
    else:
        _out().print(render.plan_view(plan))
    return OK


async def _push(ns: argparse.Namespace, engine: Engine) -> int:
    _sandbox_banner(engine, ns.json)
    result = await engine.push(ns.customer_id, confirmed=ns.yes)
    if ns.json:
        _print_json(result.to_json())
    else:
        _out().print(render.push_view(result))
    if result.ok:
        return OK
    if result.held:
        if ns.json:
            _say(HELD_LINE)
        return FAILED
    return FAILED


def _check_batch_args(ns: argparse.Namespace) -> None:
    given = ns.ids if ns.command == "sync" else ns.error_ids
    noun = "customer ids" if ns.command == "sync" else "error ids"
    if ns.all and given:
        raise UsageError(f"give {noun} or --all, not both")
    if not ns.all and not given:
        raise UsageError(f"give {noun} or --all")


@contextlib.contextmanager
def _ctrl_c(cancel: asyncio.Event) -> Iterator[None]:
    """First Ctrl-C: stop taking new customers and finish those in flight; second: abort."""
    loop = asyncio.get_running_loop()
    installed = False

    def first() -> None:
        cancel.set()
        _say("stopping: finishing the pushes in flight (Ctrl-C again to abort)", style="yellow")
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


def _progress_bar(enabled: bool, label: str, total: int | None) -> Progress | None:
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


def _on_progress(bar: Progress | None) -> Callable[[BatchProgress], None] | None:
    if bar is None:
        return None

    def update(progress: BatchProgress) -> None:
        task = bar.tasks[0].id
        bar.update(task, completed=progress.processed, total=progress.total,
                   failed=progress.failed, held=progress.held, rate=progress.rate)

    return update


async def _sync(ns: argparse.Namespace, engine: Engine) -> int:
    _sandbox_banner(engine, ns.json)
    if ns.bulk:
        _say("note: --bulk runs customer by customer in this version (same guards, same "
             "records)", style="yellow")
    ids = None if ns.all else list(ns.ids)
    cancel = asyncio.Event()
    bar = _progress_bar(not ns.json and sys.stderr.isatty(), "sync",
                        None if ids is None else len(ids))
    with _ctrl_c(cancel), bar or contextlib.nullcontext():
        try:
            progress = await engine.sync(ids, allow_unsubscribe=ns.allow_unsubscribe,
                                         on_progress=_on_progress(bar), cancel=cancel)
        except StageFailure as exc:
            _say(f"{PROG}: could not list customers: {exc.error}")
            return FAILED
        except ApiError as exc:
            # Reading the customer pages failed; pushes already taken finished and were logged.
            _say(f"{PROG}: could not list customers: {exc}")
            return FAILED
    if ns.json:
        _print_json(progress.to_json())
    else:
        _out().print(render.batch_summary(progress))
    return OK if progress.ok else FAILED


async def _retry(ns: argparse.Namespace, engine: Engine) -> int:
    _sandbox_banner(engine, ns.json)
    results: list[PushResult] = []
    ids = None if ns.all else list(ns.error_ids)
    if ids is not None:
        for error_id in ids:
            record = engine.errors.get(error_id)
            if record is None:
                raise UsageError(f"no error record {error_id} (see `{PROG} errors`)")
    cancel = asyncio.Event()
    bar = _progress_bar(not ns.json and ns.all and sys.stderr.isatty(), "retry", None)
    with _ctrl_c(cancel), bar or contextlib.nullcontext():
        try:
            progress = await engine.retry(ids, on_progress=_on_progress(bar), cancel=cancel,
                                          on_result=results.append)
        except UnknownErrorId as exc:
            raise UsageError(str(exc)) from None
    rows = []
    for result in results:
        latest = engine.errors.query(customer_id=result.plan.customer_id, limit=1)
        record = result.error or (latest[0] if latest else None)
        rows.append({
            "error_id": record.id if record else None,
            "customer_id": result.plan.customer_id,
            "ok": result.ok,
            "held": result.held,
            "status": record.status.value if record else None,
            "attempts": record.attempts if record else None,
            "profile_id": result.profile_id,
            "message": result.error.message if result.error else None,
        })
    if ns.json:
        _print_json({**progress.to_json(), "results": rows})
    else:
        if not rows:
            _out().print("nothing to retry: no open error records")
        for row in rows:
            if row["ok"]:
                _out().print(f"[green]resolved[/] {row['error_id']} (customer "
                             f"{row['customer_id']}, attempt {row['attempts']})")
            else:
                _out().print(f"[red]still failing[/] {row['error_id']} (customer "
                             f"{row['customer_id']}): {row['message']}")
        _out().print(render.batch_summary(progress, "resolved"))
    return OK if progress.ok else FAILED


async def _errors(ns: argparse.Namespace, engine: Engine) -> int:
    status = None if ns.status == "all" else ErrorStatus(ns.status)
    kind = ErrorKind(ns.kind) if ns.kind else None
    limit = ns.limit if ns.limit is not None else (None if ns.json else 200)
    records = engine.errors.query(status=status, kind=kind, limit=limit)
    if ns.json:
        _print_json([r.to_json() for r in records])
        return OK
    _out().print(render.errors_view(records))
    total = engine.errors.count(status=status, kind=kind)
    if limit is not None and total > len(records):
        _say(f"showing {len(records)} of {total} (use --limit N)", style="dim")
    return OK


async def _history(ns: argparse.Namespace, engine: Engine) -> int:
    if ns.customer_id:
        entries = engine.history.for_customer(ns.customer_id.strip(), limit=ns.limit)
    else:
        entries = engine.history.recent(ns.limit)
    if ns.json:
        _print_json([e.to_json() for e in entries])
    else:
        _out().print(render.history_view(entries))
    return OK


async def _listen(ns: argparse.Namespace, engine: Engine) -> int:
    from core.engine.listen import ListenError

    if ns.host not in ("127.0.0.1", "::1", "localhost"):
        _say(f"warning: listening on {ns.host}: notifications travel as plain http",
             style="yellow")
    try:
        listening = await engine.listen(ns.host, ns.port, _say)
    except ListenError as exc:
        raise ConfigError(f"listen: {exc}") from None
    if listening.generated_secret:
        _say(f"sandbox: generated a listen secret for this run: {listening.generated_secret}",
             style="yellow")
    _say(f"listening on {listening.url}/ for iPaaS.com outbound notifications "
         "(POST, Authorization: Bearer <secret>); Ctrl-C to stop")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await listening.close()
    _say("stopped listening")
    return OK


async def _serve_sandbox(ns: argparse.Namespace, config: Config) -> int:
    from core.sandbox import Knobs, Sandbox, SandboxSeedError, export_lines, serve_sandbox

    try:
        knobs = Knobs.from_env()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        sandbox = Sandbox(config.state_dir, seed=config.sandbox_seed, knobs=knobs)
    except SandboxSeedError as exc:
        raise ConfigError(str(exc)) from None

    def ready(server: Any) -> None:
        for line in export_lines(sandbox.credentials, server.url):
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        _say(f"# sandbox serving Klaviyo (/api) and iPaaS.com (/customers, /sso) at "
             f"{server.url}; state in {config.state_dir}; Ctrl-C to stop")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(serve_sandbox(sandbox, "127.0.0.1", ns.port, ready))
    waiter = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            exc = task.exception()
            if isinstance(exc, OSError):
                raise ConfigError(f"cannot serve on port {ns.port}: {exc.strerror}")
            if exc is not None:
                raise exc
    finally:
        for pending in (task, waiter):
            pending.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
        sandbox.close()
    return OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
