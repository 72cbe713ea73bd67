"""Consent endpoints: the bulk subscribe and unsubscribe jobs, checked as Klaviyo checks them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.sandbox.klaviyo import consent
from core.sandbox.klaviyo.calls import JSON, Call, Reply
from core.sandbox.klaviyo.errors import invalid
from core.sandbox.klaviyo.payloads import (
    EMAIL_DETAIL,
    PHONE_DETAIL,
    check_keys,
    check_type,
    document,
    email_is_valid,
    phone_is_valid,
    require_object,
)

if TYPE_CHECKING:
    from core.sandbox.klaviyo.app import KlaviyoEmulator

SUBSCRIBE_MAX = 1000
UNSUBSCRIBE_MAX = 100


def _job_data(
    emu: KlaviyoEmulator, call: Call, kind: str, maximum: int
) -> tuple[JSON, list[Any], str | None]:
    data = document(call.body)
    check_keys(data, ("type", "attributes", "relationships"), "/data", kind)
    check_type(data, kind, "/data")
    attrs = require_object(data, "attributes", "/data")
    allowed = (
        ("profiles", "custom_source", "historical_import")
        if kind.endswith("create-job")
        else ("profiles",)
    )
    check_keys(attrs, allowed, "/data/attributes", kind)
    profiles = require_object(attrs, "profiles", "/data/attributes")
    check_keys(profiles, ("data",), "/data/attributes/profiles", kind)
    items = profiles.get("data")
    if not isinstance(items, list) or not items:
        raise invalid(
            "'data' must be a non-empty array of profiles.",
            pointer="/data/attributes/profiles/data",
        )
    if len(items) > maximum:
        raise invalid(
            f"A maximum of {maximum} profiles can be sent in one request.",
            pointer="/data/attributes/profiles/data",
        )
    list_id = None
    rels = data.get("relationships")
    if rels is not None:
        if not isinstance(rels, dict):
            raise invalid("'relationships' must be an object.", pointer="/data/relationships")
        check_keys(rels, ("list",), "/data/relationships", kind)
        if rels.get("list") is not None:
            list_id = related_list(emu, rels["list"], "/data/relationships/list")
    return attrs, items, list_id


def related_list(emu: KlaviyoEmulator, rel: Any, pointer: str) -> str:
    """The list id of a relationship, refused when no such list exists."""
    target = rel.get("data") if isinstance(rel, dict) else None
    if not isinstance(target, dict):
        raise invalid("'data' is a required field.", pointer=f"{pointer}/data")
    check_type(target, "list", f"{pointer}/data")
    lid = target.get("id")
    if not isinstance(lid, str) or lid not in emu.state.lists:
        raise invalid(f"The list with id {lid} does not exist.", pointer=f"{pointer}/data/id")
    return lid


def _channels(
    emu: KlaviyoEmulator, subs: Any, pointer: str, consent: str, historical: bool
) -> tuple[JSON, JSON]:
    if not isinstance(subs, dict):
        raise invalid("'subscriptions' must be an object.", pointer=pointer)
    check_keys(subs, ("email", "sms", "whatsapp", "push"), pointer, "profile")
    times: JSON = {}
    plan: JSON = {}
    for channel, kinds in (
        ("email", ("marketing", "open_tracking")),
        ("sms", ("marketing", "transactional")),
        ("whatsapp", ("marketing", "transactional", "conversational")),
        ("push", ("marketing", "tokens", "anonymous_id")),
    ):
        spec = subs.get(channel)
        if spec is None:
            continue
        where = f"{pointer}/{channel}"
        if not isinstance(spec, dict):
            raise invalid(f"'{channel}' must be an object.", pointer=where)
        check_keys(spec, kinds, where, "profile")
        plan[channel] = {}
        for kind in ("marketing", "transactional", "open_tracking"):
            params = spec.get(kind)
            if params is None or kind not in kinds:
                continue
            spot = f"{where}/{kind}"
            if not isinstance(params, dict):
                raise invalid(f"'{kind}' must be an object.", pointer=spot)
            check_keys(
                params,
                ("consent", "consented_at") if consent == "SUBSCRIBED" else ("consent",),
                spot,
                "profile",
            )
            if params.get("consent") != consent:
                raise invalid(f"'consent' must be '{consent}'.", pointer=f"{spot}/consent")
            at = params.get("consented_at")
            if historical and kind == "marketing" and channel in {"email", "sms"}:
                times[f"{channel}" if channel == "email" else "sms_marketing"] = _past_time(
                    emu, at, f"{spot}/consented_at"
                )
            elif at is not None:
                raise invalid(
                    "'consented_at' can only be provided when 'historical_import' is true.",
                    pointer=f"{spot}/consented_at",
                )
            plan[channel][kind] = True
    return plan, times


def _past_time(emu: KlaviyoEmulator, value: Any, pointer: str) -> str:
    if not isinstance(value, str):
        raise invalid(
            "'consented_at' is required when 'historical_import' is true.", pointer=pointer
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"'{value}' is not a valid datetime.", pointer=pointer) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > emu.now():
        raise invalid("'consented_at' must be in the past.", pointer=pointer)
    return moment.astimezone(UTC).isoformat()


def _subject(
    emu: KlaviyoEmulator,
    item: Any,
    index: int,
    call: Call,
    *,
    consent: str,
    historical: bool,
    allow_id: bool,
) -> JSON:
    pointer = f"/data/attributes/profiles/data/{index}"
    if not isinstance(item, dict):
        raise invalid("Each profile must be an object.", pointer=pointer)
    check_keys(
        item,
        ("type", "id", "attributes") if allow_id else ("type", "attributes"),
        pointer,
        "profile",
    )
    check_type(item, "profile", pointer)
    attrs = require_object(item, "attributes", pointer)
    allowed = (
        ("email", "phone_number", "subscriptions", "age_gated_date_of_birth")
        if allow_id
        else ("email", "phone_number", "subscriptions")
    )
    check_keys(attrs, allowed, f"{pointer}/attributes", "profile")
    for key in ("email", "phone_number", "age_gated_date_of_birth"):
        if attrs.get(key) is not None and not isinstance(attrs[key], str):
            raise invalid(
                f"'{key}' must be a string or null.", pointer=f"{pointer}/attributes/{key}"
            )
    if "subscriptions" not in attrs:
        raise invalid(
            "'subscriptions' is a required field.",
            pointer=f"{pointer}/attributes/subscriptions",
        )
    plan, times = _channels(
        emu, attrs["subscriptions"], f"{pointer}/attributes/subscriptions", consent, historical
    )
    pid = item.get("id") if allow_id else None
    if pid is not None and (not isinstance(pid, str) or pid not in emu.state.profiles):
        raise invalid(f"A profile with id {pid} does not exist.", pointer=f"{pointer}/id")
    email = attrs.get("email")
    phone = attrs.get("phone_number")
    if email is not None and not email_is_valid(email):
        raise invalid(EMAIL_DETAIL, pointer=f"{pointer}/attributes/email")
    if phone is not None and not phone_is_valid(phone):
        if email and consent == "SUBSCRIBED":
            call.headers["X-Klaviyo-Partial-Failure"] = "phone_number"
            phone = None
            plan.pop("sms", None)
        else:
            raise invalid(PHONE_DETAIL, pointer=f"{pointer}/attributes/phone_number")
    known = emu.state.profiles.get(pid) if pid else None
    known_attrs = known["attributes"] if known else {}
    if "email" in plan and not (email or known_attrs.get("email")):
        raise invalid(
            "'email' must not be empty when the email channel is included in 'subscriptions'.",
            pointer=f"{pointer}/attributes/email",
        )
    if "sms" in plan and not (phone or known_attrs.get("phone_number")):
        raise invalid(
            "'phone_number' must not be empty when the sms channel is included in 'subscriptions'.",
            pointer=f"{pointer}/attributes/phone_number",
        )
    if not (pid or email or phone):
        raise invalid("One or more identifiers is required", pointer=f"{pointer}/attributes")
    return {"id": pid, "email": email, "phone_number": phone, "plan": plan, "times": times}


def _resolve(emu: KlaviyoEmulator, subject: JSON) -> str:
    """The profile a consent subject names, created when nobody has its identifiers yet."""
    state = emu.state
    pid = (
        subject["id"]
        or (subject["email"] and state.find_by_email(subject["email"]))
        or (subject["phone_number"] and state.find_by_phone(subject["phone_number"]))
    )
    free = {
        key: subject[key]
        for key in ("email", "phone_number")
        if subject[key] and state.owner_conflict({key: subject[key]}, pid or None) is None
    }
    if not pid:
        return str(state.create_profile(free)["id"])
    record = state.profiles[pid]
    missing = {k: v for k, v in free.items() if not record["attributes"].get(k)}
    if missing:
        state.update_profile(pid, missing)
    return str(pid)


async def subscribe(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/profile-subscription-bulk-create-jobs: 202, no body."""
    attrs, items, list_id = _job_data(
        emu, call, "profile-subscription-bulk-create-job", SUBSCRIBE_MAX
    )
    historical = attrs.get("historical_import")
    if historical is not None and not isinstance(historical, bool):
        raise invalid(
            "'historical_import' must be a boolean.",
            pointer="/data/attributes/historical_import",
        )
    source = attrs.get("custom_source")
    if source is not None and not isinstance(source, str):
        raise invalid("'custom_source' must be a string.", pointer="/data/attributes/custom_source")
    subjects = [
        _subject(
            emu, item, n, call, consent="SUBSCRIBED", historical=bool(historical), allow_id=True
        )
        for n, item in enumerate(items)
    ]
    for subject in subjects:
        pid = _resolve(emu, subject)
        consent.subscribe(
            emu.state,
            pid,
            subject["plan"],
            list_id=list_id,
            custom_source=source,
            historical=subject["times"] if historical else None,
        )
    return Reply(202, None)


async def unsubscribe(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/profile-subscription-bulk-delete-jobs: 202, no body."""
    _, items, list_id = _job_data(
        emu, call, "profile-subscription-bulk-delete-job", UNSUBSCRIBE_MAX
    )
    subjects = [
        _subject(emu, item, n, call, consent="UNSUBSCRIBED", historical=False, allow_id=False)
        for n, item in enumerate(items)
    ]
    for subject in subjects:
        pid = _resolve(emu, subject)
        consent.unsubscribe(emu.state, pid, subject["plan"], list_id=list_id)
    return Reply(202, None)
