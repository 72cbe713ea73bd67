"""Issue 17 items 1, 4 and 8 on the command line: no silent sandbox, visible waits, history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.cli import main
from console.cli.common import SANDBOX_LINE, RetryLines
from core.clients.http import RetryNotice
from core.store import ErrorLog, History
from tests.e2e.conftest import Cli, customer

COMMANDS = (["preview", "1"], ["push", "1"], ["sync", "--all"], ["errors"], ["retry", "--all"],
            ["history"], ["check"], ["listen"])
JSON_COMMANDS = (["preview", "1"], ["push", "1", "--yes"], ["sync", "1"], ["errors"],
                 ["retry", "--all"], ["history"], ["check"])


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_without_credentials_a_command_exits_2_naming_the_variables(
        cli: Cli, args: list[str]) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, out, err = cli.run(*args, sandbox=False)
    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    for name in ("KLAVIYO_API_KEY", "IPAAS_API_TOKEN", "IPAAS_SYSTEM_ID", "--sandbox"):
        assert name in line
    assert not (cli.state_dir / "sandbox").exists()  # no emulator ran


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda a: a[0])
def test_every_command_on_the_sandbox_says_so_on_stderr_and_json_stays_clean(
        cli: Cli, args: list[str]) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, out, err = cli.run(*args, "--json")
    assert code in (0, 1), err
    json.loads(out)
    assert SANDBOX_LINE in err
    code, out, err = cli.run(*args)
    assert SANDBOX_LINE in err and SANDBOX_LINE not in out


# ---- waits are visible ------------------------------------------------------------------------


def test_while_a_call_retries_stderr_says_what_it_waits_for(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(1, email="x@example.com")])
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    monkeypatch.setenv("KLAVIYO_CONSOLE_RETRY_ATTEMPTS", "2")
    code, out, err = cli.run("preview", "1", "--json")
    assert code == 1 and out == ""
    waits = [line for line in err.splitlines() if "; attempt 2/2 in " in line]
    assert waits and waits[0].startswith("Klaviyo at http://127.0.0.1 ")


def test_retry_lines_say_one_wave_of_the_same_wait_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    now = [100.0]
    lines = RetryLines(clock=lambda: now[0])
    notice = RetryNotice("Klaviyo", "https://a.klaviyo.com", 2, 5, 4.0, "not answering")
    for _ in range(5):
        lines(notice)
    lines(RetryNotice("Klaviyo", "https://a.klaviyo.com", 3, 5, 8.0, "not answering"))
    now[0] += 5
    lines(notice)
    err = capsys.readouterr().err.splitlines()
    assert err == ["Klaviyo at https://a.klaviyo.com not answering; attempt 2/5 in 4 s",
                   "Klaviyo at https://a.klaviyo.com not answering; attempt 3/5 in 8 s",
                   "Klaviyo at https://a.klaviyo.com not answering; attempt 2/5 in 4 s"]


# ---- history ----------------------------------------------------------------------------------


def test_history_of_one_customer_shows_before_sent_and_after(cli: Cli) -> None:
    cli.seed([customer(1, email="x@example.com", first="Ann")],
             profiles=[{"attributes": {"email": "x@example.com", "first_name": "Anne"}}])
    assert cli.run("push", "1", "--yes")[0] == 0
    code, out, _ = cli.run("history", "1")
    assert code == 0
    header = next(line for line in out.splitlines() if line.split()[:1] == ["field"])
    assert header.split() == ["field", "before", "sent", "after"]
    row = next(line for line in out.splitlines() if line.split()[:1] == ["first_name"])
    assert row.split() == ["first_name", "Anne", "Ann", "Ann"]


def test_listings_say_showing_n_of_m(cli: Cli) -> None:
    cli.seed([customer(i, email=f"c{i}@example.com") for i in (1, 2, 3)]
             + [customer(8, address=False), customer(9, address=False)])
    for cid in ("1", "2", "3", "1"):
        cli.run("push", cid, "--yes")
    cli.run("push", "9")
    cli.run("push", "8")
    code, _, err = cli.run("history", "--limit", "2")
    assert code == 0 and "showing 2 of 6" in err
    code, _, err = cli.run("history", "1", "--limit", "1")
    assert code == 0 and "showing 1 of 2" in err
    code, doc = cli.json("history", "--limit", "3")
    assert len(doc) == 3
    code, _, err = cli.run("history")
    assert "showing" not in err
    code, _, err = cli.run("errors", "--limit", "1")
    assert code == 0 and "showing 1 of 2" in err
    code, _, err = cli.run("errors")
    assert code == 0 and "showing" not in err


@pytest.mark.parametrize("command", ["history", "errors"])
def test_limit_is_documented_in_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--limit N" in text and "at most N" in text


def test_prune_needs_older_than_and_applies_to_the_whole_history(cli: Cli) -> None:
    cli.seed([])
    code, _, err = cli.run("history", "--prune")
    assert code == 2 and "--older-than DAYS" in err and "retention_days" in err
    assert cli.run("history", "--older-than", "30")[0] == 2
    assert cli.run("history", "1", "--prune", "--older-than", "30")[0] == 2
    assert cli.run("history", "--prune", "--older-than", "0")[0] == 2


def test_prune_hands_the_store_a_cutoff_days_ago(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([])
    cutoffs: list[str] = []

    def prune(self: History, before: str) -> int:
        cutoffs.append(before)
        return 7

    def prune_resolved(self: ErrorLog, before: str) -> int:
        cutoffs.append(before)
        return 2

    monkeypatch.setattr(History, "prune", prune, raising=False)
    monkeypatch.setattr(ErrorLog, "prune", prune_resolved, raising=False)
    code, doc = cli.json("history", "--prune", "--older-than", "30")
    assert code == 0 and doc["pruned"] == 7 and doc["pruned_resolved_errors"] == 2
    history_cutoff, errors_cutoff = cutoffs
    assert history_cutoff == errors_cutoff
    age = datetime.now(UTC) - datetime.fromisoformat(history_cutoff)
    assert abs(age - timedelta(days=30)) < timedelta(minutes=5)
    code, out, _ = cli.run("history", "--prune", "--older-than", "30")
    flat = " ".join(out.split())
    assert code == 0 and "pruned 7 history entries and 2 resolved error records" in flat
    assert "older than 30 days" in flat and "open error records stay" in flat


def test_prune_takes_its_age_from_the_config_when_not_given(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cli.seed([])
    config = tmp_path / "config.toml"
    config.write_text("[history]\nretention_days = 90\n", encoding="utf-8")
    config.chmod(0o600)
    cutoffs: list[str] = []

    def prune(self: History, before: str) -> int:
        cutoffs.append(before)
        return 0

    monkeypatch.setattr(History, "prune", prune, raising=False)
    code, doc = cli.json("--config", str(config), "history", "--prune")
    assert code == 0 and doc["older_than_days"] == 90
    age = datetime.now(UTC) - datetime.fromisoformat(cutoffs[0])
    assert abs(age - timedelta(days=90)) < timedelta(minutes=5)


def test_prune_on_a_store_that_cannot_prune_says_so_and_deletes_nothing(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(1, email="x@example.com")])
    cli.run("push", "1", "--yes")
    monkeypatch.delattr(History, "prune", raising=False)
    code, _, err = cli.run("history", "--prune", "--older-than", "1")
    assert code == 1 and "cannot prune" in err
    _, entries = cli.json("history")
    assert len(entries) == 1
