"""The command line's contract: usage and config errors, JSON shapes, and `sandbox serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli import main
from tests.e2e.conftest import Cli, customer

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["push"],
    ["sync"],
    ["sync", "1", "--all"],
    ["errors", "--kind", "nonsense"],
    ["history", "--limit", "0"],
    ["sandbox"],
])
def test_usage_mistakes_are_one_line_and_exit_2(cli: Cli, args: list[str]) -> None:
    cli.seed([])
    code, out, err = cli.run(*args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("klaviyo-console: "), err
    assert "Traceback" not in err


def test_retry_of_an_unknown_error_id_is_a_usage_error(cli: Cli) -> None:
    cli.seed([])
    code, _, err = cli.run("retry", "E-999")
    assert code == 2 and "no error record E-999" in err


def test_partial_credentials_are_a_config_error(clean_env: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    clean_env.setenv("KLAVIYO_API_KEY", "pk_live_abcdefghijklmnop")
    code = main(["--state-dir", str(tmp_path), "errors"])
    err = capsys.readouterr().err
    assert code == 2
    assert "IPAAS_API_TOKEN" in err and "pk_live" not in err


def test_plain_http_to_a_remote_host_is_refused(clean_env: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    clean_env.setenv("KLAVIYO_API_KEY", "pk_live_abcdefghijklmnop")
    clean_env.setenv("IPAAS_API_TOKEN", "tok_abcdefghijklmnop")
    clean_env.setenv("IPAAS_SYSTEM_ID", "42")
    clean_env.setenv("KLAVIYO_BASE_URL", "http://klaviyo.example.com")
    code = main(["--state-dir", str(tmp_path), "errors"])
    assert code == 2
    assert "plain http" in capsys.readouterr().err


def test_a_config_file_others_can_read_is_refused_when_it_holds_secrets(
        clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[klaviyo]\napi_key = "pk_live_abcdefghijklmnop"\n', encoding="utf-8")
    config.chmod(0o644)
    code = main(["--config", str(config), "--state-dir", str(tmp_path), "errors"])
    err = capsys.readouterr().err
    assert code == 2 and "chmod 600" in err and "pk_live" not in err


def test_without_credentials_the_sandbox_is_used_and_said(cli: Cli) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, out, err = cli.run("--sandbox", str(cli.seed_path), "preview", "1", sandbox=False)
    assert code == 0
    assert "sandbox" in err
    assert "CREATE" in out


def test_preview_json_has_the_documented_keys(cli: Cli) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, doc = cli.json("preview", "1")
    assert code == 0
    assert set(doc) == {"customer_id", "route", "matched_by", "profile_id", "reason", "payload",
                        "current", "diff", "consent", "lists", "guard", "unknown", "warnings",
                        "errors"}
    assert doc["customer_id"] == "1" and doc["route"] == "create"
    assert doc["payload"]["data"]["type"] == "profile"
    for item in doc["diff"]:
        assert set(item) == {"field", "current", "mapped", "change"}
    # Preview writes nothing: no history, no errors, no profile.
    _, history = cli.json("history")
    assert history == []
    assert cli.state()["klaviyo"]["profiles"] == []


def test_errors_json_lists_records_with_the_documented_fields(cli: Cli) -> None:
    cli.seed([customer(1, address=False)])
    cli.run("push", "1")
    code, records = cli.json("errors")
    assert code == 0
    [record] = records
    assert {"id", "customer_id", "kind", "message", "status", "attempts"} <= set(record)
    code, out, _ = cli.run("errors")
    assert code == 0 and record["id"] in out and "no_identifier" in out


def test_no_secret_reaches_the_state_dir(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.sandbox import SandboxCredentials

    creds = SandboxCredentials()
    cli.seed([customer(1, email="s@example.com"), customer(2, address=False)])
    monkeypatch.setenv("SANDBOX_KLAVIYO_DOWN", "1")
    cli.run("push", "1", "--yes")
    monkeypatch.delenv("SANDBOX_KLAVIYO_DOWN")
    cli.run("push", "1", "--yes")
    cli.run("push", "2")
    for path in cli.state_dir.rglob("*"):
        if path.is_file() and "sandbox" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert creds.klaviyo_api_key not in text, path
            assert creds.ipaas_token not in text, path


def test_sandbox_serve_prints_exports_then_serves_the_console(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(9, email="served@example.com")])
    serve_state = tmp_path / "served"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "IPAAS_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--sandbox", str(cli.seed_path), "sandbox", "serve",
         "--port", "0", "--state-dir", str(serve_state)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        names = [line.split("=", 1)[0] for line in lines]
        assert names == ["export KLAVIYO_BASE_URL", "export KLAVIYO_API_KEY",
                         "export IPAAS_BASE_URL", "export IPAAS_API_TOKEN",
                         "export IPAAS_SYSTEM_ID"], lines
        for line in lines:
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value.strip("'"))
        assert os.environ["KLAVIYO_BASE_URL"].startswith("http://127.0.0.1:")

        code, out, err = cli.run("push", "9", "--yes", "--json", sandbox=False)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["ok"] is True and doc["route"] == "create"
        assert "sandbox:" not in err  # talking to "real" services over loopback
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
