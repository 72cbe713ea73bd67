"""A routed customer made into a plan: the exact body, the diff, consent, lists and the guard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.model import JSON, MappedProfile, MatchedBy, Plan, Profile, Route, Subscriptions
from core.plan.consent import judge, operations
from core.plan.decide import Decision, unlinked_warnings
from core.plan.diff import LazyFieldDiff, is_empty
from core.plan.facts import (
    CONSENT_STATE,
    LIST_MEMBERSHIP,
    PENDING_CONSENT_EMAILS,
    Facts,
    PlanSettings,
)

# Keys of the JSON:API resource itself, never attributes.
_RESOURCE_KEYS = frozenset({"id", "type"})


@dataclass(frozen=True, slots=True)
class Basis:
    """What an unlinked plan was built from; plan_conflict re-plans from it after a 409."""

    mapped: MappedProfile
    facts: Facts
    settings: PlanSettings
    on_match: str


def payload_attributes(mapped: MappedProfile) -> JSON:
    """JSON:API attributes, properties nested, empty values left out so Klaviyo keeps its own."""
    attributes: JSON = {}
    for key, value in mapped.attributes.items():
        if key in _RESOURCE_KEYS or key == "properties":
            continue
        if isinstance(value, Mapping):
            value = _non_empty(value)
        if not is_empty(value):
            attributes[key] = value
    properties = _non_empty(mapped.properties)
    nested = mapped.attributes.get("properties")
    if isinstance(nested, Mapping):
        properties = {**_non_empty(nested), **properties}
    if properties:
        attributes["properties"] = properties
    return attributes


def _non_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if not is_empty(value)}


def _body(attributes: JSON, profile_id: str | None) -> JSON:
    data: JSON = {"type": "profile"}
    if profile_id is not None:
        data["id"] = profile_id
    data["attributes"] = attributes
    return {"data": data}


def _dedupe(items: tuple[str, ...], more: tuple[str, ...] = ()) -> tuple[str, ...]:
    """items then more, each once, in first-seen order."""
    return tuple(dict.fromkeys([*items, *more]))


def assemble(decision: Decision, facts: Facts, settings: PlanSettings,
             basis: Basis | None) -> Plan:
    """The plan of a decided route: what is sent, what it changes, and the guard's verdict."""
    mapped, target = decision.mapped, decision.target
    if decision.route is Route.BLOCKED:
        return Plan(
            customer_id=mapped.customer_id, route=Route.BLOCKED, reason=decision.reason,
            matched_by=decision.matched_by, profile_id=target.id if target else None,
            current=target.attributes if target else None,
            warnings=_dedupe(decision.warnings), errors=decision.errors,
            error_kind=decision.error_kind, unknown=facts.unknown, basis=basis,
        )
    attributes = payload_attributes(mapped)
    if decision.leave_out:
        attributes = {key: value for key, value in attributes.items()
                      if key not in decision.leave_out}
    policy = settings.policy
    if target is None:
        consent, lists, more = operations(
            mapped, facts.lists, attributes.get("email"), attributes.get("phone_number"),
            Subscriptions(), frozenset(), True, mapped.phone_valid is not False,
            settings.sms_consent, policy=policy, sent={}, now=facts.now,
            resend=facts.resend_consent_email)
        sent, current, profile_id = attributes, None, None
        unknown = facts.unknown
    else:
        sent = attributes if decision.send else {}
        member_of = facts.lists_of(target)
        emails = facts.consent_emails_of(target.id)
        consent, lists, more = operations(
            mapped, facts.lists, sent.get("email") or target.email,
            sent.get("phone_number") or target.phone_number, target.subscriptions, member_of,
            False, not ("phone_number" in sent and mapped.phone_valid is False),
            settings.sms_consent, policy=policy, sent=emails, now=facts.now,
            resend=facts.resend_consent_email)
        current, profile_id = target.attributes, target.id
        missing = []
        if target.subscriptions is None:
            missing.append(CONSENT_STATE)
        if member_of is None and any(facts.lists.get(i.list_name) for i in mapped.list_intents):
            missing.append(LIST_MEMBERSHIP)
        if emails is None and any(c.double_opt_in for c in consent):
            missing.append(PENDING_CONSENT_EMAILS)
        unknown = _dedupe(facts.unknown, tuple(missing))
    payload = None
    if decision.send:
        payload = _body(attributes, profile_id)
    return Plan(
        customer_id=mapped.customer_id, route=decision.route, reason=decision.reason,
        matched_by=decision.matched_by, profile_id=profile_id, payload=payload,
        current=current, diff=LazyFieldDiff(current, sent), consent=consent, lists=lists,
        warnings=_dedupe(decision.warnings, more), guard=judge(consent, mapped, policy),
        unknown=unknown, basis=basis,
    )


def plan_conflict(plan: Plan, duplicate: Profile) -> Plan:
    """Turn a create that Klaviyo refused with 409 duplicate_profile into a link to that profile."""
    if plan.route is not Route.CREATE:
        raise ValueError(f"only a create plan can meet a duplicate profile, not {plan.route}")
    basis = plan.basis
    if not isinstance(basis, Basis):
        raise ValueError("this plan was not built by core.plan; re-plan it instead")
    mapped = basis.mapped
    email = mapped.attributes.get("email")
    phone = mapped.attributes.get("phone_number")
    matched_by: MatchedBy | None = None
    what = "one of these identifiers"
    if email and duplicate.email and duplicate.email.casefold() == str(email).casefold():
        matched_by, what = MatchedBy.EMAIL, f"email {email}"
    elif phone and duplicate.phone_number == phone:
        matched_by, what = MatchedBy.PHONE, f"phone {phone}"
    reason = (f"create refused with 409 duplicate_profile: profile {duplicate.id} already has "
              f"{what}; linked to it instead")
    send = basis.on_match != "link-only"
    if not send:
        reason += '; on_match = "link-only": the profile is linked, not patched'
    # The duplicate was none of the candidates the lookups read: its list membership is
    # whatever the 409's profile read says, nothing more.
    facts = replace(basis.facts, memberships=None)
    decision = Decision(route=Route.LINK, mapped=mapped, reason=reason, target=duplicate,
                        matched_by=matched_by, send=send,
                        warnings=unlinked_warnings(facts, mapped))
    return assemble(decision, facts, basis.settings, basis)
