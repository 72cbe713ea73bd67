"""A preview knows list membership from list-side checks, at Klaviyo's real rate limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import Engine
from core.model import GuardKind, Route
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import LISTS, customer


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


async def engine_for(tmp_path: Path, profile: dict[str, Any], *, linked: bool) -> Engine:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "customers": [customer(1, email="ann@example.com", number="(312) 204-1187")],
        "profiles": [profile], "lists": LISTS, "links": {"1": "#0"} if linked else {},
    }), encoding="utf-8")
    state = tmp_path / "state"
    sandbox = Sandbox(None, seed=seed, knobs=Knobs(rate_scale=1.0))
    return await Engine.open(Config(state_dir=state, sandbox=True, sandbox_seed=seed,
                                    retry_attempts=1), sandbox=sandbox)


@pytest.mark.parametrize("linked", [True, False])
async def test_a_member_of_both_lists_gets_no_list_or_opt_in_operations(
        tmp_path: Path, linked: bool) -> None:
    engine = await engine_for(tmp_path, {
        "attributes": {"email": "ann@example.com"}, "subscriptions": {"email": "SUBSCRIBED"},
        "lists": ["Sms Subscribers", "Preview List"]}, linked=linked)
    try:
        for _ in range(3):  # previews in a row never wait on a 1/s bucket nor hit a 429
            plan = await engine.preview("1")
            assert plan.route is (Route.UPDATE if linked else Route.LINK)
            assert plan.lists == ()
            assert not plan.guarded_consent  # no double opt-in email for a member
        throttled = sum(s.throttled for s in engine.rate_limits().values())
        assert throttled == 0
    finally:
        await engine.close()


async def test_a_non_member_gets_the_add_and_the_opt_in_warning(tmp_path: Path) -> None:
    engine = await engine_for(tmp_path, {"attributes": {"email": "ann@example.com"}},
                              linked=True)
    try:
        plan = await engine.preview("1")
        assert [c.list_name for c in plan.lists] == ["Preview List"]
        # issue 14: the first consent email is a guarded change, sent unheld by default
        assert any(c.double_opt_in and c.guard_kind is GuardKind.CONSENT_EMAIL
                   for c in plan.consent)
    finally:
        await engine.close()


async def test_a_linked_profile_with_another_email_has_unknown_membership(
        tmp_path: Path) -> None:
    engine = await engine_for(tmp_path, {
        "attributes": {"email": "old@example.com"}, "lists": ["Preview List"]}, linked=True)
    try:
        plan = await engine.preview("1")
        # The check filtered by ann@example.com, so membership of this profile is unknown:
        # the add is planned (idempotent) rather than wrongly skipped.
        assert [c.list_name for c in plan.lists] == ["Preview List"]
    finally:
        await engine.close()
