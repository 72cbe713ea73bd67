"""Small builders for plan tests: mapped profiles, profiles and resolutions in a line each."""

from __future__ import annotations

from typing import Any

from core.model import (
    Collection,
    ConsentState,
    Customer,
    KlaviyoList,
    ListIntent,
    MappedProfile,
    OptIn,
    Profile,
    Subscriptions,
)
from core.plan import ConsentPolicy, Facts, PlanSettings, Resolution

ANN = "ann@example.com"
ANN_PHONE = "+15005550006"
LINKED = "01JLINKED0000000000000000A"
OTHER = "01JOTHER00000000000000000B"
PHONEY = "01JPHONE00000000000000000C"

SMS_LIST = KlaviyoList(id="SmsL01", name="Sms Subscribers", opt_in_process=OptIn.SINGLE)
DOI_LIST = KlaviyoList(id="DoiL01", name="Newsletter", opt_in_process=OptIn.DOUBLE)
PREVIEW_LIST = KlaviyoList(id="PrvL01", name="Preview List", opt_in_process=OptIn.SINGLE)
ALL_LISTS = {k.name: k for k in (SMS_LIST, DOI_LIST, PREVIEW_LIST)}

# An account whose subscribes without a list are single opt-in (Klaviyo's default is double).
SINGLE = PlanSettings(policy=ConsentPolicy(account_opt_in=OptIn.SINGLE))
DOUBLE = PlanSettings()
NOW = "2026-12-07T12:00:00+00:00"

SUBSCRIBED = ConsentState.SUBSCRIBED
UNSUBSCRIBED = ConsentState.UNSUBSCRIBED
NEVER = ConsentState.NEVER_SUBSCRIBED


def attrs(**overrides: Any) -> dict[str, Any]:
    """Ann's mapped attributes; an override of None removes the field."""
    base: dict[str, Any] = {
        "email": ANN,
        "phone_number": ANN_PHONE,
        "external_id": "55260",
        "first_name": "Ann",
        "last_name": "Lee",
        "organization": "Acme",
        "location": {"address1": "1 Main St", "city": "Boston", "region": "MA",
                     "zip": "02110", "country": "US"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mapped(
    collection: Collection = Collection.ADD,
    *,
    attributes: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    subscribe: bool | None = True,
    intents: tuple[ListIntent, ...] = (),
    phone_valid: bool | None = True,
    warnings: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
    from_customer: bool = False,
) -> MappedProfile:
    return MappedProfile(
        customer_id="55260",
        collection=collection,
        attributes=attrs() if attributes is None else attributes,
        properties={"My Custom": "hello"} if properties is None else properties,
        subscribe=subscribe,
        list_intents=intents,
        phone_valid=phone_valid,
        warnings=warnings,
        errors=errors,
        subscribe_from_customer=from_customer,
    )


def profile(
    profile_id: str = OTHER,
    *,
    attributes: dict[str, Any] | None = None,
    email: ConsentState | None = NEVER,
    sms: ConsentState = NEVER,
    lists: frozenset[str] | None = frozenset(),
) -> Profile:
    subs = None if email is None else Subscriptions(email=email, sms=sms)
    return Profile(
        id=profile_id,
        attributes=attrs() if attributes is None else attributes,
        subscriptions=subs,
        list_ids=lists,
    )


def resolution(**kwargs: Any) -> Resolution:
    kwargs.setdefault("lists", ALL_LISTS)
    return Resolution(**kwargs)


def intent(name: str, *, consent: bool, member: bool) -> ListIntent:
    return ListIntent(list_name=name, consent=consent, member=member)


def facts(customer: Customer | None = None, **kwargs: Any) -> Facts:
    """Facts with every list known, nothing linked or matched, and nothing unknown."""
    kwargs.setdefault("lists", ALL_LISTS)
    for name in ("link", "linked_profile", "email_match", "phone_match"):
        kwargs.setdefault(name, None)
    kwargs.setdefault("memberships", {})
    kwargs.setdefault("consent_emails", {})
    kwargs.setdefault("now", NOW)
    return Facts(customer=customer or Customer(id="55260"), **kwargs)
