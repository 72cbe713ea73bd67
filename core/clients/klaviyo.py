"""Klaviyo's REST API (JSON:API, pinned revision) as typed async calls the engine needs."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from core.clients.errors import ApiError, malformed
from core.clients.http import ApiSession, RetryPolicy, SessionClient
from core.clients.klaviyo_consent import ConsentSubject, subscribe_body, unsubscribe_body
from core.clients.klaviyo_endpoints import (
    ADD_MEMBERS,
    BUCKETS,
    BULK_IMPORT,
    BULK_IMPORT_ERRORS,
    BULK_IMPORT_GET,
    CREATE_PROFILE,
    GET_LISTS,
    GET_PROFILE,
    GET_PROFILE_LISTS_INCLUDED,
    GET_PROFILES,
    IMPORT_BATCH,
    IMPORT_MAX_BYTES,
    LIST_BATCH,
    MEDIA_TYPE,
    PAGE_MAX,
    PROFILE_LISTS,
    REMOVE_MEMBERS,
    SERVICE,
    SUBSCRIBE,
    SUBSCRIBE_BATCH,
    UNSUBSCRIBE,
    UNSUBSCRIBE_BATCH,
    UPDATE_PROFILE,
    encode,
    filter_string,
)
from core.clients.klaviyo_imports import ImportJob, combine_jobs, import_jobs, job_counts
from core.clients.klaviyo_members import read_list_member_ids
from core.clients.limiter import Clock, Limiter, Sleep
from core.model import JSON, Channel, KlaviyoList, OptIn, Profile, ProfileDataError

# The batch caps, bucket names, ConsentSubject and the import-job helpers are re-exported:
# the engine and the tests import them from here.
__all__ = [
    "ADD_MEMBERS",
    "BUCKETS",
    "GET_PROFILES",
    "IMPORT_BATCH",
    "IMPORT_MAX_BYTES",
    "LIST_BATCH",
    "PAGE_MAX",
    "REMOVE_MEMBERS",
    "SUBSCRIBE",
    "SUBSCRIBE_BATCH",
    "UNSUBSCRIBE",
    "UNSUBSCRIBE_BATCH",
    "ConsentSubject",
    "ImportJob",
    "KlaviyoClient",
    "filter_string",
    "import_jobs",
]

# A cursor-paged read stops here even if the server keeps offering a next page.
_MAX_PAGES = 10_000


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

    async def create_profile(self, attributes: JSON) -> Profile:
        """POST a new profile; a duplicate raises ApiError 409 with duplicate_profile_id."""
        body = encode({"data": {"type": "profile", "attributes": dict(attributes)}})
        response = await self._session.request(
            "POST", "/api/profiles", buckets=[CREATE_PROFILE], body=body,
            params={"additional-fields[profile]": "subscriptions"}, parse=True,
        )
        return self._profile(response)

    async def patch_profile(self, profile_id: str, attributes: JSON, *,
                            unset_properties: Sequence[str] = ()) -> Profile:
        """Partial update: omitted attributes are kept, null ones cleared, `unset_properties`
        removed (meta.patch_properties.unset)."""
        data: JSON = {"type": "profile", "id": profile_id, "attributes": dict(attributes)}
        if unset_properties:
            data["meta"] = {"patch_properties": {"unset": list(unset_properties)}}
        body = encode({"data": data})
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
                body=encode(body),
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
                body=encode(body),
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
                body=encode(body),
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
        self, list_id: str, *, emails: Iterable[str] = (), phone_numbers: Iterable[str] = ()
    ) -> frozenset[str]:
        """Ids of the list's members holding any of these emails or phone numbers.

        GET /api/lists/{id}/relationships/profiles with any(email,[...]) /
        any(phone_number,[...]), 100 identifiers a request, L tier; an unknown list raises
        ApiError 404.
        """
        return await read_list_member_ids(self._pages, list_id, emails, phone_numbers)

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
                    job_counts(data)
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


