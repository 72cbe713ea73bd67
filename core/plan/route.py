"""Routing of design §4: which profile a mapped Customer lands on, the exact body, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.mapping import NO_IDENTIFIER
from core.model import (
    JSON,
    Collection,
    ErrorKind,
    KlaviyoList,
    MappedProfile,
    MatchedBy,
    Plan,
    Profile,
    Route,
    Subscriptions,
)
from core.plan.consent import operations
from core.plan.diff import field_diff, is_empty

OnMatch = Literal["patch", "link-only"]

# Keys of the JSON:API resource itself, never attributes.
_RESOURCE_KEYS = frozenset({"id", "type"})


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the lookups found: the link and its profile, the matches, and the named lists."""

    link: str | None = None
    # None with link set = the linked profile is gone from Klaviyo (404): a stale link.
    linked_profile: Profile | None = None
    email_match: Profile | None = None
    phone_match: Profile | None = None
    # Every list named by the mapping, by name; None = no such list in Klaviyo.
    lists: Mapping[str, KlaviyoList | None] = field(default_factory=dict)

    @property
    def linked(self) -> bool:
        """True when the link points at a profile that exists (the Update collection applies)."""
        return self.link is not None and self.linked_profile is not None


@dataclass(frozen=True, slots=True)
class PlanSettings:
    sms_consent: bool = False
    default_region: str = "US"


@dataclass(frozen=True, slots=True)
class _Basis:
    """What an unlinked plan was built from; plan_conflict re-plans from it after a 409."""

    mapped: MappedProfile
    resolution: Resolution
    settings: PlanSettings
    on_match: str


def collection_for(resolution: Resolution) -> Collection:
    """Update for a live link, Add otherwise (unlinked, or a stale link)."""
    return Collection.UPDATE if resolution.linked else Collection.ADD


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


def _blocking(
    mapped: MappedProfile, lists: Mapping[str, KlaviyoList | None]
) -> tuple[ErrorKind, tuple[str, ...]] | None:
    errors = list(mapped.errors)
    kind: ErrorKind | None = None
    if not mapped.has_identifier:
        kind = ErrorKind.NO_IDENTIFIER
        if not any("identifier" in error for error in errors):
            errors.insert(0, NO_IDENTIFIER)
    elif errors:
        kind = ErrorKind.VALIDATION
    missing: dict[str, str] = {}
    for intent in mapped.list_intents:
        if lists.get(intent.list_name) is None:
            prefix = "LIST_" if intent.consent else "UCLIST_"
            missing.setdefault(intent.list_name, prefix)
    for name, prefix in missing.items():
        errors.append(
            f'list "{name}" (named by {prefix}{name}) does not exist in Klaviyo; '
            "create it there or change the mapping"
        )
    if missing and kind is None:
        kind = ErrorKind.LIST_NOT_FOUND
    return None if kind is None else (kind, tuple(errors))


def _dedupe(items: list[str], more: tuple[str, ...] = ()) -> tuple[str, ...]:
    """items then more, each once, in first-seen order."""
    return tuple(dict.fromkeys([*items, *more]))


def _blocked_plan(
    mapped: MappedProfile,
    verdict: tuple[ErrorKind, tuple[str, ...]],
    warnings: list[str],
    target: Profile | None,
    matched_by: MatchedBy | None,
    basis: _Basis | None,
) -> Plan:
    kind, errors = verdict
    return Plan(
        customer_id=mapped.customer_id,
        route=Route.BLOCKED,
        reason=f"blocked: {errors[0]}",
        matched_by=matched_by,
        profile_id=target.id if target else None,
        current=target.attributes if target else None,
        warnings=_dedupe(warnings),
        errors=errors,
        error_kind=kind,
        basis=basis,
    )


def _existing_plan(
    mapped: MappedProfile,
    target: Profile,
    route: Route,
    matched_by: MatchedBy | None,
    reason: str,
    send: bool,
    resolution: Resolution,
    settings: PlanSettings,
    warnings: list[str],
    basis: _Basis | None,
) -> Plan:
    attributes = payload_attributes(mapped)
    if send:
        for key, match, label in (
            ("email", resolution.email_match, "email"),
            ("phone_number", resolution.phone_match, "phone"),
        ):
            if match is None or match.id == target.id or key not in attributes:
                continue
            value = attributes.pop(key)
            warnings.append(
                f"{label} {value} belongs to profile {match.id}, not to profile {target.id} "
                f"this push targets: {label} left out of the payload so no identifier moves "
                "between profiles"
            )
    sent: JSON = attributes if send else {}
    consent, lists, more = operations(
        mapped,
        resolution.lists,
        email=sent.get("email") or target.email,
        phone_number=sent.get("phone_number") or target.phone_number,
        subs=target.subscriptions,
        list_ids=target.list_ids,
        new_profile=False,
        phone_usable=not ("phone_number" in sent and mapped.phone_valid is False),
        sms_consent=settings.sms_consent,
    )
    return Plan(
        customer_id=mapped.customer_id,
        route=route,
        reason=reason,
        matched_by=matched_by,
        profile_id=target.id,
        payload=_body(attributes, target.id) if send else None,
        current=target.attributes,
        diff=field_diff(target.attributes, sent),
        consent=consent,
        lists=lists,
        warnings=_dedupe(warnings, more),
        basis=basis,
    )


def _create_plan(
    mapped: MappedProfile,
    reason: str,
    resolution: Resolution,
    settings: PlanSettings,
    warnings: list[str],
    basis: _Basis,
) -> Plan:
    attributes = payload_attributes(mapped)
    consent, lists, more = operations(
        mapped,
        resolution.lists,
        email=attributes.get("email"),
        phone_number=attributes.get("phone_number"),
        subs=Subscriptions(),
        list_ids=frozenset(),
        new_profile=True,
        phone_usable=mapped.phone_valid is not False,
        sms_consent=settings.sms_consent,
    )
    return Plan(
        customer_id=mapped.customer_id,
        route=Route.CREATE,
        reason=reason,
        payload=_body(attributes, None),
        diff=field_diff(None, attributes),
        consent=consent,
        lists=lists,
        warnings=_dedupe(warnings, more),
        basis=basis,
    )


def _no_match_reason(email: Any, phone: Any) -> str:
    said = [f"email {email}"] if email else []
    if phone:
        said.append(f"phone {phone}")
    return "no profile has " + " or ".join(said)


def _unlinked_warnings(mapped: MappedProfile, resolution: Resolution) -> list[str]:
    warnings = []
    if resolution.link is not None:
        warnings.append(
            f"stale link: profile {resolution.link} no longer exists in Klaviyo; "
            "treated as not linked"
        )
    return [*warnings, *mapped.warnings]


def _link_only(on_match: str) -> bool:
    return on_match == "link-only"


def plan_from_mapped(
    mapped_add: MappedProfile | None,
    mapped_update: MappedProfile | None,
    resolution: Resolution,
    settings: PlanSettings | None = None,
    on_match: str = "patch",
) -> Plan:
    """Route one mapped Customer (design §4); only the collection the route needs must be given."""
    settings = settings or PlanSettings()
    target = resolution.linked_profile
    if resolution.link is not None and target is not None:
        if mapped_update is None:
            raise ValueError("a linked customer needs its Update-collection mapping")
        warnings = list(mapped_update.warnings)
        verdict = _blocking(mapped_update, resolution.lists)
        if verdict:
            return _blocked_plan(mapped_update, verdict, warnings, target,
                                 MatchedBy.EXTERNAL_ID, None)
        return _existing_plan(
            mapped_update, target, Route.UPDATE, MatchedBy.EXTERNAL_ID,
            f"linked via external id {resolution.link}", True, resolution, settings, warnings,
            None,
        )

    if mapped_add is None:
        raise ValueError("an unlinked customer needs its Add-collection mapping")
    warnings = _unlinked_warnings(mapped_add, resolution)
    basis = _Basis(mapped=mapped_add, resolution=resolution, settings=settings,
                   on_match=on_match)
    email = mapped_add.attributes.get("email")
    phone = mapped_add.attributes.get("phone_number")
    match: tuple[Profile, MatchedBy, str] | None = None
    if resolution.email_match is not None:
        found = resolution.email_match
        match = (found, MatchedBy.EMAIL,
                 f"email {email or found.email} matched profile {found.id}")
    elif resolution.phone_match is not None:
        found = resolution.phone_match
        words = f"phone {phone or found.phone_number} matched profile {found.id}"
        if email:
            words = f"no profile has email {email}; {words}"
        match = (found, MatchedBy.PHONE, words)

    verdict = _blocking(mapped_add, resolution.lists)
    if verdict:
        return _blocked_plan(mapped_add, verdict, warnings, match[0] if match else None,
                             match[1] if match else None, basis)
    if match is None:
        return _create_plan(mapped_add, _no_match_reason(email, phone), resolution, settings,
                            warnings, basis)
    target, matched_by, reason = match
    send = not _link_only(on_match)
    if not send:
        reason += '; on_match = "link-only": the profile is linked, not patched'
    return _existing_plan(
        mapped_add, target, Route.LINK, matched_by, reason, send, resolution, settings, warnings,
        basis,
    )


def plan_conflict(plan: Plan, duplicate: Profile) -> Plan:
    """Turn a create that Klaviyo refused with 409 duplicate_profile into a link to that profile."""
    if plan.route is not Route.CREATE:
        raise ValueError(f"only a create plan can meet a duplicate profile, not {plan.route}")
    basis = plan.basis
    if not isinstance(basis, _Basis):
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
    send = not _link_only(basis.on_match)
    if not send:
        reason += '; on_match = "link-only": the profile is linked, not patched'
    return _existing_plan(
        mapped, duplicate, Route.LINK, matched_by, reason, send, basis.resolution, basis.settings,
        _unlinked_warnings(mapped, basis.resolution), basis,
    )
