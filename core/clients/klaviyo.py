"""Klaviyo's REST API (JSON:API, pinned revision) as typed async calls the engine needs."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from core.clients.errors import ApiError, malformed
from core.clients.http import ApiSession, RetryPolicy, SessionClient
from core.clients.limiter import BucketSpec, Clock, Limiter, Sleep
from core.model import JSON, Channel, KlaviyoList, OptIn, Profile, ProfileDataError

__all__ = ["BUCKETS", "ConsentSubject", "KlaviyoClient"]

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
# page[size] maximum of GET /api/profiles and of list-member reads; also caps an any() filter.
PAGE_MAX = 100
# Klaviyo caps a request at 5 MB and a profile at 100 KB; stay a little under both.
IMPORT_MAX_BYTES = 5_000_000
IMPORT_PROFILE_MAX_BYTES = 100_000
_MAX_PAGES = 10_000


@dataclass(frozen=True, slots=True)
class ConsentSubject:
    """Who a subscription job is about: identifiers, and the profile id when known."""

    email: str | None
    phone_number: str | None
    profile_id: str | None = None


def filter_string(value: str) -> str:
    """A double-quoted filter literal with backslashes and quotes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _encode(document: JSON) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _list_from_api(resource: Any) -> KlaviyoList | None:
    if not isinstance(resource, Mapping) or not resource.get("id"):
        return None
    attributes = resource.get("attributes") or {}
    raw = attributes.get("opt_in_process") if isinstance(attributes, Mapping) else None
    # An unset opt-in process means the account default, which Klaviyo ships as double
    # opt-in: assuming double makes the consent guard warn instead of missing an email.
    opt_in = OptIn.SINGLE if raw == OptIn.SINGLE.value else OptIn.DOUBLE
    name = attributes.get("name") if isinstance(attributes, Mapping) else None
    return KlaviyoList(id=str(resource["id"]), name=str(name or ""), opt_in_process=opt_in)


def _read_profile(resource: Any, response: httpx.Response) -> Profile:
    """A profile resource as a Profile; a garbled one is the server's fault, not the caller's."""
    try:
        return Profile.from_api(resource)
    except ProfileDataError as exc:
        raise malformed(SERVICE, response, str(exc)) from None


def _next_cursor(document: Any) -> str | None:
    """The page[cursor] of `links.next` (a full URL), or None on the last page."""
    links = document.get("links") if isinstance(document, Mapping) else None
    nxt = links.get("next") if isinstance(links, Mapping) else None
    if not isinstance(nxt, str) or not nxt:
        return None
    query = parse_qs(urlsplit(nxt).query)
    values = query.get("page[cursor]")
    return values[0] if values else None


class KlaviyoClient(SessionClient):
    """Async Klaviyo client: typed calls, retries, pacing per endpoint bucket, no secret leaks."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://a.klaviyo.com",
        revision: str = "2026-07-15",
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        rate_scale: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        limiter: bool = True,
    ) -> None:
        if not api_key or not api_key.isascii() or not api_key.isprintable() or " " in api_key:
            raise ValueError(
                "the Klaviyo API key must be a non-empty private key without spaces "
                "(set KLAVIYO_API_KEY)"
            )
        self.revision = revision
        self.rate_scale = rate_scale
        self._lists_by_name: dict[str, KlaviyoList] = {}
        self._session = ApiSession(
            SERVICE,
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Klaviyo-API-Key {api_key}",
                "revision": revision,
                "Accept": MEDIA_TYPE,
                "Content-Type": MEDIA_TYPE,
            },
            secrets=(api_key,),
            limiter=Limiter(
                BUCKETS if limiter else {}, rate_scale=rate_scale, clock=clock, sleep=sleep
            ),
            transport=transport,
            retry=retry,
            timeout=timeout,
            clock=clock,
            sleep=sleep,
            rand=rand,
        )

    def __repr__(self) -> str:
        return f"KlaviyoClient(revision={self.revision!r})"

    async def room(self, *buckets: str) -> None:
        """Wait until these buckets (BUCKETS keys) could send now, without taking a slot."""
        await self._session.limiter.room(buckets)

    # ---- profiles -------------------------------------------------------------------------

    async def get_profile(self, profile_id: str, *, include_lists: bool = True) -> Profile | None:
        """The profile with consent (and list ids unless include_lists=False); None on 404."""
        params = {"additional-fields[profile]": "subscriptions"}
        buckets = [GET_PROFILE]
        if include_lists:
            # include=lists has its own 1/s, 15/m bucket on top of the endpoint's.
            params["include"] = "lists"
            buckets.append(GET_PROFILE_LISTS_INCLUDED)
        response = await self._session.request(
            "GET", f"/api/profiles/{profile_id}", buckets=buckets, params=params, ok={404},
            parse=True,
        )
        if response.status_code == 404:
            return None
        return self._profile(response)

    async def find_profile_by_email(self, email: str) -> Profile | None:
        """The profile whose email equals this one, with consent; None when there is none."""
        return await self._find_profile("email", email)

    async def find_profile_by_phone(self, phone_e164: str) -> Profile | None:
        """The profile whose phone_number equals this E.164 number, with consent."""
        return await self._find_profile("phone_number", phone_e164)

    async def _find_profile(self, field: str, value: str) -> Profile | None:
        params = {
            "filter": f"equals({field},{filter_string(value)})",
            "additional-fields[profile]": "subscriptions",
        }
        response = await self._session.request(
            "GET", "/api/profiles", buckets=[GET_PROFILES], params=params, parse=True
        )
        document = self._session.json(response)
        data = document.get("data") if isinstance(document, Mapping) else None
        if not isinstance(data, list):
            raise malformed(SERVICE, response, "profile search answered without a data list")
        for resource in data:
            if isinstance(resource, Mapping) and resource.get("id"):
                return _read_profile(resource, response)
        return None

    async def find_profiles(self, field: str, values: Sequence[str]) -> list[Profile]:
        """Profiles whose `field` (id, email, phone_number) is any of these, with consent.

        One request per 100 values: the batch path coalesces many customers' lookups here.
        """
        found: list[Profile] = []
        for chunk in _chunks(list(dict.fromkeys(values)), PAGE_MAX):
            listed = ",".join(filter_string(value) for value in chunk)
            params = {
                "filter": f"any({field},[{listed}])",
                "additional-fields[profile]": "subscriptions",
                "page[size]": str(PAGE_MAX),
            }
            async for resource, response in self._pages_with("/api/profiles", GET_PROFILES,
                                                             params):
                if isinstance(resource, Mapping) and resource.get("id"):
                    found.append(_read_profile(resource, response))
        return found

    async def suppressed_profiles(self, reason: str) -> list[Profile]:
        """Profiles whose email marketing is suppressed for this reason (e.g. UNSUBSCRIBE),
        page by page, with consent: the few a bulk sync's consent guard must know about."""
        params = {
            "filter": f"equals(subscriptions.email.marketing.suppression.reason,"
                      f"{filter_string(reason)})",
            "additional-fields[profile]": "subscriptions",
            "page[size]": str(PAGE_MAX),
        }
        found: list[Profile] = []
        async for resource, response in self._pages_with("/api/profiles", GET_PROFILES, params):
            if isinstance(resource, Mapping) and resource.get("id"):
                found.append(_read_profile(resource, response))
        return found

    async def create_profile(self, attributes: JSON) -> Profile:
        """POST a new profile; a duplicate raises ApiError 409 with duplicate_profile_id."""
        body = _encode({"data": {"type": "profile", "attributes": dict(attributes)}})
        response = await self._session.request(
            "POST", "/api/profiles", buckets=[CREATE_PROFILE], body=body,
            params={"additional-fields[profile]": "subscriptions"}, parse=True,
        )
        return self._profile(response)

    async def patch_profile(self, profile_id: str, attributes: JSON) -> Profile:
        """Partial update: omitted attributes are kept, null ones cleared."""
        body = _encode(
            {"data": {"type": "profile", "id": profile_id, "attributes": dict(attributes)}}
        )
        response = await self._session.request(
            "PATCH", f"/api/profiles/{profile_id}", buckets=[UPDATE_PROFILE], body=body,
            params={"additional-fields[profile]": "subscriptions"}, parse=True,
        )
        return self._profile(response)

    def _profile(self, response: httpx.Response) -> Profile:
        document = self._session.json(response)
        data = document.get("data") if isinstance(document, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("id"):
            raise malformed(SERVICE, response, "profile response has no data.id")
        profile = _read_profile(data, response)
        dropped = response.headers.get("X-Klaviyo-Partial-Failure")
        if dropped:
            fields = tuple(part.strip() for part in dropped.split(",") if part.strip())
            profile = _with_partial_failure(profile, fields)
        return profile

    # ---- consent --------------------------------------------------------------------------

    async def subscribe(
        self,
        subjects: Sequence[ConsentSubject],
        *,
        channels: Collection[Channel],
        list_id: str | None = None,
        custom_source: str | None = None,
    ) -> None:
        """Marketing consent SUBSCRIBED per channel; the list's opt-in process decides DOI."""
        for chunk in _chunks(subjects, SUBSCRIBE_BATCH):
            body = subscribe_body(chunk, channels, list_id, custom_source=custom_source)
            await self._session.request(
                "POST", "/api/profile-subscription-bulk-create-jobs", buckets=[SUBSCRIBE],
                body=_encode(body),
            )

    async def unsubscribe(
        self,
        subjects: Sequence[ConsentSubject],
        *,
        channels: Collection[Channel],
        list_id: str | None = None,
    ) -> None:
        """Marketing consent UNSUBSCRIBED per channel (global unless a list is given)."""
        for chunk in _chunks(subjects, UNSUBSCRIBE_BATCH):
            body = unsubscribe_body(chunk, channels, list_id)
            await self._session.request(
                "POST", "/api/profile-subscription-bulk-delete-jobs", buckets=[UNSUBSCRIBE],
                body=_encode(body),
            )

    # ---- lists ----------------------------------------------------------------------------

    async def add_to_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Add members without touching consent (1000 per call)."""
        await self._members("POST", ADD_MEMBERS, list_id, profile_ids)

    async def remove_from_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        """Remove members without touching consent (1000 per call)."""
        await self._members("DELETE", REMOVE_MEMBERS, list_id, profile_ids)

    async def _members(
        self, method: str, bucket: str, list_id: str, profile_ids: Sequence[str]
    ) -> None:
        for chunk in _chunks(list(dict.fromkeys(profile_ids)), LIST_BATCH):
            body = {"data": [{"type": "profile", "id": pid} for pid in chunk]}
            await self._session.request(
                method, f"/api/lists/{list_id}/relationships/profiles", buckets=[bucket],
                body=_encode(body),
            )

    async def find_list_by_name(self, name: str) -> KlaviyoList | None:
        """The list with exactly this name (found lists are cached per client)."""
        cached = self._lists_by_name.get(name)
        if cached is not None:
            return cached
        params = {"filter": f"equals(name,{filter_string(name)})"}
        found: KlaviyoList | None = None
        async for resource in self._pages("/api/lists", GET_LISTS, params):
            item = _list_from_api(resource)
            if item is not None and item.name == name:
                found = item
                break
        if found is not None:
            # Only hits are cached: a list created later must still be found.
            self._lists_by_name[name] = found
        return found

    def forget_list(self, name: str) -> None:
        """Drop a cached list (its id answered 404), so the next find asks Klaviyo again."""
        self._lists_by_name.pop(name, None)

    async def list_member_ids(
        self, list_id: str, *, email: str | None = None, phone_number: str | None = None
    ) -> frozenset[str]:
        """Ids of the list's members with this email (or phone): a list-side membership check.

        L tier (75/s, 750/m), unlike GET /api/profiles/{id}?include=lists (1/s, 15/m).
        """
        if email:
            params = {"filter": f"equals(email,{filter_string(email)})"}
        elif phone_number:
            params = {"filter": f"equals(phone_number,{filter_string(phone_number)})"}
        else:
            raise ValueError("a list membership check needs an email or a phone number")
        params["page[size]"] = str(PAGE_MAX)
        ids: set[str] = set()
        path = f"/api/lists/{list_id}/relationships/profiles"
        async for resource in self._pages(path, LIST_MEMBER_IDS, params):
            if isinstance(resource, Mapping) and resource.get("id"):
                ids.add(str(resource["id"]))
        return frozenset(ids)

    async def profile_lists(self, profile_id: str) -> list[KlaviyoList]:
        """Every list the profile belongs to."""
        lists = []
        async for resource in self._pages(f"/api/profiles/{profile_id}/lists", PROFILE_LISTS, {}):
            item = _list_from_api(resource)
            if item is not None:
                lists.append(item)
        return lists

    async def _pages(self, path: str, bucket: str, params: Mapping[str, str]) -> Any:
        """Each resource of a cursor-paged collection, following links.next."""
        async for resource, _response in self._pages_with(path, bucket, params):
            yield resource

    async def _pages_with(self, path: str, bucket: str, params: Mapping[str, str]) -> Any:
        """Each resource of a cursor-paged collection with the response it came in."""
        query = dict(params)
        for _ in range(_MAX_PAGES):
            response = await self._session.request(
                "GET", path, buckets=[bucket], params=query, parse=True
            )
            document = self._session.json(response)
            data = document.get("data") if isinstance(document, Mapping) else None
            if not isinstance(data, list):
                raise malformed(SERVICE, response, f"{path} answered without a data list")
            for resource in data:
                yield resource, response
            cursor = _next_cursor(document)
            if cursor is None or cursor == query.get("page[cursor]"):
                return
            query["page[cursor]"] = cursor

    # ---- bulk import ----------------------------------------------------------------------

    async def bulk_import(self, profiles: Sequence[JSON], *, list_id: str | None = None,
                          list_ids: Sequence[str] = ()) -> str:
        """Start import jobs (10,000 profiles / 5 MB each); returns the job id.

        When the profiles need more than one job, the returned id joins the job ids with
        commas; get_import_job and import_errors accept such an id and combine the jobs.
        """
        lists = [*([list_id] if list_id else []), *list_ids]
        job_ids = [await self.submit_import(job) for job in import_jobs(profiles, lists)]
        if not job_ids:
            raise ApiError(SERVICE, code="empty_import", detail="no profiles to import", local=True)
        return ",".join(job_ids)

    async def submit_import(self, job: ImportJob) -> str:
        """Start one import job as split by import_jobs; returns its id."""
        response = await self._session.request(
            "POST", "/api/profile-bulk-import-jobs", buckets=[BULK_IMPORT],
            body=job.body(), parse=True,
        )
        document = self._session.json(response)
        data = document.get("data") if isinstance(document, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("id"):
            raise malformed(SERVICE, response, "import job response has no data.id")
        return str(data["id"])

    async def get_import_job(self, job_id: str) -> JSON:
        """The job resource (status, total/completed/failed counts); combined for joined ids."""
        jobs = []
        for single in job_id.split(","):
            response = await self._session.request(
                "GET", f"/api/profile-bulk-import-jobs/{single}", buckets=[BULK_IMPORT_GET],
                parse=True,
            )
            document = self._session.json(response)
            data = document.get("data") if isinstance(document, Mapping) else None
            if not isinstance(data, Mapping):
                raise malformed(SERVICE, response, "import job response has no data")
            if "," in job_id:
                # Combining needs readable attributes and counts; a single job is passed on.
                try:
                    _job_counts(data)
                except ValueError as exc:
                    raise malformed(SERVICE, response, f"import job {single}: {exc}") from None
            jobs.append(dict(data))
        return jobs[0] if len(jobs) == 1 else combine_jobs(job_id, jobs)

    async def import_errors(self, job_id: str) -> list[JSON]:
        """Every import-error resource of the job(s), all pages."""
        errors: list[JSON] = []
        for single in job_id.split(","):
            path = f"/api/profile-bulk-import-jobs/{single}/import-errors"
            async for resource in self._pages(path, BULK_IMPORT_ERRORS, {}):
                if isinstance(resource, Mapping):
                    errors.append(dict(resource))
        return errors


def _with_partial_failure(profile: Profile, fields: tuple[str, ...]) -> Profile:
    return replace(profile, partial_failure=fields)


def _consent_profile(
    subject: ConsentSubject, channels: Collection[Channel], consent: str, *, with_id: bool
) -> JSON:
    subscriptions: JSON = {}
    attributes: JSON = {}
    if Channel.EMAIL in channels and subject.email:
        attributes["email"] = subject.email
        subscriptions["email"] = {"marketing": {"consent": consent}}
    if Channel.SMS in channels and subject.phone_number:
        attributes["phone_number"] = subject.phone_number
        subscriptions["sms"] = {"marketing": {"consent": consent}}
    if not subscriptions:
        wanted = " or ".join(sorted(c.value for c in channels)) or "no channel"
        raise ValueError(
            f"consent subject {subject.profile_id or '(no profile id)'} has no identifier "
            f"for {wanted}: give an email for the email channel, a phone for sms"
        )
    attributes["subscriptions"] = subscriptions
    item: JSON = {"type": "profile", "attributes": attributes}
    if with_id and subject.profile_id:
        item["id"] = subject.profile_id
    return item


def _list_relationship(list_id: str | None) -> JSON:
    return {"relationships": {"list": {"data": {"type": "list", "id": list_id}}}} if list_id else {}


def subscribe_body(
    subjects: Sequence[ConsentSubject],
    channels: Collection[Channel],
    list_id: str | None,
    *,
    custom_source: str | None = None,
) -> JSON:
    """The profile-subscription-bulk-create-job document."""
    attributes: JSON = {
        "profiles": {
            "data": [_consent_profile(s, channels, "SUBSCRIBED", with_id=True) for s in subjects]
        }
    }
    if custom_source:
        attributes["custom_source"] = custom_source
    return {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": attributes,
            **_list_relationship(list_id),
        }
    }


def unsubscribe_body(
    subjects: Sequence[ConsentSubject], channels: Collection[Channel], list_id: str | None
) -> JSON:
    """The profile-subscription-bulk-delete-job document (no profile ids in this schema)."""
    profiles = [_consent_profile(s, channels, "UNSUBSCRIBED", with_id=False) for s in subjects]
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": profiles}},
            **_list_relationship(list_id),
        }
    }


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
            lists = b',"relationships":' + _encode(
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
        item = _encode(_import_item(profile))
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


def _job_counts(job: Mapping[str, Any]) -> dict[str, int]:
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

    counts = [_job_counts(j) for j in jobs]

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
