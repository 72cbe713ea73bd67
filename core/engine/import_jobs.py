"""Profile writes of a bulk sync as profile-bulk-import jobs: submit, poll, per-row outcomes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from typing import cast

from core.clients.http import ApiError
from core.clients.klaviyo import IMPORT_BATCH, ImportJob, KlaviyoClient, import_jobs
from core.model import JSON, Profile, Route

# An import job is worth waiting for: its endpoint allows only 150 requests a minute (polls
# included), so a job goes out full, or once no row joined for IMPORT_IDLE seconds (the
# source ran dry or every customer in flight is waiting on it), or after IMPORT_LINGER.
IMPORT_LINGER = 60.0
IMPORT_IDLE = 0.5
# Job polling, in Klaviyo seconds (multiplied by the client's rate scale in the sandbox).
POLL_FIRST, POLL_MAX = 0.5, 10.0
# Customers in flight in a bulk sync: two import jobs' worth, one planning while one runs.
BULK_WORKERS = 2 * IMPORT_BATCH
_ROW = re.compile(r"^/data/attributes/profiles/data/(\d+)")


@dataclass(frozen=True)
class Write:
    """One customer's profile write as an import row: the route, the target id and attributes."""

    route: Route
    profile_id: str | None
    attributes: JSON
    # Lists every imported profile of the job joins (the job's relationships.lists).
    lists: frozenset[str] = frozenset()

    def row(self) -> JSON:
        item: JSON = {"type": "profile", "attributes": dict(self.attributes)}
        if self.route is not Route.CREATE and self.profile_id:
            item["id"] = self.profile_id
        return item


WriteOutcome = Profile | ApiError


class ImportJobs:
    """Runs the rows of one combined import (see Coalescer) as jobs and finds their profiles."""

    def __init__(self, klaviyo: KlaviyoClient,
                 find: Callable[[str, str], Awaitable[Profile | None]]) -> None:
        self._klaviyo = klaviyo
        # The profile with this email or phone_number: the batch's shared read.
        self._find = find
        self.jobs = 0

    async def run(self, key: Hashable, writes: list[Write]) -> list[WriteOutcome]:
        """One outcome per row, in order: the written profile or the row's own error; the key
        is the lists every row joins (Write.lists)."""
        list_ids = sorted(cast(frozenset[str], key))
        outcomes: list[WriteOutcome | None] = [None] * len(writes)
        start = 0
        jobs = []
        for job in import_jobs([w.row() for w in writes], list_ids):
            jobs.append(self._job(list(range(start, start + len(job.profiles))), job, outcomes))
            start += len(job.profiles)
        await asyncio.gather(*jobs)
        await self._find_created(writes, outcomes)
        return [o if o is not None else _local("the import job did not report this profile")
                for o in outcomes]

    async def _job(self, indexes: list[int], job: ImportJob,
                   outcomes: list[WriteOutcome | None]) -> None:
        """Submit one job (rows the API refuses by pointer are failed and the rest resent),
        wait for it, and fail each row named by its import errors."""
        pending = list(indexes)
        job_id: str | None = None
        for _ in range(3):
            try:
                self.jobs += 1
                job_id = await self._klaviyo.submit_import(job)
                break
            except ApiError as exc:
                bad = _row_of(exc.pointer)
                if bad is None or bad >= len(pending):
                    for i in pending:
                        outcomes[i] = exc
                    return
                outcomes[pending.pop(bad)] = exc
                job = job.without(bad)
                if not pending:
                    return
        if job_id is None:
            for i in pending:
                outcomes[i] = outcomes[i] or _local("the import job was refused three times")
            return
        try:
            status, failed = await self._poll(job_id)
            # A job that counts no failure has no import-errors to read (M tier, 150/min).
            errors = await self._klaviyo.import_errors(job_id) if failed != 0 else []
        except ApiError as exc:
            for i in pending:
                outcomes[i] = exc
            return
        for error in errors:
            attributes = error.get("attributes") or {}
            source = attributes.get("source") or {}
            at = _row_of(source.get("pointer") if isinstance(source, dict) else None)
            if at is not None and at < len(pending):
                outcomes[pending[at]] = ApiError(
                    "klaviyo", status=400, code=str(attributes.get("code") or "invalid"),
                    title=attributes.get("title"), detail=attributes.get("detail"),
                    pointer=source.get("pointer"), method="POST",
                    path="/api/profile-bulk-import-jobs")
        if status != "complete":
            for i in pending:
                outcomes[i] = outcomes[i] or _local(f"the import job ended {status}")

    async def _poll(self, job_id: str) -> tuple[str, int | None]:
        """The job's final status and failed count (None when unreadable: errors are read)."""
        scale = self._klaviyo.rate_scale
        delay = POLL_FIRST * scale
        while True:
            job = await self._klaviyo.get_import_job(job_id)
            attributes = job.get("attributes") or {}
            status = str(attributes.get("status") or "queued")
            if status in ("complete", "cancelled"):
                failed = attributes.get("failed_count")
                return status, failed if type(failed) is int else None
            await asyncio.sleep(delay)
            delay = min(delay * 2, POLL_MAX * scale)

    async def _find_created(self, writes: list[Write],
                            outcomes: list[WriteOutcome | None]) -> None:
        """Profile ids for imported rows: given for updates, found by email or phone for
        creates (the job's profiles come back unordered, so identifiers tie them back)."""
        lookups = []
        for i, write in enumerate(writes):
            if outcomes[i] is not None:
                continue
            if write.route is not Route.CREATE and write.profile_id:
                outcomes[i] = Profile(id=write.profile_id, attributes=dict(write.attributes))
                continue
            email = write.attributes.get("email")
            phone = write.attributes.get("phone_number")
            if email:
                lookups.append((i, self._find("email", str(email))))
            elif phone:
                lookups.append((i, self._find("phone_number", str(phone))))
            else:
                outcomes[i] = _local("imported without an email or phone to find it by")
        found = await asyncio.gather(*(call for _, call in lookups), return_exceptions=True)
        for (i, _), profile in zip(lookups, found, strict=True):
            if isinstance(profile, ApiError):
                outcomes[i] = profile
            elif isinstance(profile, Profile):
                outcomes[i] = replace(profile, attributes={**profile.attributes,
                                                           **writes[i].attributes})
            elif isinstance(profile, BaseException):
                raise profile
            else:
                outcomes[i] = _local("imported, but Klaviyo has no profile with its email "
                                     "or phone afterwards")


def _row_of(pointer: object) -> int | None:
    match = _ROW.match(pointer) if isinstance(pointer, str) else None
    return int(match.group(1)) if match else None


def _local(detail: str) -> ApiError:
    return ApiError("klaviyo", code="import_incomplete", detail=detail, local=True)

