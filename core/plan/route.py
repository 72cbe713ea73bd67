"""Routing of design §4: which profile a mapped Customer lands on, the exact body, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.mapping import NO_IDENTIFIER
from core.model import (
    JSON,
    Collection,
    ConsentChange,
    ErrorKind,
    FieldDiff,
    KlaviyoList,
    ListChange,
    MappedProfile,
    MatchedBy,
    Plan,
    Profile,
    Route,
    Subscriptions,
    draft_of,
    fast_init,
)
from core.plan.consent import operations
from core.plan.diff import (
    _METADATA,
    _NESTED,
    diff_flat,
    dotted,
    dotted_names,
    flatten,
    is_empty,
    is_mapping,
)

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


# One of each per planned customer: the frozen __init__ is skipped (same instances).
_Plan = fast_init(Plan)
_new_basis = fast_init(_Basis)
# The plans of the two common routes are built as fast_init builds them, inline: slots set on a
# draft of the same layout, which then becomes a Plan (a builder call with a dozen keywords
# fewer per customer).
_PlanDraft = draft_of(Plan)
# Enum members read once: an attribute of an enum class goes through EnumType.__getattr__'s
# slower lookup on every read.
_CREATE, _UPDATE, _LINK = Route.CREATE, Route.UPDATE, Route.LINK
_BY_EXTERNAL_ID, _BY_EMAIL, _BY_PHONE = MatchedBy.EXTERNAL_ID, MatchedBy.EMAIL, MatchedBy.PHONE
# A new profile's consent: never subscribed on any channel (immutable, so shared).
_NEVER_SUBSCRIBED = Subscriptions()


def collection_for(resolution: Resolution) -> Collection:
    """Update for a live link, Add otherwise (unlinked, or a stale link)."""
    return Collection.UPDATE if resolution.linked else Collection.ADD


def payload_attributes(mapped: MappedProfile) -> JSON:
    """JSON:API attributes, properties nested, empty values left out so Klaviyo keeps its own."""
    return _payload(mapped)[0]


def _payload(mapped: MappedProfile) -> tuple[JSON, dict[str, Any]]:
    """payload_attributes, and the same attributes as diff.flatten makes them, in one pass."""
    attributes: JSON = {}
    flat: dict[str, Any] = {}
    for key, value in mapped.attributes.items():
        if key in _RESOURCE_KEYS or key == "properties":
            continue
        # Mapped values are mostly text: the common case is answered without a call.
        if type(value) is str:
            if value and not value.isspace():
                attributes[key] = value
                if key not in _METADATA:
                    flat[key] = value
            continue
        if type(value) is dict and key in _NESTED:
            # The location: _non_empty and _flatten_into inline, in one pass over it (its
            # dotted fields land in flat exactly where the two calls put them).
            names = dotted_names(key)
            kept = {}
            for sub, item in value.items():
                if type(item) is str:
                    if not item or item.isspace():
                        continue
                elif is_empty(item):
                    continue
                kept[sub] = item
                flat[names.get(sub) or dotted(key, sub)] = item
            if kept:
                attributes[key] = kept
            continue
        if is_mapping(value):
            value = _non_empty(value)
        if not is_empty(value):
            attributes[key] = value
            if key in _METADATA:
                continue
            if key in _NESTED and is_mapping(value):
                _flatten_into(flat, key, value)
            else:
                flat[key] = value
    properties = _non_empty(mapped.properties)
    nested = mapped.attributes.get("properties")
    if nested is not None and is_mapping(nested):
        properties = {**_non_empty(nested), **properties}
    if properties:
        attributes["properties"] = properties
        _flatten_into(flat, "properties", properties)
    return attributes, flat


def _non_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries is_empty keeps; text, the usual value, is checked without the call."""
    kept = {}
    for key, value in values.items():
        if type(value) is str:
            if value and not value.isspace():
                kept[key] = value
        elif not is_empty(value):
            kept[key] = value
    return kept


def _flatten_into(flat: dict[str, Any], key: str, values: Mapping[str, Any]) -> None:
    """Add values (already free of empties) to flat under their dotted names (location.city)."""
    names = dotted_names(key)
    for sub, item in values.items():
        flat[names.get(sub) or dotted(key, sub)] = item


def _body(attributes: JSON, profile_id: str | None) -> JSON:
    data: JSON = {"type": "profile"}
    if profile_id is not None:
        data["id"] = profile_id
    data["attributes"] = attributes
    return {"data": data}


def _blocking(
    mapped: MappedProfile, lists: Mapping[str, KlaviyoList | None]
) -> tuple[ErrorKind, tuple[str, ...]] | None:
    attributes = mapped.attributes
    # mapped.has_identifier inline.
    if not mapped.errors and (attributes.get("email") or attributes.get("phone_number")):
        # The common case, answered without building the error list: nothing blocks unless
        # a named list is missing.
        for intent in mapped.list_intents:
            if lists.get(intent.list_name) is None:
                break
        else:
            return None
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
    if more:
        items = [*items, *more]
    return tuple(dict.fromkeys(items)) if items else ()


def _blocked_plan(
    mapped: MappedProfile,
    verdict: tuple[ErrorKind, tuple[str, ...]],
    warnings: list[str],
    target: Profile | None,
    matched_by: MatchedBy | None,
    basis: _Basis | None,
) -> Plan:
    kind, errors = verdict
    return _Plan(
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
    attributes, flat = _payload(mapped)
    for key, match, label in (
        ("email", resolution.email_match, "email"),
        ("phone_number", resolution.phone_match, "phone"),
    ) if send and (resolution.email_match or resolution.phone_match) else ():
        if match is None or match.id == target.id or key not in attributes:
            continue
        value = attributes.pop(key)
        flat.pop(key, None)
        warnings.append(
            f"{label} {value} belongs to profile {match.id}, not to profile {target.id} this "
            f"push targets: {label} left out of the payload so no identifier moves between "
            "profiles"
        )
    sent: JSON = attributes if send else {}
    phone_sent = "phone_number" in sent
    consent, lists, more = operations(
        mapped,
        resolution.lists,
        sent.get("email") or target.email,
        sent.get("phone_number") or target.phone_number,
        target.subscriptions,
        target.list_ids,
        False,
        not (phone_sent and mapped.phone_valid is False),
        settings.sms_consent,
    )
    current = target.attributes
    payload = _body(attributes, target.id) if send else None
    return _ready_plan(mapped.customer_id, route, reason, matched_by, target.id, payload,
                       current, diff_flat(flatten(current), flat if send else {}), consent,
                       lists, warnings, more, basis)


def _create_plan(
    mapped: MappedProfile,
    reason: str,
    resolution: Resolution,
    settings: PlanSettings,
    warnings: list[str],
    basis: _Basis,
) -> Plan:
    attributes, flat = _payload(mapped)
    consent, lists, more = operations(
        mapped,
        resolution.lists,
        attributes.get("email"),
        attributes.get("phone_number"),
        _NEVER_SUBSCRIBED,
        frozenset(),
        True,
        mapped.phone_valid is not False,
        settings.sms_consent,
    )
    return _ready_plan(mapped.customer_id, _CREATE, reason, None, None,
                       _body(attributes, None), None,
                       diff_flat({}, flat), consent, lists, warnings, more, basis)


def _ready_plan(customer_id: str, route: Route, reason: str, matched_by: MatchedBy | None,
                profile_id: str | None, payload: JSON | None, current: JSON | None,
                diff: tuple[FieldDiff, ...], consent: tuple[ConsentChange, ...],
                lists: tuple[ListChange, ...], warnings: list[str], more: tuple[str, ...],
                basis: _Basis | None) -> Plan:
    """A plan that nothing blocks, built as fast_init builds it (positional: no keyword call)."""
    plan: Any = _PlanDraft()
    plan.customer_id = customer_id
    plan.route = route
    plan.reason = reason
    plan.matched_by = matched_by
    plan.profile_id = profile_id
    plan.payload = payload
    plan.current = current
    plan.diff = diff
    plan.consent = consent
    plan.lists = lists
    # _dedupe(warnings, more) only when there is something to say.
    plan.warnings = _dedupe(warnings, more) if warnings or more else ()
    plan.errors = ()
    plan.error_kind = None
    plan.basis = basis
    plan.__class__ = Plan
    return plan  # type: ignore[no-any-return]


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
                                 _BY_EXTERNAL_ID, None)
        return _existing_plan(
            mapped_update, target, _UPDATE, _BY_EXTERNAL_ID,
            f"linked via external id {resolution.link}", True, resolution, settings, warnings,
            None,
        )

    if mapped_add is None:
        raise ValueError("an unlinked customer needs its Add-collection mapping")
    # _unlinked_warnings inline for the common case, no link.
    warnings = (list(mapped_add.warnings) if resolution.link is None
                else _unlinked_warnings(mapped_add, resolution))
    basis = _new_basis(mapped_add, resolution, settings, on_match)
    email = mapped_add.attributes.get("email")
    phone = mapped_add.attributes.get("phone_number")
    match: tuple[Profile, MatchedBy, str] | None = None
    if resolution.email_match is not None:
        found = resolution.email_match
        match = (found, _BY_EMAIL,
                 f"email {email or found.email} matched profile {found.id}")
    elif resolution.phone_match is not None:
        found = resolution.phone_match
        words = f"phone {phone or found.phone_number} matched profile {found.id}"
        if email:
            words = f"no profile has email {email}; {words}"
        match = (found, _BY_PHONE, words)

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
        mapped_add, target, _LINK, matched_by, reason, send, resolution, settings, warnings,
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
        mapped, duplicate, _LINK, matched_by, reason, send, basis.resolution, basis.settings,
        _unlinked_warnings(mapped, basis.resolution), basis,
    )
