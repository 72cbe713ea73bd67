"""List endpoints: lists, their members and membership changes (consent untouched)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.sandbox.klaviyo.calls import (
    JSON,
    Call,
    Reply,
    csv_param,
    page,
    page_links,
    page_size,
)
from core.sandbox.klaviyo.errors import invalid, not_found
from core.sandbox.klaviyo.filters import Condition, parse_filter, wanted_values
from core.sandbox.klaviyo.payloads import check_keys, check_type, document, require_object
from core.sandbox.klaviyo.profiles import index_lookup, profile_view
from core.sandbox.klaviyo.resources import list_resource, profile_resource
from core.sandbox.klaviyo.state import OPT_IN

if TYPE_CHECKING:
    from core.sandbox.klaviyo.app import KlaviyoEmulator

LIST_MEMBERS_MAX = 1000
_LIST_FILTERS = {
    "name": frozenset({"equals", "any"}),
    "id": frozenset({"equals", "any"}),
    "created": frozenset({"greater-than"}),
    "updated": frozenset({"greater-than"}),
}
# GET /api/lists/{id}/profiles and /relationships/profiles (lists.json x-klaviyo-filters).
MEMBER_FILTERS = {
    "email": frozenset({"equals", "any"}),
    "phone_number": frozenset({"equals", "any"}),
    "push_token": frozenset({"equals", "any"}),
    "_kx": frozenset({"equals"}),
    "joined_group_at": frozenset(
        {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}
    ),
}
MEMBER_SORTS = frozenset({"joined_group_at", "-joined_group_at"})
_LIST_FIELD_NAMES = frozenset({"name", "created", "updated", "opt_in_process", "profile_count"})


def list_or_404(emu: KlaviyoEmulator, lid: str) -> JSON:
    """The stored list, or Klaviyo's 404 when the id names none."""
    record = emu.state.lists.get(lid)
    if record is None:
        raise not_found(f"A list with id {lid} does not exist.")
    return record


async def get_lists(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/lists (10 per page)."""
    size = page_size(call, default=10, maximum=10)
    fields = csv_param(call, "fields[list]")
    for name in fields or []:
        if name not in _LIST_FIELD_NAMES - {"profile_count"}:
            raise invalid(
                f"'{name}' is not a valid field for 'fields[list]'.", parameter="fields[list]"
            )
    records = list(emu.state.lists.values())
    text = call.query.get("filter")
    if text is not None:
        for term in parse_filter(text, _LIST_FILTERS):
            records = [r for r in records if _list_matches(r, term)]
    # Cursor keys must sort like the page order, so pages are keyed by position.
    keys = [f"{n:08d}" for n in range(len(records))]
    chunk, nxt, prev = page(keys, call, size)
    data = [list_resource(records[int(key)], call.base, fields=fields) for key in chunk]
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


async def get_list(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/lists/{id}."""
    record = list_or_404(emu, call.ids[0])
    extra = csv_param(call, "additional-fields[list]") or []
    for name in extra:
        if name != "profile_count":
            raise invalid(
                f"'{name}' is not a valid additional field for the resource 'list'.",
                parameter="additional-fields[list]",
            )
    count = len(emu.state.members[record["id"]]) if extra else None
    data = list_resource(
        record, call.base, fields=csv_param(call, "fields[list]"), profile_count=count
    )
    return Reply(200, {"data": data, "links": {"self": data["links"]["self"]}})


async def create_list(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/lists."""
    data = document(call.body)
    check_keys(data, ("type", "attributes"), "/data", "list")
    check_type(data, "list", "/data")
    attrs = require_object(data, "attributes", "/data")
    check_keys(attrs, ("name", "opt_in_process"), "/data/attributes", "list")
    name = attrs.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("'name' is a required field.", pointer="/data/attributes/name")
    opt_in = attrs.get("opt_in_process")
    if opt_in is not None and opt_in not in OPT_IN:
        raise invalid(
            f"'opt_in_process' must be one of {', '.join(OPT_IN)}.",
            pointer="/data/attributes/opt_in_process",
        )
    record = emu.state.create_list(name, opt_in)
    data_out = list_resource(record, call.base)
    return Reply(
        201,
        {"data": data_out, "links": {"self": data_out["links"]["self"]}},
        {"Location": data_out["links"]["self"]},
    )


async def get_list_profiles(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/lists/{id}/profiles."""
    lid = call.ids[0]
    list_or_404(emu, lid)
    fields, subs, predictive = profile_view(call)
    size = page_size(call, default=20, maximum=100)
    chunk, nxt, prev = _member_page(emu, call, lid, size)
    joined = emu.state.members[lid]
    data = []
    for pid in chunk:
        resource = profile_resource(
            emu.state.profiles[pid],
            call.base,
            fields=fields,
            with_subscriptions=subs,
            with_predictive=predictive,
        )
        # The list-members view carries when the profile joined (a required date-time).
        if fields is None or "joined_group_at" in fields:
            resource["attributes"]["joined_group_at"] = joined[pid]
        data.append(resource)
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


async def get_list_profile_ids(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/lists/{id}/relationships/profiles."""
    lid = call.ids[0]
    list_or_404(emu, lid)
    size = page_size(call, default=20, maximum=100)
    chunk, nxt, prev = _member_page(emu, call, lid, size)
    data = [{"type": "profile", "id": pid} for pid in chunk]
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


def _member_page(
    emu: KlaviyoEmulator, call: Call, lid: str, size: int
) -> tuple[list[str], str | None, str | None]:
    """One page of filtered member ids, by id or by `sort` on joined_group_at."""
    pids = _filtered_members(emu, call, lid)
    sort = call.query.get("sort")
    if sort is None:
        return page(pids, call, size)
    if sort not in MEMBER_SORTS:
        raise invalid(f"'{sort}' is not a valid sort for this resource.", parameter="sort")
    joined = emu.state.members[lid]
    pids.sort(key=lambda pid: (joined[pid], pid), reverse=sort.startswith("-"))
    # Cursor keys must sort like the page order, so sorted pages are keyed by position.
    keys = [f"{n:08d}" for n in range(len(pids))]
    chunk, nxt, prev = page(keys, call, size)
    return [pids[int(key)] for key in chunk], nxt, prev


def _filtered_members(emu: KlaviyoEmulator, call: Call, lid: str) -> list[str]:
    """Member ids of a list, ascending, narrowed by the `filter` the member reads accept."""
    members = emu.state.members[lid]
    text = call.query.get("filter")
    if text is None:
        return sorted(members)
    pool = set(members)
    for term in parse_filter(text, MEMBER_FILTERS):
        if term.field in {"email", "phone_number"}:
            pool &= index_lookup(emu, term) or set()
        elif term.field == "joined_group_at":
            if not isinstance(term.value, datetime):
                raise invalid(
                    "'joined_group_at' must be compared with an unquoted datetime.",
                    parameter="filter",
                )
            pool = {pid for pid in pool if _joined_matches(members[pid], term)}
        else:
            pool = set()  # the sandbox keeps no push tokens and no _kx
    return sorted(pool)


def _member_ids(emu: KlaviyoEmulator, call: Call) -> tuple[str, list[str]]:
    lid = call.ids[0]
    list_or_404(emu, lid)
    if not isinstance(call.body, dict) or not isinstance(call.body.get("data"), list):
        raise invalid("'data' must be an array of profile identifiers.", pointer="/data")
    check_keys(call.body, ("data",), "", "list")
    items = call.body["data"]
    if not items:
        raise invalid("'data' must contain at least one profile.", pointer="/data")
    if len(items) > LIST_MEMBERS_MAX:
        raise invalid(
            f"A maximum of {LIST_MEMBERS_MAX} profiles can be sent in one request.",
            pointer="/data",
        )
    ids: list[str] = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid("Each entry must be a profile identifier object.", pointer=f"/data/{n}")
        check_keys(item, ("type", "id"), f"/data/{n}", "profile")
        check_type(item, "profile", f"/data/{n}")
        pid = item.get("id")
        if not isinstance(pid, str) or pid not in emu.state.profiles:
            raise invalid(f"A profile with id {pid} does not exist.", pointer=f"/data/{n}/id")
        ids.append(pid)
    return lid, ids


async def add_list_members(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/lists/{id}/relationships/profiles: 204, consent untouched."""
    lid, ids = _member_ids(emu, call)
    for pid in ids:
        emu.state.add_member(lid, pid)
    return Reply(204, None)


async def remove_list_members(emu: KlaviyoEmulator, call: Call) -> Reply:
    """DELETE /api/lists/{id}/relationships/profiles: 204, consent untouched."""
    lid, ids = _member_ids(emu, call)
    for pid in ids:
        emu.state.remove_member(lid, pid)
    return Reply(204, None)


def _joined_matches(joined: str, term: Condition) -> bool:
    stamp = datetime.fromisoformat(joined)
    target: datetime = term.value
    if target.tzinfo is None:
        target = target.replace(tzinfo=UTC)
    if term.op == "greater-than":
        return stamp > target
    if term.op == "greater-or-equal":
        return stamp >= target
    if term.op == "less-than":
        return stamp < target
    return stamp <= target


def _list_matches(record: JSON, term: Condition) -> bool:
    if term.field in {"name", "id"}:
        return record[term.field] in wanted_values(term)
    stamp = datetime.fromisoformat(record[term.field])
    target: datetime = term.value
    if target.tzinfo is None:
        target = target.replace(tzinfo=UTC)
    return stamp > target
