"""Bulk profile import endpoints: submit a job, read it, its errors and the profiles it touched."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from core.sandbox.klaviyo import imports
from core.sandbox.klaviyo.calls import JSON, Call, Reply, includes, iso, page, page_links, page_size
from core.sandbox.klaviyo.errors import invalid, not_found
from core.sandbox.klaviyo.payloads import (
    UPSERT_FIELDS,
    check_keys,
    check_type,
    document,
    profile_attributes,
    profile_meta,
    require_object,
)
from core.sandbox.klaviyo.resources import list_resource
from core.sandbox.klaviyo.subscriptions import related_list

if TYPE_CHECKING:
    from core.sandbox.klaviyo.app import KlaviyoEmulator

IMPORT_MAX = 10_000


async def create_import_job(emu: KlaviyoEmulator, call: Call) -> Reply:
    """POST /api/profile-bulk-import-jobs: 202 with the job document."""
    kind = "profile-bulk-import-job"
    data = document(call.body)
    check_keys(data, ("type", "attributes", "relationships"), "/data", kind)
    check_type(data, kind, "/data")
    attrs = require_object(data, "attributes", "/data")
    check_keys(attrs, ("profiles",), "/data/attributes", kind)
    profiles = require_object(attrs, "profiles", "/data/attributes")
    rows = profiles.get("data")
    if not isinstance(rows, list) or not rows:
        raise invalid(
            "'data' must be a non-empty array of profiles.",
            pointer="/data/attributes/profiles/data",
        )
    if len(rows) > IMPORT_MAX:
        raise invalid(
            f"A maximum of {IMPORT_MAX} profiles can be imported in one job.",
            pointer="/data/attributes/profiles/data",
        )
    for n, row in enumerate(rows):
        pointer = f"/data/attributes/profiles/data/{n}"
        if not isinstance(row, dict):
            raise invalid("Each profile must be an object.", pointer=pointer)
        check_keys(row, ("type", "id", "attributes", "meta"), pointer, "profile")
        check_type(row, "profile", pointer)
        if row.get("id") is not None and not isinstance(row["id"], str):
            raise invalid("'id' must be a string or null.", pointer=f"{pointer}/id")
        row_attrs = require_object(row, "attributes", pointer)
        _schema_only(row_attrs, f"{pointer}/attributes")
        profile_meta(row.get("meta"), f"{pointer}/meta")
    list_ids: list[str] = []
    rels = data.get("relationships")
    if rels is not None:
        if not isinstance(rels, dict):
            raise invalid("'relationships' must be an object.", pointer="/data/relationships")
        check_keys(rels, ("lists",), "/data/relationships", kind)
        lists = rels.get("lists")
        targets = lists.get("data") if isinstance(lists, dict) else None
        if lists is not None and not isinstance(targets, list):
            raise invalid(
                "'lists' must be an object whose 'data' is an array of list identifiers.",
                pointer="/data/relationships/lists/data",
            )
        for n, target in enumerate(targets or []):
            list_ids.append(related_list(emu, {"data": target}, f"/data/relationships/lists/{n}"))
    now = emu.now()
    job = imports.submit(
        emu.state,
        emu.state.ids.next(int(now.timestamp() * 1000)),
        rows,
        list_ids,
        created_at=iso(now),
        expires_at=iso(now + timedelta(days=7)),
        now=emu.monotonic(),
        scale=emu.rate_scale,
    )
    resource = imports.job_resource(job, call.base)
    return Reply(202, {"data": resource, "links": {"self": resource["links"]["self"]}})


def _job_or_404(emu: KlaviyoEmulator, jid: str) -> JSON:
    job = emu.state.jobs.get(jid)
    if job is None:
        raise not_found(f"A profile bulk import job with id {jid} does not exist.")
    return job


async def get_import_job(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profile-bulk-import-jobs/{job_id}."""
    resource = imports.job_resource(_job_or_404(emu, call.ids[0]), call.base)
    doc: JSON = {"data": resource, "links": {"self": resource["links"]["self"]}}
    if "lists" in includes(call, {"lists"}):
        doc["included"] = [
            list_resource(emu.state.lists[lid], call.base)
            for lid in emu.state.jobs[call.ids[0]]["list_ids"]
            if lid in emu.state.lists
        ]
    return Reply(200, doc)


async def get_import_jobs(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profile-bulk-import-jobs."""
    size = page_size(call, default=20, maximum=100)
    chunk, nxt, prev = page(sorted(emu.state.jobs), call, size)
    data = [imports.job_resource(emu.state.jobs[jid], call.base) for jid in chunk]
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


async def get_import_errors(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profile-bulk-import-jobs/{id}/import-errors (cursor-paged)."""
    job = _job_or_404(emu, call.ids[0])
    size = page_size(call, default=20, maximum=100)
    errors = job["errors"] if job["status"] == "complete" else []
    keys = [f"{n:08d}" for n in range(len(errors))]
    chunk, nxt, prev = page(keys, call, size)
    return Reply(
        200, {"data": [errors[int(k)] for k in chunk], "links": page_links(call, nxt, prev)}
    )


async def get_import_profile_ids(emu: KlaviyoEmulator, call: Call) -> Reply:
    """GET /api/profile-bulk-import-jobs/{id}/relationships/profiles."""
    job = _job_or_404(emu, call.ids[0])
    size = page_size(call, default=20, maximum=100)
    chunk, nxt, prev = page(sorted(job["profile_ids"]), call, size)
    data = [{"type": "profile", "id": pid} for pid in chunk]
    return Reply(200, {"data": data, "links": page_links(call, nxt, prev)})


def _schema_only(attrs: JSON, pointer: str) -> None:
    """Schema checks for an import row; bad emails and phones become row errors instead."""
    probe = dict(attrs)
    probe.pop("email", None)
    profile_attributes(probe, pointer, allowed=UPSERT_FIELDS)
    if attrs.get("email") is not None and not isinstance(attrs["email"], str):
        raise invalid("'email' must be a string or null.", pointer=f"{pointer}/email")
