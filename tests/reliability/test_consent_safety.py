"""Design §6: no path changes consent unless its plan showed it, and the guard holds on every path.

Four customers cover the consent plans (issue 14's policy, on a double opt-in account): an
unsubscribe the template made (SubscribeProfile empty) of a SUBSCRIBED profile and a
re-subscribe of someone who opted out (both held), a first consent email and the customer's own
opt-out of a never-subscribed profile (both shown, not held). Every path runs on all four; the
emulator's consent state, pending double opt-ins and outbox are compared before and after,
customer by customer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine
from core.loopback import LoopbackServer
from tests.e2e.conftest import Cli, customer

UNSUB, DOI, PLAIN, NEVER = "41", "42", "43", "44"
GUARDED = {UNSUB, DOI}
EVERYONE = [UNSUB, DOI, PLAIN, NEVER]
EMAIL = {cid: f"c{cid}@example.com" for cid in EVERYONE}
SECRET = "listen-secret-for-consent-tests"


def seed(cli: Cli) -> None:
    cli.seed(
        [customer(41, email=EMAIL[UNSUB]),
         customer(42, email=EMAIL[DOI], fields={"SubscribeProfile": "true"}),
         customer(43, email=EMAIL[PLAIN], fields={"SubscribeProfile": "true"}),
         customer(44, email=EMAIL[NEVER], fields={"SubscribeProfile": "false"})],
        profiles=[{"attributes": {"email": EMAIL[UNSUB]}, "subscriptions": {"email": "SUBSCRIBED"}},
                  {"attributes": {"email": EMAIL[DOI]},
                   "subscriptions": {"email": "UNSUBSCRIBED"}},
                  {"attributes": {"email": EMAIL[NEVER]},
                   "subscriptions": {"email": "NEVER_SUBSCRIBED"}}],
        account={"opt_in_process": "double_opt_in"},
    )


def consent_of(cli: Cli) -> dict[str, tuple[str, str, int, int]]:
    """Per customer: (email consent, sms consent, pending double opt-ins, consent emails sent)."""
    if not (cli.state_dir / "sandbox" / "state.json").exists():
        return {cid: ("NEVER_SUBSCRIBED", "NEVER_SUBSCRIBED", 0, 0) for cid in EVERYONE}
    klaviyo = cli.state()["klaviyo"]
    out = {}
    for cid in EVERYONE:
        email = EMAIL[cid]
        profile = next((p for p in klaviyo["profiles"]
                        if p["attributes"].get("email") == email), None)
        pid = profile["id"] if profile else None
        out[cid] = (
            ((profile or {}).get("email_marketing") or {}).get("consent", "NEVER_SUBSCRIBED"),
            ((profile or {}).get("sms_marketing") or {}).get("consent", "NEVER_SUBSCRIBED"),
            sum(1 for p in klaviyo["pending"] if p["profile_id"] == pid),
            sum(1 for m in klaviyo["outbox"] if m["to"] == email),
        )
    return out


def plans_shown(cli: Cli) -> dict[str, list[dict[str, Any]]]:
    """What `preview --json` shows for each customer's consent, right now."""
    shown = {}
    for cid in EVERYONE:
        code, plan = cli.json("preview", cid)
        assert code == 0, plan
        shown[cid] = plan["consent"]
    return shown


def assert_only_shown_changes(before: dict[str, tuple[str, str, int, int]],
                              after: dict[str, tuple[str, str, int, int]],
                              shown: dict[str, list[dict[str, Any]]],
                              applied: set[str]) -> None:
    """Customers not in `applied` kept their consent; the others changed only as shown."""
    for cid in EVERYONE:
        was, now = before[cid], after[cid]
        if cid not in applied:
            assert now == was, f"customer {cid}: consent changed without confirmation"
            continue
        plan = shown[cid]
        email_actions = {(c["action"], c["double_opt_in"]) for c in plan if c["channel"] == "email"}
        if now[0] != was[0]:
            wanted = "subscribe" if now[0] == "SUBSCRIBED" else "unsubscribe"
            assert any(a == wanted for a, _ in email_actions), (cid, was, now, plan)
        if now[1] != was[1]:
            assert any(c["channel"] == "sms" for c in plan), (cid, was, now, plan)
        if now[3] > was[3]:
            assert ("subscribe", True) in email_actions, (cid, was, now, plan)
        # And what the plan showed did happen.
        for action, doi in email_actions:
            if doi:
                assert now[3] == was[3] + 1, (cid, plan)
            elif action == "subscribe":
                assert now[0] == "SUBSCRIBED", (cid, plan)
            else:
                assert now[0] == "UNSUBSCRIBED", (cid, plan)


def open_kinds(cli: Cli) -> dict[str, str]:
    _, errors = cli.json("errors", "--status", "open")
    return {e["customer_id"]: e["kind"] for e in errors}


@pytest.fixture
def shown(cli: Cli, custom_template: Path) -> dict[str, list[dict[str, Any]]]:
    seed(cli)
    plans = plans_shown(cli)
    # The matrix is only meaningful if the plans are the four kinds it claims.
    assert plans[UNSUB] == [{"channel": "email", "action": "unsubscribe", "list": None,
                             "double_opt_in": False, "pending_since": None}]
    assert plans[DOI] == [{"channel": "email", "action": "subscribe", "list": None,
                           "double_opt_in": True, "pending_since": None}]
    assert plans[PLAIN] and all(c["double_opt_in"] for c in plans[PLAIN])
    assert plans[NEVER] and plans[NEVER][0]["action"] == "unsubscribe"
    return plans


def test_push_without_yes_holds_guarded_plans_and_logs_nothing(
        cli: Cli, shown: dict[str, list[dict[str, Any]]]) -> None:
    before = consent_of(cli)
    for cid in EVERYONE:
        code, result = cli.json("push", cid)
        assert result["held"] is (cid in GUARDED), result
        assert code == (1 if cid in GUARDED else 0)
        assert result["consent"] == shown[cid]
    assert_only_shown_changes(before, consent_of(cli), shown, applied={PLAIN, NEVER})
    assert open_kinds(cli) == {}


def test_push_with_yes_applies_exactly_what_the_plan_showed(
        cli: Cli, shown: dict[str, list[dict[str, Any]]]) -> None:
    before = consent_of(cli)
    for cid in EVERYONE:
        code, result = cli.json("push", cid, "--yes")
        assert code == 0 and result["ok"], result
    after = consent_of(cli)
    assert_only_shown_changes(before, after, shown, applied=set(EVERYONE))
    assert after[UNSUB][0] == "UNSUBSCRIBED"
    assert after[DOI][3] == 1  # one consent email, consent itself still pending


BULK = pytest.mark.parametrize("bulk", [[], ["--bulk"]], ids=["per-profile", "bulk"])


@BULK
def test_sync_holds_guarded_plans_as_consent_guard_errors_and_retry_never_confirms(
        cli: Cli, shown: dict[str, list[dict[str, Any]]], bulk: list[str]) -> None:
    before = consent_of(cli)
    code, progress = cli.json("sync", *EVERYONE, *bulk)
    assert code == 1 and progress["held"] == 2 and progress["done"] == 2, progress
    after_sync = consent_of(cli)
    assert_only_shown_changes(before, after_sync, shown, applied={PLAIN, NEVER})
    assert open_kinds(cli) == {UNSUB: "consent_guard", DOI: "consent_guard"}

    for _ in range(2):
        code, doc = cli.json("retry", "--all")
        assert code == 1 and doc["held"] == 2, doc
        assert consent_of(cli) == after_sync
        assert open_kinds(cli) == {UNSUB: "consent_guard", DOI: "consent_guard"}

    _, errors = cli.json("errors", "--status", "open")
    assert {len(e["attempts"]) for e in errors} == {3}


@BULK
def test_sync_with_allow_unsubscribe_applies_exactly_what_the_plans_showed(
        cli: Cli, shown: dict[str, list[dict[str, Any]]], bulk: list[str]) -> None:
    before = consent_of(cli)
    code, progress = cli.json("sync", *EVERYONE, "--allow-unsubscribe", *bulk)
    assert code == 0 and progress["done"] == 4, progress
    assert_only_shown_changes(before, consent_of(cli), shown, applied=set(EVERYONE))
    assert open_kinds(cli) == {}


@BULK
def test_sync_all_holds_the_same_way_as_sync_of_ids(
        cli: Cli, shown: dict[str, list[dict[str, Any]]], bulk: list[str]) -> None:
    before = consent_of(cli)
    code, progress = cli.json("sync", "--all", *bulk)
    assert code == 1 and progress["held"] == 2, progress
    assert_only_shown_changes(before, consent_of(cli), shown, applied={PLAIN, NEVER})


def test_a_listen_trigger_never_confirms(
        cli: Cli, shown: dict[str, list[dict[str, Any]]]) -> None:
    before = consent_of(cli)

    async def deliver() -> dict[str, Any]:
        config = Config.load(state_dir=cli.state_dir, sandbox=True, sandbox_seed=cli.seed_path)
        async with await Engine.open(config) as engine:
            server = LoopbackServer(engine.hook_handler(SECRET))
            await server.start()
            try:
                async with httpx.AsyncClient(base_url=server.url) as client:
                    body = {"id": "hook-1", "notifications": [
                        {"scope": "customer/updated", "action": "update", "id": cid}
                        for cid in EVERYONE]}
                    response = await client.post(
                        "/", json=body, headers={"Authorization": f"Bearer {SECRET}"},
                        timeout=30)
                    assert response.status_code == 200
                    return dict(response.json())
            finally:
                await server.close()

    answer = asyncio.run(deliver())
    statuses = {r["id"]: r["status"] for r in answer["results"]}
    assert statuses == {UNSUB: "held", DOI: "held", PLAIN: "ok", NEVER: "ok"}
    assert_only_shown_changes(before, consent_of(cli), shown, applied={PLAIN, NEVER})
    assert open_kinds(cli) == {UNSUB: "consent_guard", DOI: "consent_guard"}


def test_a_sandbox_change_trigger_never_confirms(
        cli: Cli, shown: dict[str, list[dict[str, Any]]]) -> None:
    before = consent_of(cli)

    async def change_everyone() -> None:
        config = Config.load(state_dir=cli.state_dir, sandbox=True, sandbox_seed=cli.seed_path)
        async with await Engine.open(config) as engine:
            results = []
            assert engine.follow_sandbox(results.append)
            assert engine.sandbox is not None
            for cid in EVERYONE:
                engine.sandbox.ipaas.update_customer(cid, first_name="Changed")
            for _ in range(200):
                if len(results) == len(EVERYONE):
                    break
                await asyncio.sleep(0.01)
            assert {r.plan.customer_id: r.held for r in results} == {
                cid: cid in GUARDED for cid in EVERYONE}

    asyncio.run(change_everyone())
    assert_only_shown_changes(before, consent_of(cli), shown, applied={PLAIN, NEVER})
    assert open_kinds(cli) == {UNSUB: "consent_guard", DOI: "consent_guard"}


def test_a_held_manual_push_then_confirmed_changes_only_what_the_dialog_listed(
        cli: Cli, shown: dict[str, list[dict[str, Any]]]) -> None:
    before = consent_of(cli)
    code, held = cli.json("push", UNSUB)
    assert held["held"] and consent_of(cli) == before
    code, done = cli.json("push", UNSUB, "--yes")
    assert code == 0 and done["consent"] == held["consent"] == shown[UNSUB]
    assert_only_shown_changes(before, consent_of(cli), shown, applied={UNSUB})
    assert json.dumps(done["consent"]).count("unsubscribe") == 1
