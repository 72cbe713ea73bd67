"""Issue 8 item 5: planted keys never show up in state files, logs, history, error records,
CLI output (human and --json, success and failure), screenshots or exception messages."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import traceback
from collections.abc import Iterable
from pathlib import Path

import pytest

from console.cli import main
from core.config import Config, ConfigError
from core.engine import Engine
from core.sandbox.credentials import SandboxCredentials
from core.store import ErrorLog
from tests.e2e.conftest import customer
from tests.reliability.echo import echo_server
from tests.reliability.harness import LISTS
from tests.reliability.remote import Remote, base_env, serve

KLAVIYO_KEY = "pk_PLANTEDklaviyo0123456789abcdef"
IPAAS_TOKEN = "ipaasPLANTEDtoken0fedcba987654321"
LISTEN_SECRET = "listenPLANTEDsecret0aaaa5555bbbb"
PLANTED = (KLAVIYO_KEY, IPAAS_TOKEN, LISTEN_SECRET)
SANDBOX = SandboxCredentials().secrets
WINDOW = 12


def fragments(secrets: Iterable[str]) -> set[str]:
    """Every 12-character piece of every secret: a cut-off secret is still a leak."""
    out = set()
    for secret in secrets:
        out.update(secret[i:i + WINDOW] for i in range(len(secret) - WINDOW + 1))
    return out


FRAGMENTS = fragments((*PLANTED, *SANDBOX))


def leaks(text: str, where: str) -> list[str]:
    return [f"{where}: …{piece}…" for piece in FRAGMENTS if piece in text]


def scan_dir(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            found += leaks(path.read_bytes().decode("utf-8", "replace"), str(path))
    return found


class Transcript:
    """Everything the CLI printed, and every log record, across many runs."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.text: list[str] = []
        self.codes: list[int] = []

    def run(self, *args: str) -> int:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        self.text.append(f"$ {' '.join(args)} -> {code}\n{out}\n{err}")
        self.codes.append(code)
        return code


class LogTap(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture
def tap() -> Iterable[LogTap]:
    handler = LogTap()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


def write_seed(path: Path) -> Path:
    path.write_text(json.dumps({
        "customers": [customer(61, email="s61@example.com", number="(312) 204-1187"),
                      customer(62, email="s62@example.com"), customer(63, email=None)],
        "profiles": [{"attributes": {"email": "s62@example.com"},
                      "subscriptions": {"email": "SUBSCRIBED"}}],
        "lists": LISTS, "links": {},
    }), encoding="utf-8")
    return path


def config_file(path: Path, *, mode: int = 0o600, **tables: dict[str, str]) -> Path:
    path.write_text("".join(
        f"[{table}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
        for table, values in tables.items()), encoding="utf-8")
    path.chmod(mode)
    return path


COMMANDS = [
    ("preview", "61"), ("preview", "61", "--json"), ("push", "61"), ("push", "62", "--json"),
    ("push", "63", "--json"), ("push", "404404"), ("sync", "61", "62", "63"),
    ("sync", "--all", "--json"), ("errors",), ("errors", "--json"), ("retry", "--all"),
    ("retry", "--all", "--json"), ("history",), ("history", "--json"), ("history", "61"),
]
# Against a remote, each run pays for its round trips: the commands that reach both services.
REMOTE_COMMANDS = [
    ("preview", "61"), ("push", "61", "--json"), ("sync", "61", "62"), ("retry", "--all"),
    ("errors", "--json"),
]


def test_sandbox_runs_with_planted_keys_leak_nothing_anywhere(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        tap: LogTap) -> None:
    state = tmp_path / "state"
    seed = write_seed(tmp_path / "seed.json")
    conf = config_file(tmp_path / "config.toml", listen={"secret": LISTEN_SECRET})
    clean_env.setenv("KLAVIYO_API_KEY", KLAVIYO_KEY)
    clean_env.setenv("IPAAS_API_TOKEN", IPAAS_TOKEN)
    clean_env.setenv("IPAAS_SYSTEM_ID", "42")
    clean_env.setenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "1")
    cli = Transcript(capsys)
    head = ["--sandbox", str(seed), "--state-dir", str(state), "--config", str(conf)]
    for knobs in ({}, {"SANDBOX_FAILURE_RATE": "0.6"}, {"SANDBOX_KLAVIYO_DOWN": "1"}):
        for name, value in knobs.items():
            clean_env.setenv(name, value)
        for command in COMMANDS:
            cli.run(*head, *command)
        for name in knobs:
            clean_env.delenv(name)
    assert 1 in cli.codes and 0 in cli.codes  # failures and successes were both exercised
    assert ErrorLog(state).count() > 0, "the faulty runs should have left error records"
    found = scan_dir(state) + leaks("\n".join(cli.text), "CLI output") + leaks(
        "\n".join(tap.lines), "log records")
    assert found == []


def test_real_mode_with_wrong_keys_and_a_down_server_leak_nothing(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        tap: LogTap) -> None:
    remote: Remote = serve(tmp_path / "remote", write_seed(tmp_path / "seed.json"),
                           base_env(tmp_path))
    try:
        url = remote.exports["KLAVIYO_BASE_URL"]
        state = tmp_path / "state"
        cli = Transcript(capsys)
        clean_env.setenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "1")
        clean_env.setenv("IPAAS_SYSTEM_ID", remote.exports["IPAAS_SYSTEM_ID"])
        for klaviyo, ipaas, base in [
            (KLAVIYO_KEY, remote.exports["IPAAS_API_TOKEN"], url),    # Klaviyo answers 401
            (remote.exports["KLAVIYO_API_KEY"], IPAAS_TOKEN, url),    # iPaaS.com answers 401
            (KLAVIYO_KEY, IPAAS_TOKEN, "http://127.0.0.1:9"),         # nothing listens
            (remote.exports["KLAVIYO_API_KEY"], remote.exports["IPAAS_API_TOKEN"], url),
        ]:
            clean_env.setenv("KLAVIYO_API_KEY", klaviyo)
            clean_env.setenv("IPAAS_API_TOKEN", ipaas)
            clean_env.setenv("KLAVIYO_BASE_URL", base)
            clean_env.setenv("IPAAS_BASE_URL", base)
            for command in REMOTE_COMMANDS:
                cli.run("--state-dir", str(state), *command)
        assert "auth" in "\n".join(cli.text)
        found = scan_dir(state) + leaks("\n".join(cli.text), "CLI output") + leaks(
            "\n".join(tap.lines), "log records")
        assert found == []
    finally:
        remote.stop()
    # The remote's own state holds profiles, never the credentials it checks.
    assert scan_dir(tmp_path / "remote") == []


def test_a_service_that_echoes_the_key_back_cannot_make_anything_repeat_it(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        tap: LogTap) -> None:
    state = tmp_path / "state"
    cli = Transcript(capsys)
    caught: list[str] = []
    with echo_server() as url:
        for name, value in (("KLAVIYO_API_KEY", KLAVIYO_KEY), ("IPAAS_API_TOKEN", IPAAS_TOKEN),
                            ("IPAAS_SYSTEM_ID", "42"), ("KLAVIYO_BASE_URL", url),
                            ("IPAAS_BASE_URL", url), ("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "1"),
                            ("KLAVIYO_CONSOLE_LISTEN_SECRET", LISTEN_SECRET)):
            clean_env.setenv(name, value)
        for command in REMOTE_COMMANDS:
            cli.run("--state-dir", str(state), *command)

        async def exceptions() -> None:
            config = Config.load(state_dir=state)
            caught.append(repr(config) + str(config) + json.dumps(config.redacted()))
            async with await Engine.open(config) as engine:
                caught.append(repr(engine._ctx.klaviyo) + repr(engine._ctx.ipaas))
                calls = [engine.preview("61"), engine._ctx.klaviyo.get_profile("01J"),
                         engine._ctx.klaviyo.create_profile({"email": "a@example.com"}),
                         engine._ctx.ipaas.get_customer("61"),
                         engine._ctx.ipaas.lookup_link("61")]
                for call in calls:
                    try:
                        await call
                    except Exception as exc:
                        caught.append("".join(traceback.format_exception(exc)))
                        caught.append(repr(exc) + str(exc) + repr(vars(exc)))
                        inner = getattr(exc, "error", None)
                        if inner is not None:
                            caught.append(repr(inner) + str(inner) + repr(vars(inner)))
                    else:
                        caught.append("no exception")
                result = await engine.push("61", confirmed=True)
                caught.append(json.dumps(result.to_json(), default=str))

        logging.getLogger("httpx").setLevel(logging.DEBUG)
        logging.getLogger("httpcore").setLevel(logging.DEBUG)
        asyncio.run(exceptions())
    assert len(caught) > 5
    found = (scan_dir(state) + leaks("\n".join(cli.text), "CLI output")
             + leaks("\n".join(tap.lines), "log records") + leaks("\n".join(caught), "exceptions"))
    assert found == []


# ---- the config file's permissions -------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_config_file_with_secrets_that_others_can_read_is_refused(
        clean_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        mode: int) -> None:
    conf = config_file(tmp_path / "config.toml", mode=mode,
                       klaviyo={"api_key": KLAVIYO_KEY},
                       ipaas={"api_token": IPAAS_TOKEN, "system_id": "42"})

    code = main(["--config", str(conf), "--state-dir", str(tmp_path / "s"), "errors"])

    err = capsys.readouterr().err
    assert code == 2
    [line] = err.strip().splitlines()
    assert "chmod 600" in line and str(conf) in line
    assert leaks(err, "error line") == []
    with pytest.raises(ConfigError):
        Config.load(env={}, config_file=conf)


def test_the_default_config_path_is_checked_too(clean_env: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    xdg = tmp_path / "xdg-config" / "klaviyo-console"
    xdg.mkdir(parents=True)
    config_file(xdg / "config.toml", mode=0o644, listen={"secret": LISTEN_SECRET})
    with pytest.raises(ConfigError, match="chmod 600"):
        Config.load(env=dict(os.environ))


def test_a_private_config_file_and_a_public_one_without_secrets_are_accepted(
        clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    private = config_file(tmp_path / "private.toml", mode=0o600,
                          klaviyo={"api_key": KLAVIYO_KEY},
                          ipaas={"api_token": IPAAS_TOKEN, "system_id": "42"})
    public = config_file(tmp_path / "public.toml", mode=0o644, console={"default_region": "GB"})
    assert Config.load(env={}, config_file=private).klaviyo_api_key == KLAVIYO_KEY
    assert Config.load(env={}, config_file=public).default_region == "GB"
    assert stat.S_IMODE(public.stat().st_mode) == 0o644


# ---- exported screenshots ------------------------------------------------------------------


async def test_exported_screenshots_show_no_key(tmp_path: Path) -> None:
    screenshots = pytest.importorskip("console.screenshots")
    from textual.widgets import Input

    from console.app import ConsoleApp
    from core.sandbox import Sandbox

    out = tmp_path / "shots"
    out.mkdir()
    saved = [await screenshots.shoot(tmp_path / "errors-state", out, "errors",
                                     screenshots.errors_steps)]
    state = tmp_path / "settings-state"
    config = Config(state_dir=state, sandbox=True, klaviyo_api_key=KLAVIYO_KEY,
                    ipaas_token=IPAAS_TOKEN, ipaas_system_id="42", listen_secret=LISTEN_SECRET)

    async def open_engine(config: Config) -> Engine:
        return await Engine.open(config, sandbox=Sandbox(state))

    app = ConsoleApp(config, engine_factory=open_engine, keymap={},
                     recent_path=state / "recent.json")
    Input.cursor_blink = False
    async with app.run_test(size=screenshots.SIZE) as pilot:
        await screenshots.settle(pilot)
        await screenshots.press(pilot, "f2")
        saved.append(Path(app.save_screenshot("settings.svg", str(out))))
    texts = {path.name: path.read_text(encoding="utf-8") for path in saved}
    # The settings screen was shot, showing each key masked to its last four characters.
    assert all(f"…{key[-4:]}" in texts["settings.svg"] for key in PLANTED)
    found = [hit for name, text in texts.items() for hit in leaks(text, name)]
    assert found == []
