"""Issue 14 on the command line: the guard in preview and push, --confirm KINDS, bulk, the brake."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from console.cli import build_parser
from console.cli.contract import GUARD_KINDS, push
from console.render import plan_view
from core.engine import CustomerNotFound, Engine
from core.model import (
    Channel,
    ConsentAction,
    ConsentChange,
    Guard,
    GuardKind,
    GuardReason,
    Plan,
    Route,
)
from tests.e2e.conftest import Cli, customer

ANN = "01JGFJK6QFB96KRART17WEJVYY"


def _guarded(cli: Cli) -> None:
    """Customer 40's empty SubscribeProfile would unsubscribe a SUBSCRIBED profile (held by
    default: not the customer's own opt-out); 41 subscribes a new profile."""
    cli.seed([customer(40, email="sub@example.com"),
              customer(41, email="plain@example.com", fields={"SubscribeProfile": "true"})],
             profiles=[{"id": ANN, "attributes": {"email": "sub@example.com"},
                        "subscriptions": {"email": "SUBSCRIBED"}}])


def test_preview_json_carries_the_guard_verdict_and_the_unknown_facts(cli: Cli) -> None:
    cli.seed([customer(1, email="x@example.com")])
    code, doc = cli.json("preview", "1")
    assert code == 0
    assert set(doc["guard"]) >= {"confirm_needed", "reasons"}
    assert isinstance(doc["guard"]["confirm_needed"], bool)
    for reason in doc["guard"]["reasons"]:
        assert reason["kind"] in GUARD_KINDS and reason["text"]
    assert isinstance(doc["unknown"], list)


def test_the_human_preview_states_the_guard_verdict(cli: Cli, custom_template: Path) -> None:
    _guarded(cli)
    code, doc = cli.json("preview", "40")
    assert code == 0
    code, out, _ = cli.run("preview", "40")
    assert code == 0
    verdict = ("needs confirmation (--yes)" if doc["guard"]["confirm_needed"]
               else "consent guard: nothing held")
    assert verdict in out
    for reason in doc["guard"]["reasons"]:
        assert reason["kind"] in out

    cli.run("push", "41", "--yes")
    code, out, _ = cli.run("preview", "41")
    assert code == 0 and "consent guard:" in out


def test_push_without_yes_exits_1_and_names_the_reasons(cli: Cli, custom_template: Path) -> None:
    _guarded(cli)
    _, preview = cli.json("preview", "40")
    held = [r for r in preview["guard"]["reasons"] if r.get("held", True)]
    assert preview["guard"]["confirm_needed"] and held

    code, out, _ = cli.run("push", "40")
    assert code == 1
    assert "held by the consent guard: rerun with --yes to confirm" in out
    for reason in held:
        assert f"{reason['kind']}: " in out

    code, doc = cli.json("push", "40")
    _, _, err = cli.run("push", "40", "--json")
    assert code == 1 and doc["held"] is True
    assert "--yes" in err and held[0]["kind"] in err


def test_push_with_yes_does_not_also_say_confirmation_is_needed(
        cli: Cli, custom_template: Path) -> None:
    _guarded(cli)
    code, out, err = cli.run("push", "40", "--yes")
    assert code == 0, out + err
    assert "needs confirmation" not in out and "rerun with --yes" not in out + err
    assert "confirmed (--yes)" in out and "pushed: profile" in out


def test_resend_consent_email_is_a_push_flag_handed_to_the_engine() -> None:
    ns = build_parser().parse_args(["push", "7", "--resend-consent-email", "--yes"])
    assert ns.resend_consent_email is True and ns.yes is True
    assert build_parser().parse_args(["push", "7"]).resend_consent_email is False

    calls: list[dict[str, Any]] = []

    class ContractEngine:
        async def push(self, customer_id: str, *, confirm: bool = False,
                       resend_consent_email: bool = False, trigger: str = "manual") -> str:
            calls.append({"id": customer_id, "confirm": confirm,
                          "resend": resend_consent_email})
            return "result"

    engine: Any = ContractEngine()
    assert asyncio.run(push(engine, "7", confirm=True, resend_consent_email=True)) == "result"
    assert calls == [{"id": "7", "confirm": True, "resend": True}]


def test_a_manual_push_of_an_unknown_id_exits_1_and_records_nothing(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine raises CustomerNotFound for a manual push (contract §3); the CLI says so.
    cli.seed([])

    async def unknown(self: Engine, customer_id: str, **_: Any) -> Any:
        raise CustomerNotFound(f"customer {customer_id} not found in iPaaS.com")

    with monkeypatch.context() as patch:
        patch.setattr(Engine, "push", unknown)
        code, out, err = cli.run("push", "99999", "--yes")
    assert code == 1 and out == ""
    assert "customer 99999 not found" in err and "nothing was pushed or recorded" in err
    _, errors = cli.json("errors")
    _, history = cli.json("history")
    assert errors == [] and history == []


# ---- sync --confirm, --allow-unsubscribe, --bulk, the brake ---------------------------------


@pytest.mark.parametrize(("text", "kinds"), [
    ("unsubscribe", {"unsubscribe"}),
    ("unsubscribe,consent-email", {"unsubscribe", "consent-email"}),
    (" resubscribe , unsubscribe ", {"resubscribe", "unsubscribe"}),
    ("all", set(GUARD_KINDS)),
])
def test_confirm_takes_a_comma_list_of_kinds(text: str, kinds: set[str]) -> None:
    ns = build_parser().parse_args(["sync", "--all", "--confirm", text])
    assert ns.confirm == frozenset(kinds)


@pytest.mark.parametrize("text", ["unsubscribed", "everything", "unsubscribe,bogus", ","])
def test_a_bad_confirm_kind_is_a_usage_error_naming_the_valid_ones(cli: Cli, text: str) -> None:
    cli.seed([])
    code, out, err = cli.run("sync", "1", "--confirm", text)
    assert code == 2 and out == ""
    for valid in (*GUARD_KINDS, "all"):
        assert valid in err


def test_confirm_unsubscribe_lets_a_held_unsubscribe_run(cli: Cli, custom_template: Path) -> None:
    _guarded(cli)
    code, summary = cli.json("sync", "40")
    assert code == 1 and summary["held"] == 1

    code, summary = cli.json("sync", "40", "--confirm", "unsubscribe")
    assert code == 0 and summary["done"] == 1
    [profile] = cli.profiles_with(email="sub@example.com")
    assert profile["email_marketing"]["consent"] == "UNSUBSCRIBED"


def test_allow_unsubscribe_is_a_deprecated_alias_of_confirm_all(
        cli: Cli, custom_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _guarded(cli)
    seen = _spy_sync(monkeypatch)
    code, out, err = cli.run("sync", "40", "--allow-unsubscribe", "--json")
    assert code == 0, err
    assert "--allow-unsubscribe is deprecated" in err and "--confirm" in err
    assert '"done": 1' in out
    assert seen[-1]["confirm"] == frozenset(GUARD_KINDS)


def test_bulk_calls_the_engine_with_bulk_and_says_nothing_stale(
        cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.seed([customer(1, email="a@example.com"), customer(2, email="b@example.com")])
    seen: list[dict[str, Any]] = []

    async def contract_sync(self: Engine, ids: Any, *, bulk: bool = False,
                            confirm: frozenset[Any] = frozenset(), **_: Any) -> Any:
        seen.append({"ids": ids, "bulk": bulk, "confirm": frozenset(map(str, confirm))})
        return SimpleNamespace(done=2, failed=0, held=0, total=None, elapsed=1.0, rate=2.0,
                               cancelled=False, ok=True, to_json=lambda: {"done": 2})

    monkeypatch.setattr(Engine, "sync", contract_sync)
    code, out, err = cli.run("sync", "--all", "--bulk", "--confirm", "all")
    assert code == 0, err
    assert seen == [{"ids": None, "bulk": True, "confirm": frozenset(GUARD_KINDS)}]
    assert "customer by customer" not in out + err
    assert "synced 2" in out


@pytest.mark.parametrize("tripped", [True, False])
def test_a_tripped_brake_exits_1_naming_the_counts_and_the_flag(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, tripped: bool) -> None:
    cli.seed([])
    # ENGINE's BrakeVerdict: share is the configured fraction, limit the minimum count.
    brake = SimpleNamespace(unsubscribes=31, customers=400, share=0.05, limit=20,
                            tripped=tripped)
    held = 31 if tripped else 0
    progress = SimpleNamespace(done=400 - held, failed=0, held=held, total=400, elapsed=2.0,
                               rate=200.0, cancelled=False, ok=not tripped, brake=brake,
                               to_json=lambda: {"done": 400 - held, "held": held})

    async def braked(self: Engine, ids: Any, **_: Any) -> Any:
        return progress

    monkeypatch.setattr(Engine, "sync", braked)
    code, out, err = cli.run("sync", "--all")
    if tripped:
        assert code == 1
        assert "31 of 400 customers (8%" in err and "above 5% and at least 20" in err
        assert "--confirm unsubscribe" in err and "held 31" in out
    else:
        assert code == 0 and "brake" not in err


def _spy_sync(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the keywords the CLI hands Engine.sync, then run the real one."""
    seen: list[dict[str, Any]] = []
    real = Engine.sync

    @functools.wraps(real)  # the CLI reads the engine's keywords from its signature
    async def spy(self: Engine, ids: Any, **kwargs: Any) -> Any:
        confirm = kwargs.get("confirm")
        if confirm is None:  # an engine from before issue 14: all or nothing
            confirm = frozenset(GUARD_KINDS) if kwargs.get("allow_unsubscribe") else frozenset()
        seen.append({"bulk": kwargs.get("bulk"), "confirm": frozenset(map(str, confirm))})
        return await real(self, ids, **kwargs)

    monkeypatch.setattr(Engine, "sync", spy)
    return seen


# ---- the human view of the planner's guard, pending consent emails and unknown facts ---------


def _contract_plan() -> Plan:
    """A plan with held and not-held guard reasons, a pending consent email, unknown facts."""
    pending = ConsentChange(Channel.EMAIL, ConsentAction.SUBSCRIBE, list_name="Sms Subscribers",
                            list_id="L1", double_opt_in=True,
                            pending_since="2026-12-01T10:00:00+00:00")
    guard = Guard(reasons=(
        GuardReason(GuardKind.UNSUBSCRIBE,
                    "unsubscribes ann@example.com: the template's SubscribeProfile is empty"),
        GuardReason(GuardKind.CONSENT_EMAIL, "first consent email for list Sms")),
        held=frozenset({GuardKind.UNSUBSCRIBE}))
    return Plan(customer_id="55260", route=Route.UPDATE, reason="linked", profile_id="01J",
                consent=(pending,), guard=guard,
                unknown=("list membership", "pending consent emails"))


def _text(renderable: Any, width: int = 80) -> str:
    console = Console(width=width, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return " ".join(capture.get().split())


def test_the_human_preview_shows_held_and_sent_reasons_pending_emails_and_unknown_facts() -> None:
    out = _text(plan_view(_contract_plan()))
    assert "consent guard: pushing this plan needs confirmation (--yes)" in out
    assert ("unsubscribe: unsubscribes ann@example.com: the template's SubscribeProfile is "
            "empty") in out
    assert "consent-email: first consent email for list Sms (not held)" in out
    assert "consent email sent 2026-12-01 10:00:00, awaiting confirmation; sends nothing" in out
    assert "not known in this mode" in out
    assert "list membership, pending consent emails" in out

    confirmed = _text(plan_view(_contract_plan(), confirmed=True))
    assert "confirmed (--yes)" in confirmed and "needs confirmation" not in confirmed
