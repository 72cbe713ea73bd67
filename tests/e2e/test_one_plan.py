"""Issue 14, item 1: preview, sync and bulk sync plan every customer the same way.

Each mode runs on its own copy of one seed (a sync writes, so a later preview would see
another account); every customer's plan in each mode is compared field by field: route,
target, payload, current profile, diff, consent, lists, warnings, errors and the guard verdict.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import Engine, PushResult
from core.engine.guarding import held_kinds
from core.model import CustomerDataError, Plan
from core.sandbox import Knobs, Sandbox
from tests.e2e.conftest import customer

DEMO_SEED = Path(__file__).parents[2] / "core" / "sandbox" / "demo.json"
LISTS = [{"name": "Sms Subscribers", "opt_in_process": "double_opt_in"},
         {"name": "Preview List", "opt_in_process": "single_opt_in"}]
ROUTES = ("linked", "stale link", "email match", "phone match", "split", "new")
CONSENTS = ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED")
MEMBERSHIPS = ((), ("Preview List",), ("Sms Subscribers",), ("Sms Subscribers", "Preview List"))
MODES = ("preview", "sync", "bulk")


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDBOX_KLAVIYO_DOWN", "SANDBOX_FAILURE_RATE", "SANDBOX_LATENCY_MS",
                 "SANDBOX_RATE_SCALE"):
        monkeypatch.delenv(name, raising=False)


def _profile(pid: str, email: str | None, phone: str | None, consent: str,
             lists: tuple[str, ...]) -> dict[str, Any]:
    attributes = {"first_name": "Old", **({"email": email} if email else {}),
                  **({"phone_number": phone} if phone else {})}
    return {"id": pid, "attributes": attributes,
            "subscriptions": {"email": consent, "sms": "NEVER_SUBSCRIBED"}, "lists": list(lists)}


def generated_seed(path: Path) -> Path:
    """One customer per (route, consent state, list membership) the issue names."""
    customers: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    links: dict[str, str] = {}
    states = itertools.product(ROUTES, CONSENTS, MEMBERSHIPS)
    for n, (route, consent, lists) in enumerate(states):
        if route == "new" and (consent, lists) != (CONSENTS[0], ()):
            continue  # nothing in Klaviyo to vary
        cid = 100 + n
        email, number = f"c{cid}@example.com", f"(312) 555-{cid:04d}"
        phone = f"+1312555{cid:04d}"
        pid = f"01JA{cid:022d}"
        customers.append(customer(cid, email=email, number=number, first="New"))
        if route == "linked":
            links[str(cid)] = pid
            profiles.append(_profile(pid, email, phone, consent, lists))
        elif route == "stale link":
            links[str(cid)] = f"01JC{cid:022d}"
            profiles.append(_profile(pid, email, None, consent, lists))
        elif route == "email match":
            profiles.append(_profile(pid, email, None, consent, lists))
        elif route == "phone match":
            profiles.append(_profile(pid, None, phone, consent, lists))
        elif route == "split":
            profiles.append(_profile(pid, email, None, consent, lists))
            profiles.append(_profile(f"01JB{cid:022d}", None, phone, consent, lists))
    path.write_text(json.dumps({
        "customers": customers, "profiles": profiles, "links": links, "lists": LISTS,
        "account": {"opt_in_process": "double_opt_in"}}), encoding="utf-8")
    return path


# Stamped when each mode's copy of the sandbox was seeded, so they differ between copies.
SEEDED_AT = ("created", "updated")


def _seen(plan: Plan) -> dict[str, Any]:
    """What an operator reads in a plan, and the guard's verdict on it."""
    seen = {**plan.to_json(), "held": sorted(held_kinds(plan))}
    if seen["current"] is not None:
        seen["current"] = {k: v for k, v in seen["current"].items() if k not in SEEDED_AT}
    return seen


async def _plans(state: Path, seed: Path, mode: str) -> dict[str, dict[str, Any]]:
    config = Config(state_dir=state, sandbox=True, sandbox_seed=seed, retry_attempts=1)
    sandbox = Sandbox(state, seed=seed, knobs=Knobs(rate_scale=0.001))
    engine = await Engine.open(config, sandbox=sandbox)
    plans: dict[str, dict[str, Any]] = {}
    try:
        if mode == "preview":
            for found in sandbox.ipaas.ordered_ids():
                try:
                    plans[found] = _seen(await engine.preview(found))
                except CustomerDataError:
                    continue

        else:
            def keep(result: PushResult) -> None:
                plans[result.plan.customer_id] = _seen(result.plan)

            await engine.sync(None, bulk=mode == "bulk", on_result=keep)
    finally:
        await engine.close()
    return plans


def _sharing_an_email(seed: Path) -> set[str]:
    """Customers whose email another customer also has: a run that creates one's profile
    changes the other's facts, so their plans depend on which runs first."""
    customers = json.loads(seed.read_text(encoding="utf-8"))["customers"]
    by_email: dict[str, list[str]] = {}
    for item in customers:
        if item.get("email_address"):
            by_email.setdefault(item["email_address"].casefold(), []).append(str(item["id"]))
    return {cid for ids in by_email.values() if len(ids) > 1 for cid in ids}


async def _compare(tmp_path: Path, seed: Path) -> dict[str, dict[str, Any]]:
    found = {mode: await _plans(tmp_path / mode, seed, mode) for mode in MODES}
    preview = found["preview"]
    order_dependent = _sharing_an_email(seed)
    assert len(order_dependent) <= 2
    for mode in ("sync", "bulk"):
        for cid, seen in preview.items():
            if cid not in order_dependent:
                assert found[mode].get(cid) == seen, (mode, cid)
    return preview


async def test_every_demo_customer_gets_the_preview_plan_in_sync_and_bulk(
        tmp_path: Path) -> None:
    preview = await _compare(tmp_path, DEMO_SEED)
    assert len(preview) >= 45
    assert {p["route"] for p in preview.values()} == {"create", "update", "link", "blocked"}


async def test_every_generated_state_gets_the_preview_plan_in_sync_and_bulk(
        tmp_path: Path) -> None:
    seed = generated_seed(tmp_path / "seed.json")
    preview = await _compare(tmp_path, seed)
    assert len(preview) == len(json.loads(seed.read_text(encoding="utf-8"))["customers"])
    assert {p["route"] for p in preview.values()} == {"create", "update", "link"}
    assert any("stale" in " ".join(p["warnings"]) for p in preview.values())
    assert {kind for p in preview.values() for kind in p["held"]} >= {"resubscribe"}
    # Membership was read in every mode: members of both lists get no list change.
    assert any(p["route"] == "update" and not p["lists"] for p in preview.values())
