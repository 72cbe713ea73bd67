"""Design §6's consent policy, row by row, in every mode: preview, push, sync, bulk, retry, listen.

Each (row, mode) runs on a fresh sandbox. In every mode the guard's verdict is the one the
preview shows; a held change leaves Klaviyo as it was, and a change that is not held happens as
the preview showed it. Rows whose default verdict the table names are checked against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Config
from core.engine import Engine, PushResult
from core.engine import records as error_records
from core.engine.guarding import held_kinds
from core.model import ErrorKind, Plan, Stage
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import customer, template_with_custom_fields

LISTS = [{"name": "Sms Subscribers", "opt_in_process": "double_opt_in"},
         {"name": "Preview List", "opt_in_process": "single_opt_in"}]
PID = "01JGFJK6QFB96KRART17WEJVYY"
EMAIL = "row@example.com"
SECRET = "listen-secret-for-policy-tests"
MODES = ("preview", "push", "sync", "bulk", "retry", "listen")
# One time for every engine of a test, so their plans show the same pending_since.
SENT_AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Row:
    """One row of the policy table: the customer's values, the profile in Klaviyo, and the
    default verdict (None: the planner's policy decides it; checked across modes only)."""

    name: str
    fields: dict[str, str]
    consent: str | None  # the profile's email consent; None = no profile
    member_of: tuple[str, ...] = ()
    held: frozenset[str] | None = None
    changes: bool = True
    # A consent email for the double opt-in list went out an hour ago and awaits the person.
    pending: bool = False


ROWS = [
    Row("opt-out from the source", {"SubscribeProfile": "false"}, "SUBSCRIBED",
        held=frozenset()),
    Row("unsubscribe by a template gap", {}, "SUBSCRIBED", held=frozenset({"unsubscribe"})),
    Row("re-subscribe of an opted-out person", {"SubscribeProfile": "true"}, "UNSUBSCRIBED",
        held=frozenset({"resubscribe"})),
    Row("first double opt-in consent email", {"SubscribeProfile": "true", "Sms": "true"},
        "NEVER_SUBSCRIBED", held=frozenset()),
    Row("consent email already pending", {"SubscribeProfile": "true", "Sms": "true"},
        "NEVER_SUBSCRIBED", held=frozenset(), pending=True),
    Row("already subscribed and on the list",
        {"SubscribeProfile": "true", "Sms": "true", "Preview": "true"}, "SUBSCRIBED",
        member_of=("Sms Subscribers", "Preview List"), held=frozenset(), changes=False),
    Row("unsubscribe of someone never subscribed", {"SubscribeProfile": "false"},
        "NEVER_SUBSCRIBED", held=frozenset()),
]


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


async def _engine(tmp_path: Path, row: Row) -> tuple[Engine, Sandbox]:
    profiles = []
    if row.consent is not None:
        profiles.append({"id": PID, "attributes": {"email": EMAIL},
                         "subscriptions": {"email": row.consent}, "lists": list(row.member_of)})
    tmp_path.mkdir(parents=True, exist_ok=True)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "customers": [customer(7, email=EMAIL, fields=row.fields)], "profiles": profiles,
        "links": {"7": PID} if profiles else {}, "lists": LISTS,
        "account": {"opt_in_process": "single_opt_in"}}), encoding="utf-8")
    state = tmp_path / "state"
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed, retry_attempts=1,
                    template_path=template_with_custom_fields(tmp_path / "template.toml"),
                    listen_secret=SECRET)
    sandbox = Sandbox(state, seed=seed, knobs=Knobs(rate_scale=0.001))
    engine = await Engine.open(config, sandbox=sandbox)
    if row.pending:
        sms = sandbox.klaviyo.state.list_by_name["Sms Subscribers"]  # type: ignore[attr-defined]
        engine.consent_emails.record(PID, sms, SENT_AN_HOUR_AGO)
    return engine, sandbox


def _klaviyo(sandbox: Sandbox) -> tuple[Any, ...]:
    """The person's consent as Klaviyo holds it: email consent, consent emails, lists."""
    state: Any = sandbox.klaviyo.state
    pid = sandbox.klaviyo.profile_id_for_email(EMAIL)  # type: ignore[attr-defined]
    profile = state.profiles.get(pid) if pid else None
    consent = ((profile or {}).get("email_marketing") or {}).get("consent", "NEVER_SUBSCRIBED")
    emails = sum(1 for m in state.outbox if m["to"] == EMAIL)
    return consent, emails, sorted(state.memberships.get(pid, ())) if pid else []


async def _run(engine: Engine, mode: str) -> tuple[Plan, bool]:
    """The plan this mode acted on, and whether it was held."""
    if mode == "preview":
        plan = await engine.preview("7")
        return plan, bool(held_kinds(plan))
    results: list[PushResult] = []
    if mode == "push":
        results.append(await engine.push("7"))
    elif mode in ("sync", "bulk"):
        await engine.sync(["7"], bulk=mode == "bulk", on_result=results.append)
    elif mode == "retry":
        # An earlier attempt failed before anything was sent; the retry re-plans it.
        engine.errors.add(error_records.simple(
            ErrorKind.API_UNAVAILABLE, Stage.RESOLVE, "Klaviyo was down",
            record_id=engine.errors.new_id(), customer_id="7"))
        await engine.retry(None, on_result=results.append)
    else:
        handler = engine.hook_handler(SECRET, on_result=lambda _n, r, _s: results.append(r)
                                      if r is not None else None)
        body = {"id": "hook-1", "notifications": [
            {"action": "updated", "id": "7", "scope": "customer/updated"}]}
        answer = await handler(httpx.Request(
            "POST", "http://127.0.0.1/v2/iPaaS", json=body,
            headers={"Authorization": f"Bearer {SECRET}"}))
        assert answer.status_code == 200
    [result] = results
    assert result.ok or result.held, result.error
    if result.held and mode != "push":
        assert result.error is not None and result.error.kind is ErrorKind.CONSENT_GUARD
    return result.plan, result.held


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_every_mode_gives_the_policy_row_the_verdict_the_preview_shows(
        tmp_path: Path, row: Row, mode: str) -> None:
    engine, sandbox = await _engine(tmp_path / "preview", row)
    try:
        shown = await engine.preview("7")
    finally:
        await engine.close()
    if row.held is not None:
        assert held_kinds(shown) == row.held, shown.consent
    assert bool(shown.consent or shown.lists) is row.changes, (shown.consent, shown.lists)

    engine, sandbox = await _engine(tmp_path / mode, row)
    try:
        before = _klaviyo(sandbox)
        plan, held = await _run(engine, mode)
        after = _klaviyo(sandbox)
    finally:
        await engine.close()
    assert plan.consent == shown.consent and plan.lists == shown.lists
    assert held is bool(held_kinds(shown))
    if held or mode == "preview":
        assert after == before  # nothing is sent until someone confirms
    elif shown.consent:
        wanted = {c.action.value for c in shown.consent if not c.list_id}
        if wanted == {"unsubscribe"}:
            assert after[0] == "UNSUBSCRIBED"
        if any(c.double_opt_in and c.sends for c in shown.consent):
            assert after[1] == before[1] + 1  # the consent email went out, once
        else:
            assert after[1] == before[1]  # a pending one is not sent again
    if row.pending:
        assert [c.pending_since is not None for c in shown.consent if c.list_id] == [True]


@pytest.mark.parametrize("mode", ["push", "sync", "bulk", "listen"])
async def test_a_consent_email_is_sent_once_however_often_the_customer_is_pushed(
        tmp_path: Path, mode: str) -> None:
    row = next(r for r in ROWS if r.name == "first double opt-in consent email")
    engine, sandbox = await _engine(tmp_path, row)
    try:
        before = _klaviyo(sandbox)
        for _ in range(3):
            await _run(engine, mode)
        after = _klaviyo(sandbox)
        plan = await engine.preview("7")
    finally:
        await engine.close()
    assert after[1] == before[1] + 1
    [waiting] = [c for c in plan.consent if c.list_id]
    assert waiting.pending_since is not None and not plan.guard.held
