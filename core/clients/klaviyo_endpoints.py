"""Klaviyo's endpoints as the client uses them: rate-limit buckets, batch sizes, byte caps."""

from __future__ import annotations

import json

from core.clients.limiter import BucketSpec
from core.model import JSON

SERVICE = "klaviyo"
MEDIA_TYPE = "application/vnd.api+json"

# Per-endpoint buckets with the 2026-07-15 `x-klaviyo-ratelimit` figures (reference §8).
GET_PROFILE = "GET /api/profiles/{id}"
GET_PROFILE_LISTS_INCLUDED = "GET /api/profiles/{id}?include=lists"
GET_PROFILES = "GET /api/profiles"
CREATE_PROFILE = "POST /api/profiles"
UPDATE_PROFILE = "PATCH /api/profiles/{id}"
SUBSCRIBE = "POST /api/profile-subscription-bulk-create-jobs"
UNSUBSCRIBE = "POST /api/profile-subscription-bulk-delete-jobs"
GET_LISTS = "GET /api/lists"
ADD_MEMBERS = "POST /api/lists/{id}/relationships/profiles"
REMOVE_MEMBERS = "DELETE /api/lists/{id}/relationships/profiles"
PROFILE_LISTS = "GET /api/profiles/{id}/lists"
LIST_MEMBER_IDS = "GET /api/lists/{id}/relationships/profiles"
BULK_IMPORT = "POST /api/profile-bulk-import-jobs"
BULK_IMPORT_GET = "GET /api/profile-bulk-import-jobs/{job_id}"
BULK_IMPORT_ERRORS = "GET /api/profile-bulk-import-jobs/{id}/import-errors"

_L, _M, _S, _XS = BucketSpec(75, 750), BucketSpec(10, 150), BucketSpec(3, 60), BucketSpec(1, 15)
BUCKETS: dict[str, BucketSpec] = {
    GET_PROFILE: _L,
    GET_PROFILE_LISTS_INCLUDED: _XS,
    GET_PROFILES: _L,
    CREATE_PROFILE: _L,
    UPDATE_PROFILE: _L,
    SUBSCRIBE: _L,
    UNSUBSCRIBE: _L,
    GET_LISTS: _L,
    ADD_MEMBERS: _M,
    REMOVE_MEMBERS: _M,
    PROFILE_LISTS: _S,
    LIST_MEMBER_IDS: _L,
    BULK_IMPORT: _M,
    BULK_IMPORT_GET: _M,
    BULK_IMPORT_ERRORS: _M,
}

SUBSCRIBE_BATCH = 1000
UNSUBSCRIBE_BATCH = 100
LIST_BATCH = 1000
IMPORT_BATCH = 10_000
# page[size] maximum of GET /api/profiles and of list-member id reads; also caps an any() filter.
PAGE_MAX = 100
# Klaviyo caps a request at 5 MB and a profile at 100 KB; stay a little under both.
IMPORT_MAX_BYTES = 5_000_000
IMPORT_PROFILE_MAX_BYTES = 100_000


def encode(document: JSON) -> bytes:
    """A document as Klaviyo is sent it: compact UTF-8 JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def filter_string(value: str) -> str:
    """A single-quoted filter literal with backslashes and quotes escaped.

    Klaviyo takes either quote; a single one may stand in a URL's query as it is, where a
    double one is sent as %22, so a filter of 100 emails goes out without 200 escapes.
    """
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
