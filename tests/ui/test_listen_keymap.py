"""Listen from the batch screen and keys remapped in the config file, on the real engine."""

from __future__ import annotations

from pathlib import Path

import httpx
from textual.widgets import RichLog

from console.screens.batch import BatchScreen
from console.screens.confirm import PushConfirmScreen
from core.config import Config
from tests.ui.helpers import lookup, settle
from tests.ui.sandbox_app import sandbox_app, sandbox_config

SECRET = "listen-secret-for-the-test"


def feed_text(screen: BatchScreen) -> str:
    return "\n".join(line.text for line in screen.query_one("#feed", RichLog).lines)


async def test_listen_feeds_notifications_into_the_batch_screen(tmp_path: Path):
    state = tmp_path / "state"
    app = sandbox_app(state, config=sandbox_config(state, listen_secret=SECRET))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, BatchScreen)
        await pilot.press("ctrl+t")
        await settle(pilot)
        server = screen.listener
        assert server is not None and server.server.host == "127.0.0.1"
        shown = feed_text(screen)
        assert f"listening on {server.url}/" in shown and "shared secret" in shown
        assert SECRET not in shown
        body = {"id": "hook-1", "notifications": [
            {"scope": "customer/updated", "action": "update", "id": "55268"}]}
        async with httpx.AsyncClient() as client:
            refused = await client.post(f"{server.url}/", json=body)
            answer = await client.post(f"{server.url}/", json=body,
                                       headers={"Authorization": f"Bearer {SECRET}"})
        assert refused.status_code == 401
        assert answer.json()["results"][0]["status"] == "ok"
        await settle(pilot)
        assert "customer/updated 55268: ok → profile" in feed_text(screen)
        entries = app.engine.history.for_customer("55268")
        assert [e.trigger for e in entries] == ["listen"]
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert screen.listener is None and "listen stopped" in feed_text(screen)


async def test_sandbox_customer_changes_show_while_listening(tmp_path: Path):
    app = sandbox_app(tmp_path / "state")  # no secret configured: the sandbox makes one
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        screen = app.screen
        assert "following sandbox customer changes" in feed_text(screen)
        sandbox = app.engine.sandbox
        sandbox.ipaas.on_change("customer/updated", "55268")
        await settle(pilot)
        await pilot.pause(0.05)
        await settle(pilot)
        assert "sandbox change: customer 55268: ok" in feed_text(screen)


async def test_keymap_from_the_config_file_remaps_push(tmp_path: Path):
    config_dir = tmp_path / "no-config" / "klaviyo-console"
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text('[keymap]\npush = "f11"\n', encoding="utf-8")
    state = tmp_path / "state"
    config = Config.load(env={"XDG_CONFIG_HOME": str(tmp_path / "no-config")},
                         state_dir=state, sandbox=True)
    assert dict(config.keymap) == {"push": "f11"}
    app = sandbox_app(state, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await lookup(pilot, "55268")
        await pilot.press("f5")  # the default key no longer pushes
        await settle(pilot)
        assert not isinstance(app.screen, PushConfirmScreen)
        await pilot.press("f11")
        await settle(pilot)
        assert isinstance(app.screen, PushConfirmScreen)
