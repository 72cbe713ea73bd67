"""The engine builds its clients from the operator's network settings."""

from __future__ import annotations

from pathlib import Path

from core.config import Config
from core.engine import Engine

SETTINGS = {
    "KLAVIYO_CONSOLE_RETRY_ATTEMPTS": "2",
    "KLAVIYO_CONSOLE_CONNECT_TIMEOUT": "3",
    "KLAVIYO_CONSOLE_READ_TIMEOUT": "4",
    "KLAVIYO_CONSOLE_TOTAL_TIMEOUT": "50",
}


async def test_both_clients_retry_and_time_out_as_configured(tmp_path: Path) -> None:
    config = Config.load(env=SETTINGS, state_dir=tmp_path, sandbox=True)
    async with await Engine.open(config) as engine:
        for client in (engine._ctx.klaviyo, engine._ctx.ipaas):
            policy = client.retry_policy
            assert (policy.max_attempts, policy.connect_timeout, policy.read_timeout,
                    policy.total_timeout) == (2, 3.0, 4.0, 50.0)
