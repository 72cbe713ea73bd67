"""Profile endpoints: create, read, update, upsert, filtered reads and a profile's lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.sandbox.klaviyo.calls import (
    JSON,
    Call,
    Reply,
    csv_param,
    includes,
    page,
    page_links,
    page_size,
)
from core.sandbox.klaviyo.errors import KlaviyoProblem, invalid, not_found
from core.sandbox.klaviyo.filters import Condition, parse_filter, wanted_values
from core.sandbox.klaviyo.payloads import (
    PHONE_DETAIL,
    PROFILE_FIELDS,
    UPSERT_FIELDS,
    check_keys,
    check_type,
    document,
    phone_is_valid,
    profile_attributes,
    profile_meta,
    require_object,
)
from core.sandbox.klaviyo.resources import list_resource, profile_resource

if TYPE_CHECKING:
    from core.sandbox.klaviyo.app import KlaviyoEmulator

PROFILE_MAX_BYTES = 100 * 1024
_PROFILE_FILTERS = {
    "id": frozenset({"equals", "any"}),
    "email": frozenset({"equals", "any"}),
    "phone_number": frozenset({"equals", "any"}),
    "external_id": frozenset({"equals", "any"}),
    "_kx": frozenset({"equals"}),
    "created": frozenset({"greater-than", "less-than"}),
    "updated": frozenset({"greater-than", "less-than"}),
    "subscriptions.email.marketing.suppression.reason": frozenset({"equals"}),
}
_PROFILE_FIELD_HEADS = frozenset(
    PROFILE_FIELDS
    | {"created", "updated", "last_event_date", "subscriptions", "predictive_analytics"}
)
_FLIP = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "ZYXWVTSRQPNMKJHGFEDCBA9876543210")


def profile_or_404(emu: KlaviyoEmulator, pid: str) -> JSON:
    """The stored profile, or Klaviyo's 404 when the id names none."""
    record = emu.state.profile(pid)
    if record is None:
        raise not_found(f"A profile with id {pid} does not exist.")
    return record


def profile_view(call: Call) -> tuple[list[str] | None, bool, bool]:
    """The `fields[profile]` and additional fields a read asked for, checked."""
    fields = csv_param(call, "fields[profile]")
    for name in fields or []:
        if name.split(".")[0] not in _PROFILE_FIELD_HEADS:
            raise invalid(
                f"'{name}' is not a valid field for 'fields[profile]'.",
                parameter="fields[profile]",
            )
    extra = csv_param(call, "additional-fields[profile]") or []
    for name in extra:
        if name not in {"subscriptions", "predictive_analytics"}:
            raise invalid(
                f"'{name}' is not a valid additional field for the resource 'profile'.",
                parameter="additional-fields[profile]",
            )
    return fields, "subscriptions" in extra, "predictive_analytics" in extra


def profile_doc(
    emu: KlaviyoEmulator, record: JSON, call: Call, *, include_lists: bool = False
) -> JSON:
    """The JSON:API document of one profile, with its lists when included."""
    fields, subs, predictive = profile_view(call)
    list_ids = emu.state.lists_of(record["id"]) if include_lists else None
    data = profile_resource(
        record,
        call.base,
        fields=fields,
        with_subscriptions=subs,
        with_predictive=predictive,
        list_ids=list_ids,
    )
    doc: JSON = {"data": data, "links": {"self": data["links"]["self"]}}
    if include_lists and list_ids is not None:
        doc["included"] = [
            list_resource(emu.state.lists[lid], call.base, fields=csv_param(call, "fields[list]"))
            for lid in list_ids
        ]
    return doc


def _profile_body(call: Call, *, with_id: bool, upsert: bool = False) -> tuple[JSON, JSON]:
    raw = call.request.headers.get("content-length")
    if raw and raw.isdigit() and int(raw) > PROFILE_MAX_BYTES:
        raise KlaviyoProblem(
            413, "payload_too_large", "The request payload exceeds the maximum size of 100 KB."
        )
    data = document(call.body)
    keys = ["type", "attributes"]
    if with_id or upsert:
        keys += ["id", "meta"]
    check_keys(data, keys, "/data", "profile")
    check_type(data, "profile", "/data")
    if with_id and not isinstance(data.get("id"), str):
        raise invalid("'id' is a required field.", pointer="/data/id")
    attrs = require_object(data, "attributes", "/data")
    profile_attributes(
        attrs, "/data/attributes", allowed=UPSERT_FIELDS if upsert else PROFILE_FIELDS
    )
    return data, dict(attrs)


def _phone_policy(attrs: JSON, call: Call, *, lenient: bool, pointer: str) -> None:
    phone = attrs.get("phone_number")
    if phone is None or phone_is_valid(phone):
        return
    if lenient and attrs.get("email"):
        # Since 2024 Klaviyo drops a bad phone when a valid email carries the request.
        del attrs["phone_number"]
        call.headers["X-Klaviyo-Partial-Failure"] = "phone_number"
        return
    raise invalid(PHONE_DETAIL, pointer=pointer)


async def create_profile(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/profiles."""
    _, attrs = _profile_body(call, with_id=False)
    _phone_policy(attrs, call, lenient=True, pointer="/data/attributes/phone_number")
    record = emu.state.create_profile(attrs)
    doc = profile_doc(emu, record, call)
    return Reply(201, doc, {"Location": doc["data"]["links"]["self"]})


async def get_profile(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profiles/{id}."""
    include = includes(call, {"lists", "segments", "push-tokens", "conversations"})
    record = profile_or_404(emu, call.ids[0])
    return Reply(200, profile_doc(emu, record, call, include_lists="lists" in include))


async def update_profile(emu: KlaviyoEmulator, call: Call) -> Reply:
    """PATCH /api/profiles/{id}."""
    pid = call.ids[0]
    data, attrs = _profile_body(call, with_id=True)
    if data["id"] != pid:
        raise KlaviyoProblem(
            409,
            "conflict",
            "The id in the request body does not match the id in the URL.",
            pointer="/data/id",
        )
    profile_or_404(emu, pid)
    patch = profile_meta(data.get("meta"), "/data/meta")
    _phone_policy(attrs, call, lenient=False, pointer="/data/attributes/phone_number")
    record = emu.state.update_profile(pid, attrs, patch)
    return Reply(200, profile_doc(emu, record, call))


async def import_profile(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/profile-import: 201 when created, 200 when an existing profile was updated."""
    data, attrs = _profile_body(call, with_id=False, upsert=True)
    patch = profile_meta(data.get("meta"), "/data/meta")
    pid = data.get("id")
    if pid is not None and not isinstance(pid, str):
        raise invalid("'id' must be a string or null.", pointer="/data/id")
    _phone_policy(attrs, call, lenient=False, pointer="/data/attributes/phone_number")
    record, created = emu.state.upsert_profile(pid, attrs, patch)
    return Reply(201 if created else 200, profile_doc(emu, record, call))


async def get_profiles(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profiles with filter and cursor paging."""
    includes(call, {"push-tokens", "conversations"})
    fields, subs, predictive = profile_view(call)
    size = page_size(call, default=20, maximum=100)
    ordered = _filtered_profiles(emu, call)
    descending = call.query.get("sort", "") in {"-id", "-created"}
    if call.query.get("sort", "id").lstrip("-") not in {"id", "created"}:
        raise invalid("The sandbox sorts profiles by 'id' or 'created' only.", parameter="sort")
    if descending:
        flipped = [_flip(pid) for pid in reversed(ordered)]
        chunk, nxt, prev = page(flipped, call, size)
        chunk = [_flip(key) for key in chunk]
    else:
        chunk, nxt, prev = page(ordered, call, size)
    data = [
        profile_resource(
            emu.state.profiles[pid],
            call.base,
            fields=fields,
            with_subscriptions=subs,
            with_predictive=predictive,
        )
        for pid in chunk
    ]
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


def _filtered_profiles(emu: KlaviyoEmulator, call: Call) -> list[str]:
    text = call.query.get("filter")
    if text is None:
        return emu.state.order
    terms = parse_filter(text, _PROFILE_FILTERS)
    candidates: set[str] | None = None
    scans: list[Condition] = []
    for term in terms:
        found = index_lookup(emu, term)
        if found is None:
            scans.append(term)
        else:
            candidates = found if candidates is None else candidates & found
    pool = sorted(candidates) if candidates is not None else emu.state.order
    for term in scans:
        pool = [pid for pid in pool if _compare(emu.state.profiles[pid], term)]
    return pool


def index_lookup(emu: KlaviyoEmulator, term: Condition) -> set[str] | None:
    """Profile ids a filter term names, or None when the term needs a scan."""
    state = emu.state
    values = [v for v in wanted_values(term) if isinstance(v, str)]
    if term.field == "email":
        return {pid for v in values if (pid := state.find_by_email(v))}
    if term.field == "phone_number":
        return {pid for v in values if (pid := state.find_by_phone(v))}
    if term.field == "external_id":
        return {pid for v in values for pid in state.find_by_external_id(v)}
    if term.field == "id":
        return {v for v in values if v in state.profiles}
    if term.field == "_kx":
        return set()
    if term.field == "subscriptions.email.marketing.suppression.reason":
        return {pid for v in values for pid in state.suppressed(v)}
    return None


async def get_profile_lists(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profiles/{id}/lists."""
    pid = call.ids[0]
    profile_or_404(emu, pid)
    fields = csv_param(call, "fields[list]")
    data = [
        list_resource(emu.state.lists[lid], call.base, fields=fields)
        for lid in emu.state.lists_of(pid)
    ]
    return Reply(200, {"data": data, "links": page_links(call, None, None)})


async def get_profile_list_ids(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profiles/{id}/relationships/lists."""
    pid = call.ids[0]
    profile_or_404(emu, pid)
    data = [{"type": "list", "id": lid} for lid in emu.state.lists_of(pid)]
    return Reply(200, {"data": data, "links": page_links(call, None, None)})


def _flip(pid: str) -> str:
    """Reverse a ULID's sort order so descending pages can reuse the ascending cursor logic."""
    return pid.translate(_FLIP)


def _compare(record: JSON, term: Condition) -> bool:
    stamp = datetime.fromisoformat(record[term.field])
    target: datetime = term.value
    if target.tzinfo is None:
        target = target.replace(tzinfo=UTC)
    return stamp > target if term.op == "greater-than" else stamp < target
