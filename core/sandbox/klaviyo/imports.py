"""Bulk profile import jobs: checked on submission, applied when the clock says they finish."""

from __future__ import annotations

import json
from typing import Any

from core.sandbox.klaviyo.errors import KlaviyoProblem
from core.sandbox.klaviyo.ids import error_id
from core.sandbox.klaviyo.payloads import (
    EMAIL_DETAIL,
    PHONE_DETAIL,
    email_is_valid,
    has_identifier,
    phone_is_valid,
)
from core.sandbox.klaviyo.state import AccountState

JSON = dict[str, Any]
QUEUED_SECONDS = 1.0
PROCESSING_SECONDS = 1.0
ROWS_PER_SECOND = 5000.0
ROW_MAX_BYTES = 100 * 1024


def _row_error(index: int, row: Any, detail: str, field: str | None) -> JSON:
    pointer = f"/data/attributes/profiles/data/{index}"
    pointer += f"/attributes/{field}" if field else ""
    return {
        "type": "import-error",
        "id": error_id(),
        "attributes": {
            "code": "invalid",
            "title": "Invalid input.",
            "detail": detail,
            "source": {"pointer": pointer},
            "original_payload": row,
        },
    }


def row_problem(row: JSON) -> tuple[str, str | None] | None:
    """Why a schema-valid row cannot be imported (detail, attribute), or None."""
    attrs = row["attributes"]
    if len(json.dumps(row)) > ROW_MAX_BYTES:
        return "The profile exceeds the maximum size of 100 KB.", None
    if attrs.get("email") and not email_is_valid(attrs["email"]):
        return EMAIL_DETAIL, "email"
    if attrs.get("phone_number") and not phone_is_valid(attrs["phone_number"]):
        return PHONE_DETAIL, "phone_number"
    if not row.get("id") and not has_identifier(attrs):
        return "One or more identifiers is required", None
    return None


def submit(
    state: AccountState,
    job_id: str,
    rows: list[JSON],
    list_ids: list[str],
    *,
    created_at: str,
    expires_at: str,
    now: float,
    scale: float,
) -> JSON:
    """Queue a job; rows with bad values become import errors at once."""
    errors: list[JSON] = []
    accepted: list[JSON] = []
    for index, row in enumerate(rows):
        problem = row_problem(row)
        if problem:
            errors.append(_row_error(index, row, problem[0], problem[1]))
        else:
            accepted.append({"index": index, "row": row})
    start = now + QUEUED_SECONDS * scale
    job: JSON = {
        "id": job_id,
        "created_at": created_at,
        "expires_at": expires_at,
        "started_at": None,
        "completed_at": None,
        "total_count": len(rows),
        "completed_count": 0,
        "failed_count": 0,
        "list_ids": list_ids,
        "rows": accepted,
        "errors": errors,
        "profile_ids": [],
        "start_clock": start,
        "done_clock": start + (PROCESSING_SECONDS + len(rows) / ROWS_PER_SECOND) * scale,
        "status": "queued",
    }
    state.jobs[job_id] = job
    state.changed = True
    return job


def advance(state: AccountState, now: float, now_iso: str, *, finish_all: bool = False) -> None:
    """Move jobs along: queued -> processing -> complete (applying their rows)."""
    for job in state.jobs.values():
        if job["status"] == "complete":
            continue
        if job["status"] == "queued" and (finish_all or now >= job["start_clock"]):
            job["status"] = "processing"
            job["started_at"] = now_iso
            state.changed = True
        if job["status"] == "processing" and (finish_all or now >= job["done_clock"]):
            _apply(state, job)
            job["status"] = "complete"
            job["completed_at"] = now_iso
            state.changed = True


def _apply(state: AccountState, job: JSON) -> None:
    done = 0
    for item in job["rows"]:
        row = item["row"]
        try:
            record, _ = state.upsert_profile(
                row.get("id"),
                dict(row["attributes"]),
                (row.get("meta") or {}).get("patch_properties"),
            )
        except KlaviyoProblem as problem:
            field = (problem.pointer or "").rsplit("/", 1)[-1] if problem.pointer else None
            job["errors"].append(
                _row_error(
                    item["index"],
                    row,
                    problem.detail,
                    field if field in {"email", "phone_number"} else None,
                )
            )
            continue
        done += 1
        job["profile_ids"].append(record["id"])
        for lid in job["list_ids"]:
            if lid in state.lists:
                state.add_member(lid, record["id"])
    job["rows"] = []
    job["completed_count"] = done
    job["failed_count"] = len(job["errors"])


def job_resource(job: JSON, base: str) -> JSON:
    """The profile-bulk-import-job resource object."""
    jid = job["id"]
    rel = f"{base}/api/profile-bulk-import-jobs/{jid}"
    return {
        "type": "profile-bulk-import-job",
        "id": jid,
        "attributes": {
            "status": job["status"],
            "created_at": job["created_at"],
            "total_count": job["total_count"],
            "completed_count": job["completed_count"],
            "failed_count": job["failed_count"],
            "completed_at": job["completed_at"],
            "expires_at": job["expires_at"],
            "started_at": job["started_at"],
        },
        "relationships": {
            "lists": {
                "data": [{"type": "list", "id": lid} for lid in job["list_ids"]],
                "links": {"self": f"{rel}/relationships/lists/", "related": f"{rel}/lists/"},
            },
            "profiles": {
                "links": {"self": f"{rel}/relationships/profiles/", "related": f"{rel}/profiles/"}
            },
            "import-errors": {"links": {"related": f"{rel}/import-errors/"}},
        },
        "links": {"self": f"{rel}/"},
    }
