"""Bulk profile import: profiles split into jobs within Klaviyo's caps, and jobs summed again."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.clients.errors import ApiError
from core.clients.klaviyo_endpoints import (
    IMPORT_BATCH,
    IMPORT_MAX_BYTES,
    IMPORT_PROFILE_MAX_BYTES,
    SERVICE,
    encode,
)
from core.model import JSON


def _import_item(profile: Mapping[str, Any]) -> JSON:
    """A profile resource for an import job from attributes (or an already built resource)."""
    if "attributes" in profile and isinstance(profile["attributes"], Mapping):
        item: JSON = {"type": "profile", "attributes": dict(profile["attributes"])}
        if profile.get("id"):
            item["id"] = profile["id"]
        if isinstance(profile.get("meta"), Mapping):
            item["meta"] = dict(profile["meta"])
        return item
    return {"type": "profile", "attributes": dict(profile)}


@dataclass(frozen=True)
class ImportJob:
    """One profile-bulk-import-jobs request: its profiles, each JSON-encoded once, and the lists
    every imported profile joins."""

    profiles: tuple[bytes, ...]
    list_ids: tuple[str, ...] = ()

    def without(self, index: int) -> ImportJob:
        """The same job less the profile at `index` (one the API refused by its pointer)."""
        return replace(self, profiles=self.profiles[:index] + self.profiles[index + 1:])

    def body(self) -> bytes:
        """The request body, joined from the encoded profiles rather than encoded again."""
        lists = b""
        if self.list_ids:
            lists = b',"relationships":' + encode(
                {"lists": {"data": [{"type": "list", "id": lid} for lid in self.list_ids]}})
        return (b'{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
                + b",".join(self.profiles) + b"]}}" + lists + b"}}")


def import_jobs(profiles: Sequence[Mapping[str, Any]], list_ids: Sequence[str] = ()
                ) -> list[ImportJob]:
    """Split into jobs of at most 10,000 profiles and 5 MB; a profile over 100 KB is refused."""
    lists = tuple(dict.fromkeys(list_ids))
    envelope = len(ImportJob((), lists).body())
    jobs: list[ImportJob] = []
    current: list[bytes] = []
    size = envelope
    for index, profile in enumerate(profiles):
        item = encode(_import_item(profile))
        if len(item) > IMPORT_PROFILE_MAX_BYTES:
            raise ApiError(
                SERVICE, code="payload_too_large", local=True, pointer=f"profiles[{index}]",
                detail=f"profile {index} is {len(item):,} bytes; Klaviyo accepts at most "
                f"{IMPORT_PROFILE_MAX_BYTES:,} per profile",
            )
        if current and (len(current) >= IMPORT_BATCH or size + len(item) + 1 > IMPORT_MAX_BYTES):
            jobs.append(ImportJob(tuple(current), lists))
            current, size = [], envelope
        current.append(item)
        size += len(item) + 1
    if current:
        jobs.append(ImportJob(tuple(current), lists))
    return jobs


_STATUS_ORDER = ("queued", "processing", "cancelled", "complete")


_COUNTS = ("total_count", "completed_count", "failed_count")


def job_counts(job: Mapping[str, Any]) -> dict[str, int]:
    """A job's counts as integers; ValueError names what is garbled."""
    attributes = job.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ValueError(f"attributes must be an object, got {type(attributes).__name__}")
    counts = {}
    for key in _COUNTS:
        raw = attributes.get(key) or 0
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError(f"{key} must be a number, got {type(raw).__name__}")
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {str(raw)[:40]!r}") from None
        if not math.isfinite(number) or number < 0 or number != int(number):
            raise ValueError(f"{key} must be a whole number of profiles, got {str(raw)[:40]!r}")
        counts[key] = int(number)
    for key in ("status", "created_at", "completed_at"):
        value = attributes.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} must be text, got {type(value).__name__}")
    return counts


def combine_jobs(job_id: str, jobs: Sequence[Mapping[str, Any]]) -> JSON:
    """One job resource summing several: counts add up, the least finished status wins."""
    attrs = [j.get("attributes") or {} for j in jobs]
    statuses = [str(a.get("status") or "queued") for a in attrs]
    status = min(
        statuses, key=lambda s: _STATUS_ORDER.index(s) if s in _STATUS_ORDER else 0
    )

    counts = [job_counts(j) for j in jobs]

    def total(key: str) -> int:
        return sum(c[key] for c in counts)

    return {
        "type": "profile-bulk-import-job",
        "id": job_id,
        "attributes": {
            "status": status,
            "total_count": total("total_count"),
            "completed_count": total("completed_count"),
            "failed_count": total("failed_count"),
            "created_at": min((str(a.get("created_at")) for a in attrs if a.get("created_at")),
                              default=None),
            "completed_at": None if status != "complete" else max(
                (str(a.get("completed_at")) for a in attrs if a.get("completed_at")),
                default=None),
        },
        "jobs": [dict(j) for j in jobs],
    }
