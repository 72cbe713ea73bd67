"""The brake on mass unsubscribes (design §6), survey(), and what a retry and the history keep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import Engine
from core.engine import records as error_records
from core.engine.guarding import fingerprint
from core.model import ErrorKind, ErrorStatus, Stage
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import customer, template_with_custom_fields

LISTS = [{"name": "Sms Subscribers", "opt_in_process": "double_opt_in"},
         {"name": "Preview List", "opt_in_process": "single_opt_in"}]


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


def _pid(n: int) -> str:
    return f"01JA{n:022d}"


async def _engine(tmp_path: Path, leaving: int, staying: int) -> tuple[Engine, Sandbox]:
    """`leaving` customers whose own value opts them out of never-subscribed profiles (an
    unsubscribe the guard does not hold), `staying` who subscribe plainly."""
    customers, profiles, links = [], [], {}
    for n in range(1, leaving + staying + 1):
        value = "false" if n <= leaving else "true"
        customers.append(customer(n, email=f"b{n}@example.com",
                                  fields={"SubscribeProfile": value}))
        profiles.append({"id": _pid(n), "attributes": {"email": f"b{n}@example.com"},
                         "subscriptions": {"email": "NEVER_SUBSCRIBED"}})
        links[str(n)] = _pid(n)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"customers": customers, "profiles": profiles, "links": links,
                                "lists": LISTS, "account": {"opt_in_process": "single_opt_in"}}),
                    encoding="utf-8")
    config = Config(state_dir=tmp_path / "state", sandbox=True, sandbox_seed=seed,
                    retry_attempts=1,
                    template_path=template_with_custom_fields(tmp_path / "template.toml"))
    sandbox = Sandbox(tmp_path / "state", seed=seed, knobs=Knobs(rate_scale=0.001))
    return await Engine.open(config, sandbox=sandbox), sandbox


def _consent(sandbox: Sandbox, n: int) -> str:
    state: Any = sandbox.klaviyo.state
    return str((state.profiles[_pid(n)].get("email_marketing") or {}).get(
        "consent", "NEVER_SUBSCRIBED"))


@pytest.mark.parametrize("bulk", [False, True], ids=["batch", "bulk"])
async def test_a_run_unsubscribing_too_many_stops_before_the_first_and_runs_once_confirmed(
        tmp_path: Path, bulk: bool) -> None:
    engine, sandbox = await _engine(tmp_path, leaving=21, staying=4)
    try:
        progress = await engine.sync(None, bulk=bulk)

        assert progress.brake is not None and progress.brake.tripped
        assert (progress.brake.unsubscribes, progress.brake.customers) == (21, 25)
        assert (progress.done, progress.held, progress.failed) == (4, 21, 0)
        assert all(_consent(sandbox, n) == "NEVER_SUBSCRIBED" for n in range(1, 22))
        assert all(_consent(sandbox, n) == "SUBSCRIBED" for n in range(22, 26))
        record = engine.errors.open_for_customer("1")
        assert record is not None and record.kind is ErrorKind.CONSENT_GUARD
        assert "brake" in record.message and "--confirm unsubscribe" in record.message
        [entry] = engine.history.for_customer("1")
        assert entry.outcome.value == "held" and entry.sent is None and entry.consent == ()

        again = await engine.sync([str(n) for n in range(1, 22)], bulk=bulk,
                                  confirm={"unsubscribe"})
        assert again.brake is None and again.done == 21
        assert all(_consent(sandbox, n) == "UNSUBSCRIBED" for n in range(1, 22))
        assert engine.errors.count(status=ErrorStatus.OPEN) == 0
    finally:
        await engine.close()


async def test_a_few_unsubscribes_pass_the_brake(tmp_path: Path) -> None:
    engine, sandbox = await _engine(tmp_path, leaving=19, staying=6)
    try:
        progress = await engine.sync(None)
        assert progress.brake is not None and not progress.brake.tripped
        assert progress.done == 25
        assert all(_consent(sandbox, n) == "UNSUBSCRIBED" for n in range(1, 20))
        [entry] = engine.history.for_customer("1")
        assert entry.outcome.value == "done" and entry.sent is not None
        assert [c["action"] for c in entry.consent] == ["unsubscribe"]
    finally:
        await engine.close()


async def test_survey_counts_what_a_run_needs_and_writes_nothing(tmp_path: Path) -> None:
    engine, sandbox = await _engine(tmp_path, leaving=3, staying=2)
    try:
        survey = await engine.survey(None)
        assert survey.customers == 5 and sorted(survey.unsubscribes) == ["1", "2", "3"]
        assert survey.counts() == {"unsubscribe": 0, "resubscribe": 0, "consent-email": 0}
        assert engine.history.count() == 0 and engine.errors.count() == 0
        assert all(_consent(sandbox, n) == "NEVER_SUBSCRIBED" for n in range(1, 6))
    finally:
        await engine.close()


async def test_retry_carries_a_confirmation_of_the_same_operations_and_holds_a_changed_plan(
        tmp_path: Path) -> None:
    engine, sandbox = await _engine(tmp_path, leaving=0, staying=2)
    state: Any = sandbox.klaviyo.state
    for n in (1, 2):  # a subscribe of an opted-out person: held until confirmed
        state.profiles[_pid(n)]["email_marketing"] = {"consent": "UNSUBSCRIBED"}
    try:
        plan = await engine.preview("1")
        assert plan.guarded_consent
        for n, confirmed in ((1, fingerprint(plan)), (2, "0123456789abcdef")):
            failed = error_records.simple(
                ErrorKind.API_UNAVAILABLE, Stage.WRITE, "Klaviyo was down",
                record_id=engine.errors.new_id(), customer_id=str(n))
            engine.errors.add(error_records.with_confirmed(
                error_records.first_attempt(failed), confirmed))

        progress = await engine.retry(None)

        assert (progress.done, progress.held) == (1, 1)
        assert _consent(sandbox, 1) == "SUBSCRIBED" and _consent(sandbox, 2) == "UNSUBSCRIBED"
        held = engine.errors.open_for_customer("2")
        assert held is not None and held.kind is ErrorKind.CONSENT_GUARD
        assert "changed since the operator confirmed" in held.message
        assert [a.kind for a in held.attempts] == ["api_unavailable", "consent_guard"]
    finally:
        await engine.close()


async def test_a_consent_email_the_engine_sent_is_remembered(tmp_path: Path) -> None:
    engine, sandbox = await _engine(tmp_path, leaving=0, staying=1)
    try:
        state: Any = sandbox.klaviyo.state
        sms = state.list_by_name["Sms Subscribers"]
        sandbox.ipaas.update_customer(
            "1", custom_fields=[{"custom_field_name": "SubscribeProfile", "value": "true"},
                                {"custom_field_name": "Sms", "value": "true"}])
        result = await engine.push("1", confirm=True)
        assert result.ok, result.error
        pending = engine.consent_emails.pending([_pid(1)])
        assert set(pending) == {(_pid(1), sms)}
        [entry] = engine.history.for_customer("1")
        assert entry.outcome.value == "done" and entry.trigger == "manual"
    finally:
        await engine.close()

