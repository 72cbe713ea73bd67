"""The shipped demo data: it loads into both emulators and covers every route and caveat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest

from core.clients.klaviyo import KlaviyoClient
from core.model import Customer
from core.phone import normalize_phone
from core.sandbox import DEMO_SEED, Sandbox
from core.sandbox.klaviyo import KlaviyoEmulator

DEMO: dict[str, Any] = json.loads(DEMO_SEED.read_text())
CUSTOMERS = {str(raw["id"]): Customer.from_api(raw) for raw in DEMO["customers"]}
PROFILES = DEMO["profiles"]
LINKS: dict[str, str] = DEMO["links"]


def phone_of(customer: Customer) -> str | None:
    billing = customer.primary_billing
    return normalize_phone(customer.customer_number,
                           country=billing.country if billing else None).e164


def profile_by(key: str, value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return next((p for p in PROFILES
                 if str(p["attributes"].get(key, "")).casefold() == value.casefold()), None)


def test_every_customer_parses_and_there_are_at_least_40() -> None:
    assert len(DEMO["customers"]) >= 40
    assert len(CUSTOMERS) == len(DEMO["customers"])


def test_spec_example_55260_is_linked_to_a_profile_holding_unmapped_fields() -> None:
    profile = next(p for p in PROFILES if p["id"] == LINKS["55260"])
    assert profile["attributes"]["properties"]  # kept on update
    assert profile["attributes"]["first_name"] != CUSTOMERS["55260"].first_name


def test_links_cover_live_stale_and_deleted() -> None:
    ids = {p["id"] for p in PROFILES}
    assert sum(link in ids for link in LINKS.values()) >= 5
    assert any(link not in ids and not link.startswith("DELETED:") for link in LINKS.values())
    assert any(link.startswith("DELETED:") for link in LINKS.values())


def test_unlinked_routes_are_all_present() -> None:
    unlinked = [c for cid, c in CUSTOMERS.items() if cid not in LINKS]
    email_match = [c for c in unlinked if profile_by("email", c.email_address)]
    phone_only = [c for c in unlinked if not c.email_address
                  and profile_by("phone_number", phone_of(c))]
    split = [c for c in unlinked
             if (e := profile_by("email", c.email_address))
             and (p := profile_by("phone_number", phone_of(c))) and e["id"] != p["id"]]
    new = [c for c in unlinked if not profile_by("email", c.email_address)
           and not profile_by("phone_number", phone_of(c)) and (c.email_address or phone_of(c))]
    no_identifier = [c for c in unlinked if not c.email_address and not phone_of(c)]
    assert email_match and phone_only and split and no_identifier
    assert len(new) >= 10


def test_phone_caveats() -> None:
    numbers = [(c, normalize_phone(c.customer_number, country=(
        c.primary_billing.country if c.primary_billing else None))) for c in CUSTOMERS.values()]
    normalizes_but_invalid = [c for c, r in numbers if r.e164 and not r.valid]
    assert len(normalizes_but_invalid) >= 2
    assert any(not c.email_address for c in normalizes_but_invalid)
    messy = [c for c, r in numbers if r.valid and c.customer_number
             and c.customer_number != r.e164]
    assert len(messy) >= 20
    for profile in PROFILES:
        phone = profile["attributes"].get("phone_number")
        if phone:
            assert phonenumbers.is_valid_number(phonenumbers.parse(phone))


def test_consent_and_lists() -> None:
    lists = {item["name"]: item["opt_in_process"] for item in DEMO["lists"]}
    assert lists["Sms Subscribers"] == "double_opt_in"
    assert lists["Preview List"] == "single_opt_in"
    states = {p.get("subscriptions", {}).get("email", "NEVER_SUBSCRIBED") for p in PROFILES}
    assert states == {"SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"}
    assert {p.get("subscriptions", {}).get("sms") for p in PROFILES} >= {
        "SUBSCRIBED", "UNSUBSCRIBED"}
    assert {name for p in PROFILES for name in p.get("lists", [])} >= set(lists)
    # SubscribeProfile=false on a customer linked to a SUBSCRIBED profile.
    by_id = {p["id"]: p for p in PROFILES}
    assert any(
        c.custom_field("SubscribeProfile") == "false"
        and by_id.get(LINKS.get(cid, ""), {}).get("subscriptions", {}).get("email") == "SUBSCRIBED"
        for cid, c in CUSTOMERS.items()
    )


def test_address_and_text_caveats() -> None:
    values = list(CUSTOMERS.values())
    assert any(c.addresses and c.primary_billing is None for c in values)
    assert any(not c.addresses for c in values)
    assert any(c.addresses and not c.addresses[0].is_primary_billing and c.primary_billing
               for c in values)
    names = " ".join(f"{c.first_name} {c.last_name}" for c in values)
    for script_sample in ("é", "ü", "山", "Д", "م", "Α", "민"):
        assert script_sample in names or any(script_sample in (c.company or "") for c in values)
    assert any(len(c.company or "") > 150 for c in values)
    assert any(len(c.email_address or "") > 60 for c in values)


async def test_demo_loads_into_the_real_emulators(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    creds = sandbox.credentials
    assert len(sandbox.ipaas.customers) == len(CUSTOMERS)
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=creds.base_url) as http:
        klaviyo = {"Authorization": f"Klaviyo-API-Key {creds.klaviyo_api_key}",
                   "revision": "2026-07-15", "Accept": "application/vnd.api+json"}
        ipaas = {"Authorization": f"Bearer {creds.ipaas_token}"}
        link = await http.get(
            f"/customers/v2/External/LookupExternal/55260/{creds.ipaas_system_id}/customer",
            headers=ipaas)
        profile = await http.get(f"/api/profiles/{link.json()}", headers=klaviyo)
        stale = await http.get(f"/api/profiles/{LINKS['55265']}", headers=klaviyo)
    assert profile.status_code == 200
    assert profile.json()["data"]["attributes"]["email"] == "ann.dupont@example.com"
    assert stale.status_code == 404
    await sandbox.aclose()


@pytest.mark.parametrize("cid", sorted(CUSTOMERS))
def test_customers_round_trip_through_to_api(cid: str) -> None:
    customer = CUSTOMERS[cid]
    assert Customer.from_api(customer.to_api()) == customer


async def test_persisted_state_holds_no_credentials(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    creds = sandbox.credentials
    async with httpx.AsyncClient(transport=sandbox.transport, base_url=creds.base_url) as http:
        login = await http.post("/sso/v2/Auth/Login", json={
            "email_address": creds.ipaas_email, "password": creds.ipaas_password})
        assert login.status_code == 200
        await http.post(
            "/customers/v2/External/UpdateExternalId",
            headers={"Authorization": f"Bearer {creds.ipaas_token}"},
            json={"table_name": "customer", "system_id": creds.ipaas_system_id,
                  "external_id": "01JX", "internal_id": "55300"})
    await sandbox.aclose()
    saved = b"".join(p.read_bytes() for p in (tmp_path / "sandbox").iterdir())
    for secret in (*creds.secrets, login.json()["access_token"]):
        assert secret.encode() not in saved
    assert b"01JX" in saved


# The default template's consented list (LIST_) and membership-only list (UCLIST_).
TEMPLATE_LISTS = ("Sms Subscribers", "Preview List")


def test_the_demo_account_is_double_opt_in_as_in_klaviyo(tmp_path: Path) -> None:
    assert DEMO["account"] == {"opt_in_process": "double_opt_in"}
    sandbox = Sandbox(tmp_path)
    assert isinstance(sandbox.klaviyo, KlaviyoEmulator)
    assert sandbox.klaviyo.opt_in_process == "double_opt_in"
    sandbox.close()


def test_55261_has_nothing_to_push() -> None:
    raw = next(c for c in DEMO["customers"] if c["id"] == 55261)
    profile = next(p for p in PROFILES if p["id"] == LINKS["55261"])
    billing = next(a for a in raw["addresses"] if a["is_primary_billing"])
    assert profile["subscriptions"]["email"] == "SUBSCRIBED"
    assert set(profile["lists"]) >= set(TEMPLATE_LISTS)
    assert profile["attributes"] == {
        "email": raw["email_address"],
        "phone_number": phone_of(CUSTOMERS["55261"]),
        "external_id": "55261",
        "first_name": raw["first_name"],
        "last_name": raw["last_name"],
        "location": {"address1": billing["address_1"], "city": billing["city"],
                     "region": billing["region"], "zip": billing["postal_code"],
                     "country": billing["country"]},
        "properties": {"My Custom": "Example value"},
    }
    assert raw["company"] is None and not raw["custom_fields"]


def test_already_synced_customers_are_subscribed_and_on_both_template_lists() -> None:
    by_id = {p["id"]: p for p in PROFILES}
    in_sync = {
        cid for cid, pid in LINKS.items()
        if (p := by_id.get(pid)) is not None
        and p.get("subscriptions", {}).get("email") == "SUBSCRIBED"
        and set(p.get("lists", [])) >= set(TEMPLATE_LISTS)
    }
    assert in_sync == {"55261", "55268"}


async def test_the_clients_membership_read_sees_the_demo_lists(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path)
    creds = sandbox.credentials
    emails = [c.email_address for c in CUSTOMERS.values() if c.email_address]
    phones = [p for c in CUSTOMERS.values() if (p := phone_of(c))]
    async with KlaviyoClient(creds.klaviyo_api_key, base_url=creds.base_url,
                             transport=sandbox.transport) as klaviyo:
        found = {}
        for name in TEMPLATE_LISTS:
            listed = await klaviyo.find_list_by_name(name)
            assert listed is not None
            found[name] = await klaviyo.list_member_ids(listed.id, emails=emails,
                                                        phone_numbers=phones)
    await sandbox.aclose()
    marcus = LINKS["55261"]
    for name in TEMPLATE_LISTS:
        assert marcus in found[name]
    expected = {
        name: {p["id"] for p in PROFILES if name in p.get("lists", [])
               and (p["attributes"].get("email", "").casefold()
                    in {e.casefold() for e in emails}
                    or p["attributes"].get("phone_number") in phones)}
        for name in TEMPLATE_LISTS
    }
    assert {name: set(found[name]) for name in TEMPLATE_LISTS} == expected
