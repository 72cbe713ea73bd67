"""KlaviyoEmulator: Klaviyo's REST API (revision 2026-07-15) served from memory through httpx."""

from __future__ import annotations

import base64
import binascii
import bisect
import gzip
import json
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

import httpx

from core.sandbox.klaviyo import imports
from core.sandbox.klaviyo.errors import JSON_API, KlaviyoProblem, invalid, not_found
from core.sandbox.klaviyo.filters import Condition, parse_filter, wanted_values
from core.sandbox.klaviyo.payloads import (
    EMAIL_DETAIL,
    PHONE_DETAIL,
    PROFILE_FIELDS,
    UPSERT_FIELDS,
    check_keys,
    check_type,
    document,
    email_is_valid,
    phone_is_valid,
    profile_attributes,
    profile_meta,
    require_object,
)
from core.sandbox.klaviyo.ratelimit import XS, L, M, RateLimiter, S, Tier, seconds_header
from core.sandbox.klaviyo.resources import list_resource, profile_resource
from core.sandbox.klaviyo.state import OPT_IN, AccountState

JSON = dict[str, Any]
REQUEST_MAX_BYTES = 5 * 1024 * 1024
PROFILE_MAX_BYTES = 100 * 1024
SUBSCRIBE_MAX = 1000
UNSUBSCRIBE_MAX = 100
LIST_MEMBERS_MAX = 1000
IMPORT_MAX = 10_000
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_MEDIA_TYPES = ("application/json", "application/vnd.api+json")
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
_LIST_FILTERS = {
    "name": frozenset({"equals", "any"}),
    "id": frozenset({"equals", "any"}),
    "created": frozenset({"greater-than"}),
    "updated": frozenset({"greater-than"}),
}
# GET /api/lists/{id}/profiles and /relationships/profiles (lists.json x-klaviyo-filters).
_MEMBER_FILTERS = {
    "email": frozenset({"equals", "any"}),
    "phone_number": frozenset({"equals", "any"}),
    "push_token": frozenset({"equals", "any"}),
    "_kx": frozenset({"equals"}),
    "joined_group_at": frozenset(
        {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}
    ),
}
_PROFILE_FIELD_HEADS = frozenset(
    PROFILE_FIELDS
    | {"created", "updated", "last_event_date", "subscriptions", "predictive_analytics"}
)
_LIST_FIELD_NAMES = frozenset({"name", "created", "updated", "opt_in_process", "profile_count"})


@dataclass
class Call:
    """One request as the handlers see it."""

    request: httpx.Request
    ids: list[str]
    query: dict[str, str]
    body: Any
    base: str
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[["KlaviyoEmulator", Call], Awaitable["Reply"]]


@dataclass(frozen=True)
class Route:
    """A path template, the handler per method, and each method's rate-limit bucket."""

    template: tuple[str, ...]
    methods: dict[str, tuple[str, Handler, Tier]]


class Reply(NamedTuple):
    """What a handler answers; the dispatcher turns it into one httpx.Response."""

    status: int
    doc: JSON | None
    headers: dict[str, str] | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}::id::{key}".encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        kind, _, key = raw.split("::", 2)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("The page cursor is not valid.", parameter="page[cursor]") from None
    if kind not in {"next", "prev"} or not key:
        raise invalid("The page cursor is not valid.", parameter="page[cursor]")
    return kind, key


def _csv(call: Call, name: str) -> list[str] | None:
    raw = call.query.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def _page_size(call: Call, *, default: int, maximum: int) -> int:
    raw = call.query.get("page[size]")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= maximum:
        raise invalid(
            f"Page size must be an integer between 1 and {maximum}.", parameter="page[size]"
        )
    return size


def _page(ordered: list[str], call: Call, size: int) -> tuple[list[str], str | None, str | None]:
    """One page of ascending keys plus the next and prev cursors."""
    cursor = call.query.get("page[cursor]")
    start = 0
    if cursor:
        kind, key = _decode_cursor(cursor)
        if kind == "next":
            start = bisect.bisect_right(ordered, key)
        else:
            start = max(0, bisect.bisect_left(ordered, key) - size)
    chunk = ordered[start : start + size]
    nxt = _encode_cursor("next", chunk[-1]) if chunk and start + size < len(ordered) else None
    prev = _encode_cursor("prev", chunk[0]) if chunk and start > 0 else None
    return chunk, nxt, prev


def _links(call: Call, nxt: str | None, prev: str | None) -> JSON:
    path = call.request.url.path
    params = {k: v for k, v in call.query.items() if k != "page[cursor]"}

    def url(cursor: str | None) -> str:
        query = dict(params)
        if cursor:
            query["page[cursor]"] = cursor
        text = urlencode(query)
        return f"{call.base}{path}" + (f"?{text}" if text else "")

    links: JSON = {"self": url(call.query.get("page[cursor]")), "next": None, "prev": None}
    if nxt:
        links["next"] = url(nxt)
    if prev:
        links["prev"] = url(prev)
    return links


class KlaviyoEmulator:
    """An in-memory Klaviyo account behind Klaviyo's real paths, checks, errors and rate limits."""

    def __init__(
        self,
        *,
        api_key: str,
        rate_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the Klaviyo sandbox needs an API key to check requests against")
        self._api_key = api_key
        self._clock = clock
        self._wall = wall_clock or (lambda: datetime.now(UTC))
        self._iso_second = -1
        self._iso_text = ""
        self.rate_scale = rate_scale
        self._limiter = RateLimiter(scale=rate_scale)
        self.state = AccountState(
            now_iso=self._now_iso, epoch_ms=lambda: int(self._wall().timestamp() * 1000),
            rng=rng,
        )

    def __repr__(self) -> str:
        return (
            f"KlaviyoEmulator(profiles={len(self.state.profiles)}, lists={len(self.state.lists)})"
        )

    # ------------------------------------------------------------------ public surface

    @property
    def rate_scale(self) -> float:
        """Multiplier on every rate-limit window and job duration (1 = Klaviyo's real limits)."""
        return self._rate_scale

    @rate_scale.setter
    def rate_scale(self, value: float) -> None:
        self._rate_scale = value
        self._limiter = RateLimiter(scale=value)

    @property
    def outbox(self) -> list[JSON]:
        """Double opt-in emails sent: {to, list_id, list_name, profile_id, at}."""
        return self.state.outbox

    @property
    def changed(self) -> bool:
        """Whether state changed since the flag was last cleared."""
        return self.state.changed

    @changed.setter
    def changed(self, value: bool) -> None:
        self.state.changed = value

    def seed(self, profiles: list[JSON], lists: list[JSON]) -> dict[str, str]:
        """Add design §8 seed profiles and lists; returns seed index -> profile id."""
        return self.state.seed(profiles, lists)

    def dump(self) -> JSON:
        """All state, JSON-able."""
        return self.state.dump()

    def load(self, state: JSON) -> None:
        """Replace all state; jobs left unfinished by the previous run finish now."""
        self.state.load(state)
        imports.advance(self.state, self._clock(), self._now_iso(), finish_all=True)
        self.state.changed = False

    def confirm_consent(self, email: str) -> list[str | None]:
        """The person clicks the double opt-in link; returns the list ids joined."""
        return self.state.confirm_consent(email)

    def profile_id_for_email(self, email: str) -> str | None:
        """The profile owning an email, for operators and tests."""
        return self.state.find_by_email(email)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as Klaviyo would."""
        try:
            return await self._dispatch(request)
        except KlaviyoProblem as problem:
            return problem.response()

    # ------------------------------------------------------------------ plumbing

    def _now_iso(self) -> str:
        moment = self._wall()
        second = int(moment.timestamp())
        if second != self._iso_second:
            # Formatting is the hot spot of bulk seeding; a second-resolution cache removes it.
            self._iso_second, self._iso_text = second, _iso(moment)
        return self._iso_text

    async def _dispatch(self, request: httpx.Request) -> httpx.Response:
        if self.state.jobs:
            imports.advance(self.state, self._clock(), self._now_iso())
        path = request.url.path.rstrip("/")
        parts = tuple(path.split("/")[1:]) if path else ()
        route, ids = _match(parts)
        if route is None:
            raise not_found("Not found.")
        entry = route.methods.get(request.method)
        if entry is None:
            raise KlaviyoProblem(
                405, "method_not_allowed", f'Method "{request.method}" not allowed.'
            )
        op, handler, tier = entry
        self._authenticate(request)
        self._check_revision(request)
        query = dict(
            parse_qsl(request.url.query.decode("ascii", "replace"), keep_blank_values=True)
        )
        verdict = self._limiter.check(self._buckets(op, tier, query), self._clock())
        if not verdict.allowed:
            wait = seconds_header(verdict.retry_after, self.rate_scale)
            raise KlaviyoProblem(
                429,
                "throttled",
                f"Request was throttled. Expected available in {wait} second"
                + ("" if wait == "1" else "s")
                + ".",
                pointer="/data",
                links={
                    "type": "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
                },
                headers={"Retry-After": wait},
            )
        limit_headers = {
            "RateLimit-Limit": str(verdict.limit),
            "RateLimit-Remaining": str(verdict.remaining),
            "RateLimit-Reset": seconds_header(verdict.reset_seconds, self.rate_scale),
        }
        try:
            body = await self._body(request)
            base = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
            call = Call(request, ids, query, body, base)
            reply = await handler(self, call)
        except KlaviyoProblem as problem:
            problem.headers.update(limit_headers)
            raise
        headers = {**limit_headers, **(reply.headers or {}), **call.headers}
        if reply.doc is None:
            return httpx.Response(reply.status, headers=headers)
        headers["Content-Type"] = JSON_API
        return httpx.Response(reply.status, headers=headers, content=json.dumps(reply.doc).encode())

    def _authenticate(self, request: httpx.Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise KlaviyoProblem(
                401,
                "not_authenticated",
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
            )
        scheme, _, key = header.partition(" ")
        if scheme != "Klaviyo-API-Key" or key.strip() != self._api_key:
            # Deliberately silent about the key received: it must never be echoed.
            raise KlaviyoProblem(
                401,
                "authentication_failed",
                "Incorrect authentication credentials.",
                title="Incorrect authentication credentials.",
            )

    @staticmethod
    def _check_revision(request: httpx.Request) -> None:
        revision = request.headers.get("revision")
        if not revision:
            raise invalid(
                "The 'revision' header is required (for example: 2026-07-15).", parameter="revision"
            )
        if not _REVISION.match(revision) or revision[:10] < "2022-10-17":
            raise invalid(
                f"'{revision}' is not a valid revision; use a date such as 2026-07-15.",
                parameter="revision",
            )

    @staticmethod
    def _buckets(op: str, tier: Tier, query: dict[str, str]) -> list[tuple[str, Tier]]:
        buckets = [(op, tier)]
        if "predictive_analytics" in query.get("additional-fields[profile]", ""):
            buckets.append((f"{op}:predictive_analytics", M))
        if "profile_count" in query.get("additional-fields[list]", ""):
            buckets.append((f"{op}:profile_count", XS))
        if op == "get_profile":
            # include=lists / include=segments carry their own 1/s, 15/m limit (the OpenAPI
            # description of get_profile), counted on top of the endpoint's bucket.
            included = {part.strip() for part in query.get("include", "").split(",")}
            for name in sorted(included & {"lists", "segments"}):
                buckets.append((f"{op}:include_{name}", XS))
        return buckets

    @staticmethod
    async def _body(request: httpx.Request) -> Any:
        raw = await request.aread()
        if not raw:
            return None
        encoding = request.headers.get("content-encoding", "identity").lower()
        if encoding == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError:
                raise invalid("The request body is not valid gzip.") from None
        elif encoding != "identity":
            raise KlaviyoProblem(
                415,
                "unsupported_media_type",
                f'Unsupported content encoding "{encoding}" in request.',
            )
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in _MEDIA_TYPES:
            raise KlaviyoProblem(
                415, "unsupported_media_type", f'Unsupported media type "{media}" in request.'
            )
        if len(raw) > REQUEST_MAX_BYTES:
            raise KlaviyoProblem(
                413, "payload_too_large", "The request payload exceeds the maximum size of 5 MB."
            )
        try:
            return json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid(f"JSON parse error - {exc}", pointer="/data") from None
        except RecursionError:
            # A few kilobytes of "[[[[..." exhaust the decoder's stack; still a bad body.
            raise invalid(
                "JSON parse error - the body nests too deeply.", pointer="/data"
            ) from None

    # ------------------------------------------------------------------ shared pieces

    def _profile_or_404(self, pid: str) -> JSON:
        record = self.state.profile(pid)
        if record is None:
            raise not_found(f"A profile with id {pid} does not exist.")
        return record

    def _list_or_404(self, lid: str) -> JSON:
        record = self.state.lists.get(lid)
        if record is None:
            raise not_found(f"A list with id {lid} does not exist.")
        return record

    @staticmethod
    def _profile_view(call: Call) -> tuple[list[str] | None, bool, bool]:
        fields = _csv(call, "fields[profile]")
        for name in fields or []:
            if name.split(".")[0] not in _PROFILE_FIELD_HEADS:
                raise invalid(
                    f"'{name}' is not a valid field for 'fields[profile]'.",
                    parameter="fields[profile]",
                )
        extra = _csv(call, "additional-fields[profile]") or []
        for name in extra:
            if name not in {"subscriptions", "predictive_analytics"}:
                raise invalid(
                    f"'{name}' is not a valid additional field for the resource 'profile'.",
                    parameter="additional-fields[profile]",
                )
        return fields, "subscriptions" in extra, "predictive_analytics" in extra

    @staticmethod
    def _includes(call: Call, allowed: set[str]) -> list[str]:
        names = _csv(call, "include") or []
        for name in names:
            if name not in allowed:
                raise invalid(
                    f"'{name}' is not an allowed include parameter for this resource.",
                    parameter="include",
                )
        return names

    def _profile_doc(self, record: JSON, call: Call, *, include_lists: bool = False) -> JSON:
        fields, subs, predictive = self._profile_view(call)
        list_ids = self.state.lists_of(record["id"]) if include_lists else None
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
                list_resource(self.state.lists[lid], call.base, fields=_csv(call, "fields[list]"))
                for lid in list_ids
            ]
        return doc

    def _profile_body(
        self, call: Call, *, with_id: bool, upsert: bool = False
    ) -> tuple[JSON, JSON]:
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

    @staticmethod
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

    # ------------------------------------------------------------------ profiles

    async def create_profile(self, call: Call) -> Reply:
        """POST /api/profiles."""
        _, attrs = self._profile_body(call, with_id=False)
        self._phone_policy(attrs, call, lenient=True, pointer="/data/attributes/phone_number")
        record = self.state.create_profile(attrs)
        doc = self._profile_doc(record, call)
        return Reply(201, doc, {"Location": doc["data"]["links"]["self"]})

    async def get_profile(self, call: Call) -> Reply:
        """GET /api/profiles/{id}."""
        include = self._includes(call, {"lists", "segments", "push-tokens", "conversations"})
        record = self._profile_or_404(call.ids[0])
        return Reply(200, self._profile_doc(record, call, include_lists="lists" in include))

    async def update_profile(self, call: Call) -> Reply:
        """PATCH /api/profiles/{id}."""
        pid = call.ids[0]
        data, attrs = self._profile_body(call, with_id=True)
        if data["id"] != pid:
            raise KlaviyoProblem(
                409,
                "conflict",
                "The id in the request body does not match the id in the URL.",
                pointer="/data/id",
            )
        self._profile_or_404(pid)
        patch = profile_meta(data.get("meta"), "/data/meta")
        self._phone_policy(attrs, call, lenient=False, pointer="/data/attributes/phone_number")
        record = self.state.update_profile(pid, attrs, patch)
        return Reply(200, self._profile_doc(record, call))

    async def import_profile(self, call: Call) -> Reply:
        """POST /api/profile-import: 201 when created, 200 when an existing profile was updated."""
        data, attrs = self._profile_body(call, with_id=False, upsert=True)
        patch = profile_meta(data.get("meta"), "/data/meta")
        pid = data.get("id")
        if pid is not None and not isinstance(pid, str):
            raise invalid("'id' must be a string or null.", pointer="/data/id")
        self._phone_policy(attrs, call, lenient=False, pointer="/data/attributes/phone_number")
        record, created = self.state.upsert_profile(pid, attrs, patch)
        return Reply(201 if created else 200, self._profile_doc(record, call))

    async def get_profiles(self, call: Call) -> Reply:
        """GET /api/profiles with filter and cursor paging."""
        self._includes(call, {"push-tokens", "conversations"})
        fields, subs, predictive = self._profile_view(call)
        size = _page_size(call, default=20, maximum=100)
        ordered = self._filtered_profiles(call)
        descending = call.query.get("sort", "") in {"-id", "-created"}
        if call.query.get("sort", "id").lstrip("-") not in {"id", "created"}:
            raise invalid("The sandbox sorts profiles by 'id' or 'created' only.", parameter="sort")
        if descending:
            flipped = [_flip(pid) for pid in reversed(ordered)]
            chunk, nxt, prev = _page(flipped, call, size)
            chunk = [_flip(key) for key in chunk]
        else:
            chunk, nxt, prev = _page(ordered, call, size)
        data = [
            profile_resource(
                self.state.profiles[pid],
                call.base,
                fields=fields,
                with_subscriptions=subs,
                with_predictive=predictive,
            )
            for pid in chunk
        ]
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})

    def _filtered_profiles(self, call: Call) -> list[str]:
        text = call.query.get("filter")
        if text is None:
            return self.state.order
        terms = parse_filter(text, _PROFILE_FILTERS)
        candidates: set[str] | None = None
        scans: list[Condition] = []
        for term in terms:
            found = self._index_lookup(term)
            if found is None:
                scans.append(term)
            else:
                candidates = found if candidates is None else candidates & found
        pool = sorted(candidates) if candidates is not None else self.state.order
        for term in scans:
            pool = [pid for pid in pool if _compare(self.state.profiles[pid], term)]
        return pool

    def _index_lookup(self, term: Condition) -> set[str] | None:
        state = self.state
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

    async def get_profile_lists(self, call: Call) -> Reply:
        """GET /api/profiles/{id}/lists."""
        pid = call.ids[0]
        self._profile_or_404(pid)
        fields = _csv(call, "fields[list]")
        data = [
            list_resource(self.state.lists[lid], call.base, fields=fields)
            for lid in self.state.lists_of(pid)
        ]
        return Reply(200, {"data": data, "links": _links(call, None, None)})

    async def get_profile_list_ids(self, call: Call) -> Reply:
        """GET /api/profiles/{id}/relationships/lists."""
        pid = call.ids[0]
        self._profile_or_404(pid)
        data = [{"type": "list", "id": lid} for lid in self.state.lists_of(pid)]
        return Reply(200, {"data": data, "links": _links(call, None, None)})

    # ------------------------------------------------------------------ consent

    def _job_data(self, call: Call, kind: str, maximum: int) -> tuple[JSON, list[Any], str | None]:
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
                list_id = self._related_list(rels["list"], "/data/relationships/list")
        return attrs, items, list_id

    def _related_list(self, rel: Any, pointer: str) -> str:
        target = rel.get("data") if isinstance(rel, dict) else None
        if not isinstance(target, dict):
            raise invalid("'data' is a required field.", pointer=f"{pointer}/data")
        check_type(target, "list", f"{pointer}/data")
        lid = target.get("id")
        if not isinstance(lid, str) or lid not in self.state.lists:
            raise invalid(f"The list with id {lid} does not exist.", pointer=f"{pointer}/data/id")
        return lid

    def _channels(
        self, subs: Any, pointer: str, consent: str, historical: bool
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
                    times[f"{channel}" if channel == "email" else "sms_marketing"] = (
                        self._past_time(at, f"{spot}/consented_at")
                    )
                elif at is not None:
                    raise invalid(
                        "'consented_at' can only be provided when 'historical_import' is true.",
                        pointer=f"{spot}/consented_at",
                    )
                plan[channel][kind] = True
        return plan, times

    def _past_time(self, value: Any, pointer: str) -> str:
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
        if moment > self._wall():
            raise invalid("'consented_at' must be in the past.", pointer=pointer)
        return moment.astimezone(UTC).isoformat()

    def _subject(
        self, item: Any, index: int, call: Call, *, consent: str, historical: bool, allow_id: bool
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
        plan, times = self._channels(
            attrs["subscriptions"], f"{pointer}/attributes/subscriptions", consent, historical
        )
        pid = item.get("id") if allow_id else None
        if pid is not None and (not isinstance(pid, str) or pid not in self.state.profiles):
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
        known = self.state.profiles.get(pid) if pid else None
        known_attrs = known["attributes"] if known else {}
        if "email" in plan and not (email or known_attrs.get("email")):
            raise invalid(
                "'email' must not be empty when the email channel is included in 'subscriptions'.",
                pointer=f"{pointer}/attributes/email",
            )
        if "sms" in plan and not (phone or known_attrs.get("phone_number")):
            raise invalid(
                "'phone_number' must not be empty when the sms channel is included in "
                "'subscriptions'.",
                pointer=f"{pointer}/attributes/phone_number",
            )
        if not (pid or email or phone):
            raise invalid("One or more identifiers is required", pointer=f"{pointer}/attributes")
        return {"id": pid, "email": email, "phone_number": phone, "plan": plan, "times": times}

    def _resolve(self, subject: JSON) -> str:
        """The profile a consent subject names, created when nobody has its identifiers yet."""
        state = self.state
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

    async def subscribe(self, call: Call) -> Reply:
        """POST /api/profile-subscription-bulk-create-jobs: 202, no body."""
        attrs, items, list_id = self._job_data(
            call, "profile-subscription-bulk-create-job", SUBSCRIBE_MAX
        )
        historical = attrs.get("historical_import")
        if historical is not None and not isinstance(historical, bool):
            raise invalid(
                "'historical_import' must be a boolean.",
                pointer="/data/attributes/historical_import",
            )
        source = attrs.get("custom_source")
        if source is not None and not isinstance(source, str):
            raise invalid(
                "'custom_source' must be a string.", pointer="/data/attributes/custom_source"
            )
        subjects = [
            self._subject(
                item, n, call, consent="SUBSCRIBED", historical=bool(historical), allow_id=True
            )
            for n, item in enumerate(items)
        ]
        for subject in subjects:
            pid = self._resolve(subject)
            self.state.subscribe(
                pid,
                subject["plan"],
                list_id=list_id,
                custom_source=source,
                historical=subject["times"] if historical else None,
            )
        return Reply(202, None)

    async def unsubscribe(self, call: Call) -> Reply:
        """POST /api/profile-subscription-bulk-delete-jobs: 202, no body."""
        _, items, list_id = self._job_data(
            call, "profile-subscription-bulk-delete-job", UNSUBSCRIBE_MAX
        )
        subjects = [
            self._subject(item, n, call, consent="UNSUBSCRIBED", historical=False, allow_id=False)
            for n, item in enumerate(items)
        ]
        for subject in subjects:
            pid = self._resolve(subject)
            self.state.unsubscribe(pid, subject["plan"], list_id=list_id)
        return Reply(202, None)

    # ------------------------------------------------------------------ lists

    async def get_lists(self, call: Call) -> Reply:
        """GET /api/lists (10 per page)."""
        size = _page_size(call, default=10, maximum=10)
        fields = _csv(call, "fields[list]")
        for name in fields or []:
            if name not in _LIST_FIELD_NAMES - {"profile_count"}:
                raise invalid(
                    f"'{name}' is not a valid field for 'fields[list]'.", parameter="fields[list]"
                )
        records = list(self.state.lists.values())
        text = call.query.get("filter")
        if text is not None:
            for term in parse_filter(text, _LIST_FILTERS):
                records = [r for r in records if _list_matches(r, term)]
        # Cursor keys must sort like the page order, so pages are keyed by position.
        keys = [f"{n:08d}" for n in range(len(records))]
        chunk, nxt, prev = _page(keys, call, size)
        data = [list_resource(records[int(key)], call.base, fields=fields) for key in chunk]
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})

    async def get_list(self, call: Call) -> Reply:
        """GET /api/lists/{id}."""
        record = self._list_or_404(call.ids[0])
        extra = _csv(call, "additional-fields[list]") or []
        for name in extra:
            if name != "profile_count":
                raise invalid(
                    f"'{name}' is not a valid additional field for the resource 'list'.",
                    parameter="additional-fields[list]",
                )
        count = len(self.state.members[record["id"]]) if extra else None
        data = list_resource(
            record, call.base, fields=_csv(call, "fields[list]"), profile_count=count
        )
        return Reply(200, {"data": data, "links": {"self": data["links"]["self"]}})

    async def create_list(self, call: Call) -> Reply:
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
        record = self.state.create_list(name, opt_in)
        data_out = list_resource(record, call.base)
        return Reply(
            201,
            {"data": data_out, "links": {"self": data_out["links"]["self"]}},
            {"Location": data_out["links"]["self"]},
        )

    async def get_list_profiles(self, call: Call) -> Reply:
        """GET /api/lists/{id}/profiles."""
        lid = call.ids[0]
        self._list_or_404(lid)
        fields, subs, predictive = self._profile_view(call)
        size = _page_size(call, default=20, maximum=100)
        chunk, nxt, prev = _page(self._filtered_members(call, lid), call, size)
        joined = self.state.members[lid]
        data = []
        for pid in chunk:
            resource = profile_resource(
                self.state.profiles[pid],
                call.base,
                fields=fields,
                with_subscriptions=subs,
                with_predictive=predictive,
            )
            # The list-members view carries when the profile joined (a required date-time).
            if fields is None or "joined_group_at" in fields:
                resource["attributes"]["joined_group_at"] = joined[pid]
            data.append(resource)
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})

    async def get_list_profile_ids(self, call: Call) -> Reply:
        """GET /api/lists/{id}/relationships/profiles."""
        lid = call.ids[0]
        self._list_or_404(lid)
        size = _page_size(call, default=20, maximum=100)
        chunk, nxt, prev = _page(self._filtered_members(call, lid), call, size)
        data = [{"type": "profile", "id": pid} for pid in chunk]
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})

    def _filtered_members(self, call: Call, lid: str) -> list[str]:
        """Member ids of a list, ascending, narrowed by the `filter` the member reads accept."""
        members = self.state.members[lid]
        text = call.query.get("filter")
        if text is None:
            return sorted(members)
        pool = set(members)
        for term in parse_filter(text, _MEMBER_FILTERS):
            if term.field in {"email", "phone_number"}:
                pool &= self._index_lookup(term) or set()
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

    def _member_ids(self, call: Call) -> tuple[str, list[str]]:
        lid = call.ids[0]
        self._list_or_404(lid)
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
                raise invalid(
                    "Each entry must be a profile identifier object.", pointer=f"/data/{n}"
                )
            check_keys(item, ("type", "id"), f"/data/{n}", "profile")
            check_type(item, "profile", f"/data/{n}")
            pid = item.get("id")
            if not isinstance(pid, str) or pid not in self.state.profiles:
                raise invalid(f"A profile with id {pid} does not exist.", pointer=f"/data/{n}/id")
            ids.append(pid)
        return lid, ids

    async def add_list_members(self, call: Call) -> Reply:
        """POST /api/lists/{id}/relationships/profiles: 204, consent untouched."""
        lid, ids = self._member_ids(call)
        for pid in ids:
            self.state.add_member(lid, pid)
        return Reply(204, None)

    async def remove_list_members(self, call: Call) -> Reply:
        """DELETE /api/lists/{id}/relationships/profiles: 204, consent untouched."""
        lid, ids = self._member_ids(call)
        for pid in ids:
            self.state.remove_member(lid, pid)
        return Reply(204, None)

    # ------------------------------------------------------------------ bulk import

    async def create_import_job(self, call: Call) -> Reply:
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
                list_ids.append(
                    self._related_list({"data": target}, f"/data/relationships/lists/{n}")
                )
        now = self._wall()
        job = imports.submit(
            self.state,
            self.state.ids.next(int(now.timestamp() * 1000)),
            rows,
            list_ids,
            created_at=_iso(now),
            expires_at=_iso(now + timedelta(days=7)),
            now=self._clock(),
            scale=self.rate_scale,
        )
        resource = imports.job_resource(job, call.base)
        return Reply(202, {"data": resource, "links": {"self": resource["links"]["self"]}})

    def _job_or_404(self, jid: str) -> JSON:
        job = self.state.jobs.get(jid)
        if job is None:
            raise not_found(f"A profile bulk import job with id {jid} does not exist.")
        return job

    async def get_import_job(self, call: Call) -> Reply:
        """GET /api/profile-bulk-import-jobs/{job_id}."""
        resource = imports.job_resource(self._job_or_404(call.ids[0]), call.base)
        doc: JSON = {"data": resource, "links": {"self": resource["links"]["self"]}}
        if "lists" in self._includes(call, {"lists"}):
            doc["included"] = [
                list_resource(self.state.lists[lid], call.base)
                for lid in self.state.jobs[call.ids[0]]["list_ids"]
                if lid in self.state.lists
            ]
        return Reply(200, doc)

    async def get_import_jobs(self, call: Call) -> Reply:
        """GET /api/profile-bulk-import-jobs."""
        size = _page_size(call, default=20, maximum=100)
        chunk, nxt, prev = _page(sorted(self.state.jobs), call, size)
        data = [imports.job_resource(self.state.jobs[jid], call.base) for jid in chunk]
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})

    async def get_import_errors(self, call: Call) -> Reply:
        """GET /api/profile-bulk-import-jobs/{id}/import-errors (cursor-paged)."""
        job = self._job_or_404(call.ids[0])
        size = _page_size(call, default=20, maximum=100)
        errors = job["errors"] if job["status"] == "complete" else []
        keys = [f"{n:08d}" for n in range(len(errors))]
        chunk, nxt, prev = _page(keys, call, size)
        return Reply(
            200, {"data": [errors[int(k)] for k in chunk], "links": _links(call, nxt, prev)}
        )

    async def get_import_profile_ids(self, call: Call) -> Reply:
        """GET /api/profile-bulk-import-jobs/{id}/relationships/profiles."""
        job = self._job_or_404(call.ids[0])
        size = _page_size(call, default=20, maximum=100)
        chunk, nxt, prev = _page(sorted(job["profile_ids"]), call, size)
        data = [{"type": "profile", "id": pid} for pid in chunk]
        return Reply(200, {"data": data, "links": _links(call, nxt, prev)})


def _schema_only(attrs: JSON, pointer: str) -> None:
    """Schema checks for an import row; bad emails and phones become row errors instead."""
    probe = dict(attrs)
    probe.pop("email", None)
    profile_attributes(probe, pointer, allowed=UPSERT_FIELDS)
    if attrs.get("email") is not None and not isinstance(attrs["email"], str):
        raise invalid("'email' must be a string or null.", pointer=f"{pointer}/email")


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity, JSON has neither: stored, they would make every later
    # answer about the profile unreadable to a strict client.
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


_FLIP = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "ZYXWVTSRQPNMKJHGFEDCBA9876543210")


def _flip(pid: str) -> str:
    """Reverse a ULID's sort order so descending pages can reuse the ascending cursor logic."""
    return pid.translate(_FLIP)


def _compare(record: JSON, term: Condition) -> bool:
    stamp = datetime.fromisoformat(record[term.field])
    target: datetime = term.value
    if target.tzinfo is None:
        target = target.replace(tzinfo=UTC)
    return stamp > target if term.op == "greater-than" else stamp < target


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


def _match(parts: tuple[str, ...]) -> tuple[Route | None, list[str]]:
    for route in ROUTES:
        if len(route.template) != len(parts):
            continue
        ids: list[str] = []
        for want, got in zip(route.template, parts, strict=True):
            if want == "{}":
                ids.append(got)
            elif want != got:
                break
        else:
            return route, ids
    return None, []


E = KlaviyoEmulator
ROUTES: tuple[Route, ...] = (
    Route(
        ("api", "profiles"),
        {
            "GET": ("get_profiles", E.get_profiles, L),
            "POST": ("create_profile", E.create_profile, L),
        },
    ),
    Route(
        ("api", "profiles", "{}"),
        {
            "GET": ("get_profile", E.get_profile, L),
            "PATCH": ("update_profile", E.update_profile, L),
        },
    ),
    Route(
        ("api", "profiles", "{}", "lists"), {"GET": ("get_profile_lists", E.get_profile_lists, S)}
    ),
    Route(
        ("api", "profiles", "{}", "relationships", "lists"),
        {"GET": ("get_profile_list_ids", E.get_profile_list_ids, S)},
    ),
    Route(("api", "profile-import"), {"POST": ("create_or_update_profile", E.import_profile, L)}),
    Route(
        ("api", "profile-subscription-bulk-create-jobs"), {"POST": ("subscribe", E.subscribe, L)}
    ),
    Route(
        ("api", "profile-subscription-bulk-delete-jobs"),
        {"POST": ("unsubscribe", E.unsubscribe, L)},
    ),
    Route(
        ("api", "lists"),
        {"GET": ("get_lists", E.get_lists, L), "POST": ("create_list", E.create_list, M)},
    ),
    Route(("api", "lists", "{}"), {"GET": ("get_list", E.get_list, L)}),
    Route(
        ("api", "lists", "{}", "profiles"), {"GET": ("get_list_profiles", E.get_list_profiles, L)}
    ),
    Route(
        ("api", "lists", "{}", "relationships", "profiles"),
        {
            "GET": ("get_list_profile_ids", E.get_list_profile_ids, L),
            "POST": ("add_profiles_to_list", E.add_list_members, M),
            "DELETE": ("remove_profiles_from_list", E.remove_list_members, M),
        },
    ),
    Route(
        ("api", "profile-bulk-import-jobs"),
        {
            "GET": ("get_bulk_import_jobs", E.get_import_jobs, M),
            "POST": ("bulk_import_profiles", E.create_import_job, M),
        },
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}"),
        {"GET": ("get_bulk_import_job", E.get_import_job, M)},
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}", "import-errors"),
        {"GET": ("get_bulk_import_errors", E.get_import_errors, M)},
    ),
    Route(
        ("api", "profile-bulk-import-jobs", "{}", "relationships", "profiles"),
        {"GET": ("get_bulk_import_profile_ids", E.get_import_profile_ids, M)},
    ),
)
