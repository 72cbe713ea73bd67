"""The account's opt-in process (design §8): it governs a subscribe sent without a list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.sandbox import Sandbox, SandboxSeedError
from core.sandbox.klaviyo import KlaviyoEmulator
from tests.contract.test_klaviyo_emulator_support import (
    API_KEY,
    client,
    email_subject,
    subscribe_doc,
)

SINGLE = {"opt_in_process": "single_opt_in"}
DOUBLE = {"opt_in_process": "double_opt_in"}


def emulator_with(
    account: dict[str, Any] | None, lists: list[dict[str, Any]] | None = None
) -> KlaviyoEmulator:
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0)
    emulator.seed([], lists or [], account)
    return emulator


async def email_marketing(c: httpx.AsyncClient, pid: str) -> dict[str, Any]:
    r = await c.get(
        f"/api/profiles/{pid}",
        params={"additional-fields[profile]": "subscriptions", "include": "lists"},
    )
    data = r.json()["data"]
    marketing: dict[str, Any] = data["attributes"]["subscriptions"]["email"]["marketing"]
    marketing["lists"] = [item["id"] for item in data["relationships"]["lists"]["data"]]
    return marketing


async def subscribe(c: httpx.AsyncClient, email: str, list_id: str | None = None) -> None:
    r = await c.post(
        "/api/profile-subscription-bulk-create-jobs",
        json=subscribe_doc([email_subject(email)], list_id),
    )
    assert r.status_code == 202
    assert r.content == b""


@pytest.mark.parametrize("account", [None, {}, DOUBLE])
async def test_the_default_account_is_double_opt_in(account: dict[str, Any] | None) -> None:
    emulator = emulator_with(account)
    async with client(emulator) as c:
        await subscribe(c, "new@example.com")
        pid = emulator.profile_id_for_email("new@example.com")
        assert pid is not None
        pending = await email_marketing(c, pid)
        assert emulator.outbox == [
            {"to": "new@example.com", "list_id": None, "list_name": None, "profile_id": pid,
             "at": emulator.outbox[0]["at"]}
        ]
        assert emulator.confirm_consent("new@example.com") == [None]
        confirmed = await email_marketing(c, pid)
    assert pending["consent"] == "NEVER_SUBSCRIBED"
    assert confirmed["consent"] == "SUBSCRIBED"
    assert confirmed["double_optin"] is True
    assert confirmed["lists"] == []


async def test_a_single_opt_in_account_subscribes_at_once_and_sends_nothing() -> None:
    emulator = emulator_with(SINGLE)
    async with client(emulator) as c:
        await subscribe(c, "now@example.com")
        pid = emulator.profile_id_for_email("now@example.com")
        assert pid is not None
        marketing = await email_marketing(c, pid)
    assert marketing["consent"] == "SUBSCRIBED"
    assert marketing["double_optin"] is False
    assert emulator.outbox == []


async def test_an_unsubscribed_person_stays_unsubscribed_until_confirming() -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY, rate_scale=0)
    ids = emulator.seed(
        [{"attributes": {"email": "gone@example.com"}, "subscriptions": {"email": "UNSUBSCRIBED"}}],
        [],
    )
    async with client(emulator) as c:
        await subscribe(c, "gone@example.com")
        pending = await email_marketing(c, ids["0"])
        emulator.confirm_consent("gone@example.com")
        confirmed = await email_marketing(c, ids["0"])
    assert pending["consent"] == "UNSUBSCRIBED"
    assert confirmed["consent"] == "SUBSCRIBED"
    assert confirmed["suppression"] == []


@pytest.mark.parametrize(
    ("account", "list_opt_in", "pending"),
    [(DOUBLE, "single_opt_in", False), (SINGLE, "double_opt_in", True)],
)
async def test_a_lists_own_setting_wins_over_the_account(
    account: dict[str, Any], list_opt_in: str, pending: bool
) -> None:
    emulator = emulator_with(account, [{"name": "L", "opt_in_process": list_opt_in}])
    lid = emulator.state.list_by_name["L"]
    async with client(emulator) as c:
        await subscribe(c, "l@example.com", lid)
        pid = emulator.profile_id_for_email("l@example.com")
        assert pid is not None
        marketing = await email_marketing(c, pid)
    assert (marketing["consent"] == "NEVER_SUBSCRIBED") is pending
    assert (marketing["lists"] == []) is pending
    assert [mail["list_id"] for mail in emulator.outbox] == ([lid] if pending else [])


async def test_historical_import_skips_the_accounts_double_opt_in() -> None:
    emulator = emulator_with(DOUBLE)
    subject = {
        "type": "profile",
        "attributes": {
            "email": "old@example.com",
            "subscriptions": {"email": {"marketing": {
                "consent": "SUBSCRIBED", "consented_at": "2020-01-01T00:00:00+00:00"}}},
        },
    }
    async with client(emulator) as c:
        r = await c.post(
            "/api/profile-subscription-bulk-create-jobs",
            json=subscribe_doc([subject], historical_import=True),
        )
        pid = emulator.profile_id_for_email("old@example.com")
        assert pid is not None
        marketing = await email_marketing(c, pid)
    assert r.status_code == 202
    assert marketing["consent"] == "SUBSCRIBED"
    assert emulator.outbox == []


@pytest.mark.parametrize("account", [SINGLE, DOUBLE])
async def test_lists_without_their_own_setting_take_the_accounts(account: dict[str, Any]) -> None:
    emulator = emulator_with(account, [{"name": "Seeded"}])
    async with client(emulator) as c:
        made = await c.post(
            "/api/lists", json={"data": {"type": "list", "attributes": {"name": "Made"}}}
        )
    assert made.status_code == 201
    assert made.json()["data"]["attributes"]["opt_in_process"] == account["opt_in_process"]
    seeded = emulator.state.lists[emulator.state.list_by_name["Seeded"]]
    assert seeded["opt_in_process"] == account["opt_in_process"]


@pytest.mark.parametrize(
    ("account", "message"),
    [({"opt_in_process": "triple_opt_in"}, "opt_in_process must be 'double_opt_in' or "
                                           "'single_opt_in', got 'triple_opt_in'"),
     ({"opt_in_process": None}, "got None"),
     ({"opt_in": "single_opt_in"}, "unknown keys"),
     (["single_opt_in"], "must be an object")],
)
def test_a_bad_account_seed_is_refused_clearly(account: Any, message: str) -> None:
    emulator = KlaviyoEmulator(api_key=API_KEY)
    with pytest.raises(ValueError, match=message):
        emulator.seed([], [], account)


@pytest.mark.parametrize(
    ("account", "message"),
    [('"double"', "'account' must be an object"),
     ('{"opt_in_process": "double"}', "account: opt_in_process must be 'double_opt_in' or")],
)
def test_a_bad_account_in_a_seed_file_names_the_file(
    tmp_path: Path, account: str, message: str
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(f'{{"account": {account}}}')
    with pytest.raises(SandboxSeedError, match=message) as error:
        Sandbox(tmp_path / "state", seed=seed)
    assert "seed.json" in str(error.value)


async def test_the_account_setting_survives_a_restart(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"account": SINGLE}))
    Sandbox(tmp_path / "state", seed=seed).close()
    reopened = Sandbox(tmp_path / "state")
    emulator = reopened.klaviyo
    assert isinstance(emulator, KlaviyoEmulator)
    assert emulator.opt_in_process == "single_opt_in"
    reopened.close()


def test_a_state_saved_before_the_account_setting_loads_as_double_opt_in() -> None:
    old = KlaviyoEmulator(api_key=API_KEY)
    old.seed([], [], SINGLE)
    saved = json.loads(json.dumps(old.dump()))
    del saved["account"]
    fresh = KlaviyoEmulator(api_key=API_KEY)
    fresh.load(saved)
    assert fresh.state.opt_in_process == "double_opt_in"
    assert json.loads(json.dumps(fresh.dump()))["account"] == DOUBLE
